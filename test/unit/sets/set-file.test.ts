import test from 'ava';
import { formatSetFile, parseSetFile } from '../../../src/sets/set-file.js';

const origin = { policy: 'drop' as const, name: 'bogons' };
const texts = (text: string): string[] => parseSetFile(text, origin).cidrs.map((c) => c.text);

test('one CIDR per line; whole-line and trailing comments, blank lines ignored', (t) => {
  const parsed = parseSetFile(
    ['# bogons', '', '10.0.0.0/8', '   ', '\t172.16.0.0/12  # private', '#192.0.2.0/24', '192.168.0.0/16#x', ''].join('\n'),
    origin,
  );
  t.deepEqual(
    parsed.cidrs.map((c) => c.text),
    ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
  );
  t.deepEqual(parsed.errors, []);
  t.is(parsed.policy, 'drop');
  t.is(parsed.name, 'bogons');
});

test('normalises to the network address', (t) => {
  t.deepEqual(texts('192.168.1.200/24\n2001:db8::1/32\n'), ['192.168.1.0/24', '2001:db8::/32']);
});

test('IPv6 and IPv4-mapped IPv6 lines are accepted', (t) => {
  t.deepEqual(texts('2001:DB8:0:0::/48\n::ffff:1.2.3.4/128\nfe80::/10'), [
    '2001:db8::/48',
    '::ffff:1.2.3.4/128',
    'fe80::/10',
  ]);
  const parsed = parseSetFile('2001:db8::/48', origin);
  t.is(parsed.cidrs[0]?.family, 6);
  t.is(parsed.cidrs[0]?.prefixLength, 48);
});

test('duplicates are folded after normalisation, first occurrence order kept', (t) => {
  t.deepEqual(texts('10.0.0.0/8\n192.168.1.7/24\n10.1.2.3/8\n192.168.1.0/24\n2001:db8::/32\n2001:db8:0::1/32'), [
    '10.0.0.0/8',
    '192.168.1.0/24',
    '2001:db8::/32',
  ]);
});

test('CRLF line endings and a UTF-8 BOM are tolerated', (t) => {
  t.deepEqual(texts('\uFEFF10.0.0.0/8\r\n# c\r\n11.0.0.0/8\r\n'), ['10.0.0.0/8', '11.0.0.0/8']);
});

test('bad lines are reported with their 1-based line number and the reason', (t) => {
  const parsed = parseSetFile(
    ['10.0.0.0/8', '1.2.3.4', '# ok', '1.2.3.0/33', 'not-an-ip/8', '1.2.3.4/24 5.6.7.8/32', '2001:db8::/129', '1.2.3.4//8'].join(
      '\n',
    ),
    origin,
  );
  t.deepEqual(
    parsed.cidrs.map((c) => c.text),
    ['10.0.0.0/8'],
  );
  t.deepEqual(
    parsed.errors.map((e) => e.line),
    [2, 4, 5, 6, 7, 8],
  );
  t.regex(parsed.errors[0]?.message ?? '', /"1\.2\.3\.4": missing prefix/);
  t.regex(parsed.errors[1]?.message ?? '', /out of range 1-32/);
  t.regex(parsed.errors[3]?.message ?? '', /whitespace/);
  t.regex(parsed.errors[4]?.message ?? '', /out of range 1-128/);
});

test('an empty or comment-only file is a valid empty set', (t) => {
  t.deepEqual(parseSetFile('', origin), { policy: 'drop', name: 'bogons', cidrs: [], errors: [] });
  t.deepEqual(texts('# nothing yet\n\n'), []);
});

test('formatSetFile writes a header and one CIDR per line that parses back', (t) => {
  const cidrs = parseSetFile('10.0.0.0/8\n2001:db8::/32', origin).cidrs;
  const text = formatSetFile(origin, cidrs);
  t.true(text.startsWith('# couic static set "bogons" (policy drop)'));
  t.true(text.endsWith('10.0.0.0/8\n2001:db8::/32\n'));
  t.deepEqual(parseSetFile(text, origin), { policy: 'drop', name: 'bogons', cidrs, errors: [] });
});
