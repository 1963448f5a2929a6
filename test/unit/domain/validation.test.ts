// Tag, name and expiration validation exactly as the reference states it.
import test from 'ava';
import fc from 'fast-check';
import {
  checkExpiration,
  checkName,
  checkTag,
  MAX_NAME_LENGTH,
  MAX_TAG_LENGTH,
  SET_TAG_SUFFIX,
  setTag,
} from '../../../src/domain/validation.js';

const VALID_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-';

// ---------------------------------------------------------------- tags

test('limits are the reference ones', (t) => {
  t.is(MAX_TAG_LENGTH, 64);
  t.is(MAX_NAME_LENGTH, 48);
  t.is(SET_TAG_SUFFIX, '.couic');
});

test('empty tag is allowed (no tag)', (t) => {
  t.is(checkTag(''), undefined);
});

test('tag of 64 characters is allowed, 65 is not', (t) => {
  t.is(checkTag('a'.repeat(64)), undefined);
  t.is(checkTag('Z9_-'.repeat(16)), undefined);
  t.regex(checkTag('a'.repeat(65)) ?? '', /64/);
  t.truthy(checkTag('a'.repeat(1000)));
});

for (const tag of ['test', 'a', 'A', '0', '_', '-', 'scanner-2024_v1', 'ABC-def_123', VALID_CHARS.slice(0, 64)]) {
  test(`tag ${JSON.stringify(tag)} is allowed`, (t) => {
    t.is(checkTag(tag), undefined);
  });
}

for (const tag of [
  'with space',
  ' lead',
  'trail ',
  'tab\t',
  'dot.ted',
  'slash/x',
  'colon:x',
  'star*',
  'comma,x',
  'caf\u00e9',
  '\u00e9',
  'emoji\u{1F600}',
  'nul\u0000',
  'new\nline',
  'quote"',
  'semi;colon',
  'plus+',
  'at@',
  '\u0663', // Arabic-Indic digit
]) {
  test(`tag ${JSON.stringify(tag)} is refused (charset)`, (t) => {
    t.truthy(checkTag(tag));
  });
}

for (const tag of ['bogons.couic', 'x.COUIC', 'x.Couic', 'x.cOuIc', '.couic', 'a-b_c.couic']) {
  test(`tag ${JSON.stringify(tag)} is refused (reserved .couic suffix, any case)`, (t) => {
    t.regex(checkTag(tag) ?? '', /\.couic/);
  });
}

for (const tag of ['untagged', 'UNTAGGED', 'Untagged', 'unTAGged']) {
  test(`tag ${JSON.stringify(tag)} is refused (reserved, any case)`, (t) => {
    t.regex(checkTag(tag) ?? '', /untagged/i);
  });
}

test('words around "untagged" are ordinary tags', (t) => {
  t.is(checkTag('untagged2'), undefined);
  t.is(checkTag('my-untagged'), undefined);
  t.is(checkTag('untag'), undefined);
});

test('"couic" without the dot is an ordinary tag', (t) => {
  t.is(checkTag('couic'), undefined);
  t.is(checkTag('xcouic'), undefined);
  t.is(checkTag('x-couic'), undefined);
});

test('property: a tag is valid iff it is empty, or 1-64 chars of [A-Za-z0-9_-] and not "untagged"', (t) => {
  const anyChar = fc.constantFrom(...(VALID_CHARS + ' .:/*\u00e9\t'));
  fc.assert(
    fc.property(fc.string({ maxLength: 80, unit: anyChar }), (tag) => {
      const expectedValid =
        tag === '' || (tag.length <= 64 && /^[A-Za-z0-9_-]+$/.test(tag) && tag.toLowerCase() !== 'untagged');
      return (checkTag(tag) === undefined) === expectedValid;
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

// ---------------------------------------------------------------- names

test('name of 48 characters is allowed, 49 is not', (t) => {
  t.is(checkName('n'.repeat(48)), undefined);
  t.regex(checkName('n'.repeat(49)) ?? '', /48/);
});

test('empty name is refused', (t) => {
  t.truthy(checkName(''));
});

for (const name of ['couicctl', 'couic2', 'bogons', 'A', '_', '-', 'peer_1-b', VALID_CHARS.slice(0, 48)]) {
  test(`name ${JSON.stringify(name)} is allowed`, (t) => {
    t.is(checkName(name), undefined);
  });
}

for (const name of ['a b', ' a', 'a ', 'a.b', 'a/b', '../etc', '.', '..', 'bogons.couic', 'caf\u00e9', 'a\u0000', 'a\n']) {
  test(`name ${JSON.stringify(name)} is refused`, (t) => {
    t.truthy(checkName(name));
  });
}

test('property: a name is valid iff it is 1-48 chars of [A-Za-z0-9_-]', (t) => {
  const anyChar = fc.constantFrom(...(VALID_CHARS + ' ./\\\u00e9'));
  fc.assert(
    fc.property(fc.string({ maxLength: 60, unit: anyChar }), (name) => {
      const expectedValid = name.length >= 1 && name.length <= 48 && /^[A-Za-z0-9_-]+$/.test(name);
      return (checkName(name) === undefined) === expectedValid;
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

// ---------------------------------------------------------------- expiration

const NOW = 1_700_000_000;

test('expiration 0 means never and is allowed', (t) => {
  t.is(checkExpiration(0, NOW), undefined);
});

test('expiration in the future is allowed', (t) => {
  t.is(checkExpiration(NOW + 1, NOW), undefined);
  t.is(checkExpiration(NOW + 60, NOW), undefined);
  t.is(checkExpiration(NOW + 10 * 365 * 86400, NOW), undefined);
});

test('expiration now or in the past is refused', (t) => {
  t.regex(checkExpiration(NOW, NOW) ?? '', /future/);
  t.regex(checkExpiration(NOW - 1, NOW) ?? '', /future/);
  t.truthy(checkExpiration(1, NOW));
});

test('negative expiration is refused', (t) => {
  t.truthy(checkExpiration(-1, NOW));
  t.truthy(checkExpiration(-NOW, NOW));
  t.truthy(checkExpiration(Number.MIN_SAFE_INTEGER, NOW));
});

test('non-integer expiration is refused', (t) => {
  t.truthy(checkExpiration(NOW + 0.5, NOW));
  t.truthy(checkExpiration(NOW + 100.25, NOW));
  t.truthy(checkExpiration(Number.NaN, NOW));
  t.truthy(checkExpiration(Number.POSITIVE_INFINITY, NOW));
  t.truthy(checkExpiration(Number.NEGATIVE_INFINITY, NOW));
  t.truthy(checkExpiration(Number.MAX_SAFE_INTEGER + 2, NOW));
});

test('property: expiration valid iff 0 or an integer strictly after now', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.integer({ min: 0, max: 2_000_000_000 }), (delta, now) => {
      const expiration = delta === 0 ? 0 : now + delta;
      const expectedValid = expiration === 0 || expiration > now;
      return (checkExpiration(expiration, now) === undefined) === expectedValid;
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

// ---------------------------------------------------------------- set tags

test('setTag appends .couic and the result is refused as a user tag', (t) => {
  t.is(setTag('bogons'), 'bogons.couic');
  t.truthy(checkTag(setTag('bogons')));
});
