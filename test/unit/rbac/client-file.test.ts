import test from 'ava';
import { formatClientFile, isUuidV4, parseClientFile } from '../../../src/rbac/client-file.js';

const TOKEN = 'bbfa1388-3218-463c-9722-6805507c14bb';

test('parses the documented client file format', (t) => {
  const parsed = parseClientFile(`name = "couicctl"\ngroup = "admin"\ntoken = "${TOKEN}"\n`, 'couicctl');
  t.deepEqual(parsed, { name: 'couicctl', group: 'admin', token: TOKEN });
});

test('format then parse round-trips', (t) => {
  const client = { name: 'bot-1', group: 'clientro' as const, token: TOKEN };
  t.deepEqual(parseClientFile(formatClientFile(client), 'bot-1'), client);
});

const refusals: Array<[string, string, string, RegExp]> = [
  ['truncated TOML', 'name = "a"\ngroup = ', 'a', /not valid TOML/],
  ['missing name', `group = "admin"\ntoken = "${TOKEN}"`, 'a', /"name" is missing/],
  ['missing group', `name = "a"\ntoken = "${TOKEN}"`, 'a', /"group" is missing/],
  ['missing token', 'name = "a"\ngroup = "admin"', 'a', /"token" is missing/],
  ['non-string name', `name = 3\ngroup = "admin"\ntoken = "${TOKEN}"`, 'a', /"name" is missing or not a string/],
  ['name with a space', `name = "a b"\ngroup = "admin"\ntoken = "${TOKEN}"`, 'a b', /"name" may only contain/],
  ['name over 48 chars', `name = "${'x'.repeat(49)}"\ngroup = "admin"\ntoken = "${TOKEN}"`, 'x'.repeat(49), /at most 48/],
  ['unknown group', `name = "a"\ngroup = "root"\ntoken = "${TOKEN}"`, 'a', /must be one of admin, clientrw, clientro, peering, monitoring/],
  ['token not a UUID', 'name = "a"\ngroup = "admin"\ntoken = "not-a-uuid"', 'a', /UUID v4/],
  // UUID v1 (version nibble 1) is not a v4 token.
  ['UUID v1 token', 'name = "a"\ngroup = "admin"\ntoken = "bbfa1388-3218-163c-9722-6805507c14bb"', 'a', /UUID v4/],
  ['name differing from file name', `name = "b"\ngroup = "admin"\ntoken = "${TOKEN}"`, 'a', /file is named "a.toml"/],
];
for (const [label, text, fileName, expected] of refusals) {
  test(`refuses a client file with ${label}`, (t) => {
    const parsed = parseClientFile(text, fileName);
    t.is(typeof parsed, 'string');
    t.regex(String(parsed), expected);
  });
}

test('isUuidV4 accepts crypto.randomUUID output and rejects near misses', (t) => {
  t.true(isUuidV4(crypto.randomUUID()));
  t.true(isUuidV4(TOKEN.toUpperCase()));
  t.false(isUuidV4(`${TOKEN} `));
  t.false(isUuidV4(TOKEN.replaceAll('-', '')));
  t.false(isUuidV4('bbfa1388-3218-463c-c722-6805507c14bb')); // variant nibble must be 8-b
});
