// Tag filters of `list -t`: '*' wildcards, "untagged", literal regex metacharacters,
// and "no pattern = everything".
import test from 'ava';
import fc from 'fast-check';
import { compileTagFilter } from '../../../src/store/tag-filter.js';

test('no patterns (or only blank ones) match every tag, including the empty one', (t) => {
  for (const patterns of [[], [''], ['  ', '']]) {
    const m = compileTagFilter(patterns);
    t.true(m(''));
    t.true(m('anything'));
    t.true(m('bogons.couic'));
  }
});

test('a plain pattern is an exact, whole-tag, case-sensitive match', (t) => {
  const m = compileTagFilter(['scanner']);
  t.true(m('scanner'));
  t.false(m('scanners'));
  t.false(m('my-scanner'));
  t.false(m('Scanner'));
  t.false(m(''));
});

test('surrounding whitespace in a pattern is ignored', (t) => {
  const m = compileTagFilter(['  scanner ']);
  t.true(m('scanner'));
});

test('* matches any run of characters, including none, anywhere in the pattern', (t) => {
  const prefix = compileTagFilter(['ssh*']);
  t.true(prefix('ssh'));
  t.true(prefix('ssh-brute'));
  t.false(prefix('xssh'));
  const suffix = compileTagFilter(['*.couic']);
  t.true(suffix('bogons.couic'));
  t.true(suffix('.couic'));
  t.false(suffix('bogons.couicx'));
  const middle = compileTagFilter(['a*b*c']);
  t.true(middle('abc'));
  t.true(middle('a-x-b-y-c'));
  t.false(middle('acb'));
  const star = compileTagFilter(['*']);
  t.true(star(''));
  t.true(star('x'));
});

test('"untagged" (any case) selects only entries without a tag', (t) => {
  for (const p of ['untagged', 'UNTAGGED', 'Untagged']) {
    const m = compileTagFilter([p]);
    t.true(m(''));
    t.false(m('untagged'));
    t.false(m('x'));
  }
});

test('several patterns are OR-ed', (t) => {
  const m = compileTagFilter(['untagged', 'ssh*', 'web']);
  t.true(m(''));
  t.true(m('ssh-1'));
  t.true(m('web'));
  t.false(m('webx'));
  t.false(m('other'));
});

test('regex metacharacters in patterns are literal', (t) => {
  // '.' must not match any character.
  const dot = compileTagFilter(['a.c']);
  t.true(dot('a.c'));
  t.false(dot('abc'));
  for (const literal of ['a+', 'a?', '(x)', '[ab]', '{2}', 'a|b', '^a', 'a$', 'back\\slash']) {
    const m = compileTagFilter([literal]);
    t.true(m(literal), literal);
  }
  t.false(compileTagFilter(['a+'])('aa'));
  t.false(compileTagFilter(['a?'])('a'));
  t.false(compileTagFilter(['[ab]'])('a'));
  t.false(compileTagFilter(['a|b'])('a'));
  t.false(compileTagFilter(['(x)'])('x'));
  t.false(compileTagFilter(['a{2}'])('aa'));
});

test('property: a pattern without * matches exactly itself', (t) => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 12 }).filter((s) => !s.includes('*') && s.trim() === s && s !== '' && s.toLowerCase() !== 'untagged'),
      fc.string({ maxLength: 12 }),
      (pattern, tag) => compileTagFilter([pattern])(tag) === (tag === pattern),
    ),
    { numRuns: 500 },
  );
  t.pass();
});

test('property: prefix* matches exactly the tags starting with prefix', (t) => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 8 }).filter((s) => !s.includes('*') && s.trim() === s && s !== ''),
      fc.string({ maxLength: 12 }),
      (prefix, tag) => compileTagFilter([`${prefix}*`])(tag) === tag.startsWith(prefix),
    ),
    { numRuns: 500 },
  );
  t.pass();
});
