import test from 'ava';
import fc from 'fast-check';
import { checkTagPatterns, compileTagPattern, MAX_TAG_PATTERN_LENGTH, MAX_TAG_PATTERNS } from '../../../src/domain/tag-pattern.js';

/** The backtracking reference the linear matcher replaces (only used on small inputs here). */
function reference(pattern: string, tag: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(tag);
}

test('agrees with the regular-expression semantics on random patterns and tags', (t) => {
  const alphabet = fc.constantFrom('a', 'b', '*', '-');
  fc.assert(
    fc.property(fc.string({ unit: alphabet, maxLength: 12 }), fc.string({ unit: fc.constantFrom('a', 'b', '-'), maxLength: 16 }), (pattern, tag) => {
      return compileTagPattern(pattern)(tag) === reference(pattern, tag);
    }),
    { seed: 14, numRuns: 20_000 },
  );
  t.pass();
});

test('the exponential-backtracking pattern of issue 14 answers correctly', (t) => {
  const matcher = compileTagPattern('*a*a*a*a*a*a*a*a*a*a*a*a*b');
  t.false(matcher('a'.repeat(64)));
  t.true(matcher(`${'a'.repeat(63)}b`));
  t.false(matcher(`${'a'.repeat(11)}b`));
  t.true(matcher(`${'a'.repeat(12)}b`));
});

test('prefix, suffix and exact pieces', (t) => {
  t.true(compileTagPattern('web-*')('web-1'));
  t.false(compileTagPattern('web-*')('xweb-1'));
  t.true(compileTagPattern('*-prod')('db-prod'));
  t.true(compileTagPattern('a*a')('aa'));
  t.false(compileTagPattern('a*a')('a'));
  t.true(compileTagPattern('exact')('exact'));
  t.false(compileTagPattern('exact')('exact2'));
  t.true(compileTagPattern('***')(''));
});

test('pattern lists are bounded in count and length', (t) => {
  t.is(checkTagPatterns(['a*', 'b']), undefined);
  t.regex(checkTagPatterns(['x'.repeat(MAX_TAG_PATTERN_LENGTH + 1)]) ?? '', /at most 128 characters/);
  t.regex(checkTagPatterns(Array.from({ length: MAX_TAG_PATTERNS + 1 }, () => 'a')) ?? '', /at most 64 patterns/);
});
