// Domain-suffix normalisation, validation and longest-suffix matching.
import test from 'ava';
import fc from 'fast-check';
import {
  DomainSuffixMatcher,
  MAX_LABEL_OCTETS,
  MAX_NAME_OCTETS,
  parseDomainSuffix,
  suffixCovers,
  tryParseDomainSuffix,
  type DomainSuffix,
} from '../../../src/domain/domain-suffix.js';
import { InvalidArgumentError } from '../../../src/domain/errors.js';

const text = (input: string): string => {
  const parsed = tryParseDomainSuffix(input);
  return typeof parsed === 'string' ? `error: ${parsed}` : parsed.text;
};
const ok = (input: string): DomainSuffix => parseDomainSuffix(input);

test('normalises case and the trailing dot', (t) => {
  t.is(text('Example.COM'), 'example.com');
  t.is(text('example.com.'), 'example.com');
  t.is(text('A.b.C.'), 'a.b.c');
});

test('IDNA names become their ASCII form; ASCII punycode input stays as is', (t) => {
  t.is(text('Bücher.example'), 'xn--bcher-kva.example');
  t.is(text('XN--BCHER-KVA.example'), 'xn--bcher-kva.example');
  t.is(text('_dmarc.münchen.de'), '_dmarc.xn--mnchen-3ya.de');
  t.regex(text('xn--zz.example'), /^error: is not a valid internationalised/);
});

test('letters, digits, hyphens and underscores only', (t) => {
  t.is(text('_srv._tcp.example'), '_srv._tcp.example');
  t.is(text('a-1.example'), 'a-1.example');
  t.regex(text('a*b.example'), /^error: label "a\*b" may only contain/);
  t.regex(text('a/b.example'), /^error: label/);
  t.regex(text('a b'), /whitespace/);
});

test('empty input, the root and empty labels are rejected', (t) => {
  t.is(text(''), 'error: is empty');
  t.regex(text('.'), /root/);
  t.regex(text('a..b'), /empty label/);
  t.regex(text('.a.b'), /must not start/);
  t.regex(text('a.b..'), /empty label/);
});

test('labels of 1-63 octets, 253 octets in all', (t) => {
  t.is(MAX_LABEL_OCTETS, 63);
  t.is(MAX_NAME_OCTETS, 253);
  t.is(text(`${'a'.repeat(63)}.example`), `${'a'.repeat(63)}.example`);
  t.regex(text(`${'a'.repeat(64)}.example`), /longer than 63 octets/);
  // 4 labels of 63 + 3 dots = 255 > 253; 3 x 63 + 61 + 3 dots = 253 exactly.
  const at253 = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.');
  t.is(at253.length, 253);
  t.is(text(at253), at253);
  t.is(text(`${at253}.`), at253, 'the trailing dot does not count');
  t.regex(text(`e.${at253}`), /longer than 253 octets \(255\)/);
  // The limit applies to the ASCII form: 60 "ü" become a much longer punycode label.
  t.regex(text(`${'ü'.repeat(60)}.example`), /longer than 63 octets|not a valid/);
});

test('parseDomainSuffix throws a field-level InvalidArgumentError', (t) => {
  const error = t.throws(() => parseDomainSuffix('a..b', 'rules[3].domain'), { instanceOf: InvalidArgumentError });
  t.deepEqual(error?.violations, [{ field: 'rules[3].domain', message: 'has an empty label ("..")' }]);
});

test('normalisation is idempotent (property)', (t) => {
  const label = fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/);
  fc.assert(
    fc.property(fc.array(label, { minLength: 1, maxLength: 6 }), fc.boolean(), (labels, dot) => {
      const once = text(labels.join('.') + (dot ? '.' : ''));
      if (once.startsWith('error:')) return true;
      return text(once) === once && once === once.toLowerCase() && !once.endsWith('.');
    }),
  );
  t.pass();
});

test('a suffix covers itself and names below it, label-wise', (t) => {
  t.true(suffixCovers(ok('attack.example'), ok('x.attack.example')));
  t.true(suffixCovers(ok('attack.example'), ok('attack.example')));
  t.false(suffixCovers(ok('attack.example'), ok('attack.example.org')));
  t.false(suffixCovers(ok('attack.example'), ok('xattack.example')), 'not a string suffix match');
  t.false(suffixCovers(ok('a.attack.example'), ok('attack.example')));
});

test('matcher returns the longest suffix first', (t) => {
  const m = new DomainSuffixMatcher<string>();
  m.set(ok('example'), 'tld');
  m.set(ok('attack.example'), 'drop');
  m.set(ok('ok.attack.example'), 'ignore');
  t.is(m.size, 3);
  t.deepEqual(m.longestMatch(ok('a.b.ok.attack.example')), { suffix: 'ok.attack.example', value: 'ignore' });
  t.deepEqual(m.longestMatch(ok('x.attack.example')), { suffix: 'attack.example', value: 'drop' });
  t.deepEqual(m.longestMatch(ok('other.example')), { suffix: 'example', value: 'tld' });
  t.is(m.longestMatch(ok('attack.example.org')), undefined);
  t.true(m.delete(ok('attack.example')));
  t.false(m.delete(ok('attack.example')));
  t.is(m.size, 2);
  t.deepEqual(m.longestMatch(ok('x.attack.example')), { suffix: 'example', value: 'tld' });
  t.deepEqual(m.longestMatch(ok('y.ok.attack.example')), { suffix: 'ok.attack.example', value: 'ignore' });
});

test('matcher agrees with a linear scan (property)', (t) => {
  const label = fc.constantFrom('a', 'b', 'c', 'xn--bcher-kva');
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ok(ls.join('.')));
  fc.assert(
    fc.property(fc.array(name, { maxLength: 12 }), name, (suffixes, query) => {
      const m = new DomainSuffixMatcher<string>();
      for (const s of suffixes) m.set(s, s.text);
      let best: DomainSuffix | undefined;
      for (const s of suffixes) {
        if (suffixCovers(s, query) && (best === undefined || s.labelsFromRoot.length > best.labelsFromRoot.length)) best = s;
      }
      return (m.longestMatch(query)?.value ?? null) === (best?.text ?? null);
    }),
  );
  t.pass();
});
