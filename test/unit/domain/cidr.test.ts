// CIDR parsing and normalisation: every accept/reject case of the reference, plus
// properties (idempotence, containment, zeroed host bits) over random inputs.
import test from 'ava';
import fc from 'fast-check';
import {
  cidrContains,
  maskBytes,
  parseAddress,
  parseCidr,
  parseCidrText,
  tryParseAddress,
  tryParseCidr,
  type Cidr,
} from '../../../src/domain/cidr.js';
import { InvalidArgumentError } from '../../../src/domain/errors.js';

function accepted(input: string): Cidr {
  const result = tryParseCidr(input);
  if (typeof result === 'string') throw new Error(`expected ${JSON.stringify(input)} to be accepted, got: ${result}`);
  return result;
}

/** Independent formatter for a v6 address: eight uncompressed hex groups. */
function fullV6(bytes: readonly number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

/** Independent check: bits beyond the prefix are all zero. */
function hostBitsZero(bytes: Uint8Array, prefixLength: number): boolean {
  for (let bit = prefixLength; bit < bytes.length * 8; bit++) {
    const byte = bytes[bit >> 3] ?? 0;
    if ((byte >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

/** Independent check: the first `prefixLength` bits of a and b are equal. */
function samePrefix(a: readonly number[], b: Uint8Array, prefixLength: number): boolean {
  for (let bit = 0; bit < prefixLength; bit++) {
    const x = ((a[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1;
    const y = ((b[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1;
    if (x !== y) return false;
  }
  return true;
}

// ---------------------------------------------------------------- normalisation

const normalised: ReadonlyArray<[string, string]> = [
  ['192.168.1.200/24', '192.168.1.0/24'],
  ['192.168.1.0/24', '192.168.1.0/24'],
  ['10.1.2.3/8', '10.0.0.0/8'],
  ['255.255.255.255/1', '128.0.0.0/1'],
  ['127.255.255.255/1', '0.0.0.0/1'],
  ['1.1.1.1/32', '1.1.1.1/32'],
  ['192.168.1.255/25', '192.168.1.128/25'],
  ['192.168.1.127/25', '192.168.1.0/25'],
  ['172.31.255.255/12', '172.16.0.0/12'],
  ['2001:db8::1/32', '2001:db8::/32'],
  ['2001:DB8::1/32', '2001:db8::/32'],
  ['2001:0db8:0000:0000:0000:0000:0000:0001/128', '2001:db8::1/128'],
  ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/48', '2001:db8:ffff::/48'],
  ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/1', '8000::/1'],
  ['::1/128', '::1/128'],
  ['0::0/1', '::/1'],
  ['fe80::1:2:3:4/64', 'fe80::/64'],
  ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
  ['2001:db8::abcd/127', '2001:db8::abcc/127'],
];

for (const [input, expected] of normalised) {
  test(`normalises ${input} to ${expected}`, (t) => {
    const cidr = accepted(input);
    t.is(cidr.text, expected);
    t.is(parseCidr(input).text, expected);
  });
}

test('the same network written two ways is the same canonical text and bytes', (t) => {
  const a = accepted('192.168.1.200/24');
  const b = accepted('192.168.1.7/24');
  t.is(a.text, b.text);
  t.deepEqual(Array.from(a.bytes), Array.from(b.bytes));
});

test('family, bytes and prefix length of a v4 CIDR', (t) => {
  const cidr = accepted('192.168.1.200/24');
  t.is(cidr.family, 4);
  t.is(cidr.prefixLength, 24);
  t.deepEqual(Array.from(cidr.bytes), [192, 168, 1, 0]);
});

test('family, bytes and prefix length of a v6 CIDR', (t) => {
  const cidr = accepted('2001:db8::1/32');
  t.is(cidr.family, 6);
  t.is(cidr.prefixLength, 32);
  t.deepEqual(Array.from(cidr.bytes), [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});

// ---------------------------------------------------------------- prefix ranges

test('every v4 prefix from /1 to /32 is valid', (t) => {
  for (let p = 1; p <= 32; p++) {
    const cidr = accepted(`255.255.255.255/${p}`);
    t.is(cidr.prefixLength, p);
    t.true(hostBitsZero(cidr.bytes, p), `/${p}`);
  }
});

test('every v6 prefix from /1 to /128 is valid', (t) => {
  for (let p = 1; p <= 128; p++) {
    const cidr = accepted(`ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/${p}`);
    t.is(cidr.prefixLength, p);
    t.true(hostBitsZero(cidr.bytes, p), `/${p}`);
  }
});

test('v6 prefixes 33..128 are valid for v6 while the v4 limit is 32', (t) => {
  t.is(accepted('2001:db8::/33').prefixLength, 33);
  t.is(accepted('2001:db8::/64').prefixLength, 64);
  t.is(typeof tryParseCidr('10.0.0.0/33'), 'string');
  t.is(typeof tryParseCidr('10.0.0.0/64'), 'string');
});

// ---------------------------------------------------------------- rejections

const rejected: ReadonlyArray<[string, string]> = [
  ['', 'empty string'],
  ['1.2.3.4', 'missing prefix (v4)'],
  ['2001:db8::1', 'missing prefix (v6)'],
  ['1.2.3.4/', 'trailing slash / empty prefix'],
  ['2001:db8::/', 'trailing slash / empty prefix (v6)'],
  ['/24', 'missing address'],
  ['/', 'only a slash'],
  ['1.2.3.4/0', '/0 (v4)'],
  ['::/0', '/0 (v6)'],
  ['1.2.3.4/33', '/33'],
  ['1.2.3.4/128', 'v6-sized prefix on v4'],
  ['2001:db8::/129', '/129'],
  ['2001:db8::/256', '/256'],
  ['1.2.3.4/-1', 'negative prefix'],
  ['1.2.3.4/-24', 'negative prefix'],
  ['2001:db8::/-1', 'negative prefix (v6)'],
  ['1.2.3.4/a', 'non-numeric prefix'],
  ['1.2.3.4/24a', 'non-numeric suffix on prefix'],
  ['1.2.3.4/0x18', 'hex prefix'],
  ['1.2.3.4/1e1', 'exponent prefix'],
  ['1.2.3.4/24.0', 'decimal prefix'],
  ['1.2.3.4/+8', 'plus sign'],
  ['1.2.3.4/\u0663', 'non-ASCII digit'],
  ['1.2.3.4/99999999999999999999', 'huge prefix'],
  ['1.2.3.4/8/', 'trailing slash after prefix'],
  ['1.2.3.4/8/8', 'extra slash'],
  ['1.2.3.4//8', 'double slash'],
  ['2001:db8::/32/', 'trailing slash after prefix (v6)'],
  ['2001:db8::/32/64', 'extra slash (v6)'],
  [' 1.2.3.4/8', 'leading space'],
  ['1.2.3.4/8 ', 'trailing space'],
  ['1.2.3.4 /8', 'space before slash'],
  ['1.2.3.4/ 8', 'space after slash'],
  ['1.2. 3.4/8', 'space inside address'],
  ['\t1.2.3.4/8', 'tab'],
  ['1.2.3.4/8\n', 'newline'],
  ['1.2.3.4/8\r', 'carriage return'],
  ['1.2.3.4\u00a0/8', 'no-break space'],
  [' 2001:db8::/32', 'leading space (v6)'],
  ['2001:db8::/32 ', 'trailing space (v6)'],
  ['2001: db8::/32', 'space inside v6 address'],
  ['fe80::1%eth0/64', 'zone id'],
  ['fe80::1%1/64', 'numeric zone id'],
  ['fe80::1%/64', 'empty zone id'],
  ['1.2.3/24', 'three-part v4'],
  ['1.2/16', 'two-part v4'],
  ['1/8', 'one-part v4'],
  ['16909060/32', 'integer v4'],
  ['01.2.3.4/32', 'leading zero (octal-looking) octet'],
  ['1.2.3.04/32', 'leading zero in last octet'],
  ['1.02.3.4/32', 'leading zero in middle octet'],
  ['0x1.2.3.4/32', 'hex octet'],
  ['1.2.3.256/32', 'octet out of range'],
  ['1.2.3.4.5/32', 'five octets'],
  ['1.2.3.4./32', 'trailing dot'],
  ['.1.2.3.4/32', 'leading dot'],
  ['1..3.4/32', 'empty octet'],
  ['-1.2.3.4/32', 'negative octet'],
  [':::/64', 'triple colon'],
  ['2001:db8:::1/64', 'triple colon inside'],
  ['2001::db8::1/64', 'two ::'],
  ['1:2:3:4:5:6:7:8:9/64', 'nine groups'],
  ['1:2:3:4:5:6:7/64', 'seven groups without ::'],
  ['12345::/16', 'five-digit group'],
  ['g::/16', 'non-hex group'],
  ['::ffff:1.2.3/128', 'mapped with three-part v4'],
  ['::ffff:256.1.2.3/128', 'mapped with octet out of range'],
  ['[2001:db8::1]/128', 'bracketed v6'],
  ['localhost/32', 'host name'],
  ['abc', 'garbage'],
  ['1.2.3.4/8\u0000', 'NUL byte'],
];

for (const [input, why] of rejected) {
  test(`rejects ${JSON.stringify(input)} (${why})`, (t) => {
    const result = tryParseCidr(input);
    t.is(typeof result, 'string', `accepted as ${typeof result === 'string' ? '' : result.text}`);
    const error = t.throws(() => parseCidr(input), { instanceOf: InvalidArgumentError });
    t.is(error?.violations.length, 1);
    t.is(error?.violations[0]?.field, 'cidr');
    t.truthy(error?.violations[0]?.message);
    t.true(error?.message.startsWith('cidr: '));
  });
}

test('rejection reasons say what is wrong', (t) => {
  t.regex(String(tryParseCidr('')), /empty/);
  t.regex(String(tryParseCidr('1.2.3.4')), /prefix/);
  t.regex(String(tryParseCidr('1.2.3.4/8/8')), /\//);
  t.regex(String(tryParseCidr(' 1.2.3.4/8')), /whitespace/);
  t.regex(String(tryParseCidr('1.2.3.4/33')), /1-32/);
  t.regex(String(tryParseCidr('::/129')), /1-128/);
  t.regex(String(tryParseCidr('1.2.3.4/x')), /prefix/);
  t.regex(String(tryParseCidr('fe80::1%eth0/64')), /zone/);
  t.regex(String(tryParseCidr('1.2.3/24')), /1\.2\.3/);
});

test('parseCidr names the field it was given', (t) => {
  const error = t.throws(() => parseCidr('nope', 'rules[3].cidr'), { instanceOf: InvalidArgumentError });
  t.is(error?.violations[0]?.field, 'rules[3].cidr');
  t.regex(error?.message ?? '', /^rules\[3\]\.cidr: /);
});

// ---------------------------------------------------------------- IPv4-mapped IPv6

test('IPv4-mapped IPv6 ::ffff:1.2.3.4/128 is accepted as IPv6', (t) => {
  const cidr = accepted('::ffff:1.2.3.4/128');
  t.is(cidr.family, 6);
  t.is(cidr.prefixLength, 128);
  t.is(cidr.text, '::ffff:1.2.3.4/128');
  t.deepEqual(Array.from(cidr.bytes), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]);
});

test('IPv4-mapped IPv6 in hex form normalises to the dotted form', (t) => {
  t.is(accepted('::ffff:102:304/128').text, '::ffff:1.2.3.4/128');
  t.is(accepted('::FFFF:1.2.3.4/128').text, '::ffff:1.2.3.4/128');
});

test('IPv4-mapped IPv6 is masked like any IPv6', (t) => {
  t.is(accepted('::ffff:192.168.1.1/120').text, '::ffff:192.168.1.0/120');
  t.is(accepted('::ffff:1.2.3.4/96').text, '::ffff:0.0.0.0/96');
  t.is(accepted('::ffff:1.2.3.4/80').text, '::/80');
});

test('IPv4-mapped IPv6 and plain IPv4 are different keys', (t) => {
  const mapped = accepted('::ffff:1.2.3.4/128');
  const plain = accepted('1.2.3.4/32');
  t.not(mapped.text, plain.text);
  t.not(mapped.family, plain.family);
});

// "::a.b.c.d" (an IPv6 address whose last 32 bits are written dotted, RFC 4291 2.2
// form 3) is not IPv4-mapped: "::0.0.0.1" is ::1, "::1.2.3.4" is ::102:304 (ipaddr.js
// 2.5 alone reads them as ::ffff:a.b.c.d; cidr.ts parses the quad itself).
test('"::1.2.3.4/128" is ::102:304, not ::ffff:1.2.3.4', (t) => {
  t.is(accepted('::1.2.3.4/128').text, '::102:304/128');
});

test('"::0.0.0.1/128" is the same network as "::1/128"', (t) => {
  t.is(accepted('::0.0.0.1/128').text, accepted('::1/128').text);
});

test('an embedded dotted quad after a non-zero prefix is parsed right', (t) => {
  t.is(accepted('64:ff9b::1.2.3.4/128').text, '64:ff9b::102:304/128');
  t.is(accepted('1::1.2.3.4/128').text, '1::102:304/128');
});

// "01.2.3.4" is refused as v4 (octal-looking), and so is the same quad inside IPv6.
test('leading-zero octet inside ::ffff:01.2.3.4 is refused like 01.2.3.4', (t) => {
  t.is(typeof tryParseCidr('::ffff:01.2.3.4/128'), 'string');
});

// ---------------------------------------------------------------- addresses

test('parseAddress accepts single v4 and v6 addresses', (t) => {
  const v4 = parseAddress('192.168.0.10');
  t.is(v4.family, 4);
  t.is(v4.text, '192.168.0.10');
  t.deepEqual(Array.from(v4.bytes), [192, 168, 0, 10]);
  const v6 = parseAddress('2001:DB8::0001');
  t.is(v6.family, 6);
  t.is(v6.text, '2001:db8::1');
  t.is(parseAddress('::ffff:1.2.3.4').text, '::ffff:1.2.3.4');
});

for (const input of ['', ' 1.2.3.4', '1.2.3.4 ', '1.2.3', '01.2.3.4', '1.2.3.4/32', 'fe80::1%eth0', '::g', 'x']) {
  test(`parseAddress rejects ${JSON.stringify(input)}`, (t) => {
    t.is(typeof tryParseAddress(input), 'string');
    const error = t.throws(() => parseAddress(input), { instanceOf: InvalidArgumentError });
    t.is(error?.violations[0]?.field, 'address');
  });
}

test('parseAddress names the field it was given', (t) => {
  const error = t.throws(() => parseAddress('nope', 'ip'), { instanceOf: InvalidArgumentError });
  t.is(error?.violations[0]?.field, 'ip');
});

// ---------------------------------------------------------------- helpers

test('maskBytes keeps prefix bits and zeroes the rest without touching its input', (t) => {
  const input = Uint8Array.from([0xff, 0xff, 0xff, 0xff]);
  t.deepEqual(Array.from(maskBytes(input, 0)), [0, 0, 0, 0]);
  t.deepEqual(Array.from(maskBytes(input, 1)), [0x80, 0, 0, 0]);
  t.deepEqual(Array.from(maskBytes(input, 12)), [0xff, 0xf0, 0, 0]);
  t.deepEqual(Array.from(maskBytes(input, 25)), [0xff, 0xff, 0xff, 0x80]);
  t.deepEqual(Array.from(maskBytes(input, 32)), [0xff, 0xff, 0xff, 0xff]);
  t.deepEqual(Array.from(input), [0xff, 0xff, 0xff, 0xff]);
});

test('cidrContains: inside, outside, edges and other family', (t) => {
  const net = parseCidr('192.168.0.0/24');
  t.true(cidrContains(net, parseAddress('192.168.0.0')));
  t.true(cidrContains(net, parseAddress('192.168.0.255')));
  t.false(cidrContains(net, parseAddress('192.168.1.0')));
  t.false(cidrContains(net, parseAddress('192.167.255.255')));
  t.false(cidrContains(net, parseAddress('::ffff:192.168.0.1')));
  const v6 = parseCidr('2001:db8::/32');
  t.true(cidrContains(v6, parseAddress('2001:db8:ffff::1')));
  t.false(cidrContains(v6, parseAddress('2001:db9::1')));
  t.false(cidrContains(v6, parseAddress('192.168.0.1')));
});

// ---------------------------------------------------------------- properties

const v4Bytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
const v6Bytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 });

test('property: v4 normalisation is idempotent, contains the address, zeroes host bits', (t) => {
  fc.assert(
    fc.property(v4Bytes, fc.integer({ min: 1, max: 32 }), (bytes, prefix) => {
      const input = `${bytes.join('.')}/${prefix}`;
      const once = accepted(input);
      const twice = accepted(once.text);
      if (twice.text !== once.text) return false;
      if (once.family !== 4 || once.prefixLength !== prefix || once.bytes.length !== 4) return false;
      if (!hostBitsZero(once.bytes, prefix)) return false;
      if (!samePrefix(bytes, once.bytes, prefix)) return false;
      return cidrContains(once, parseAddress(bytes.join('.')));
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('property: v6 normalisation is idempotent, contains the address, zeroes host bits', (t) => {
  fc.assert(
    fc.property(v6Bytes, fc.integer({ min: 1, max: 128 }), (bytes, prefix) => {
      const address = fullV6(bytes);
      const once = accepted(`${address}/${prefix}`);
      const twice = accepted(once.text);
      if (twice.text !== once.text) return false;
      if (once.family !== 6 || once.prefixLength !== prefix || once.bytes.length !== 16) return false;
      if (!hostBitsZero(once.bytes, prefix)) return false;
      if (!samePrefix(bytes, once.bytes, prefix)) return false;
      return cidrContains(once, parseAddress(address));
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('property: any textual v4/v6 form fast-check generates normalises idempotently', (t) => {
  const address = fc.oneof(
    fc.ipV4().map((a) => [a, 32] as const),
    fc.ipV6().map((a) => [a, 128] as const),
  );
  fc.assert(
    fc.property(address, fc.integer({ min: 1, max: 128 }), ([text, max], p) => {
      const prefix = ((p - 1) % max) + 1;
      const once = accepted(`${text}/${prefix}`);
      const twice = accepted(once.text);
      return (
        twice.text === once.text &&
        hostBitsZero(once.bytes, prefix) &&
        cidrContains(once, parseAddress(text))
      );
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('property: random strings never throw from tryParseCidr and parseCidr only throws InvalidArgumentError', (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60, unit: 'grapheme-ascii' }), (input) => {
      const result = tryParseCidr(input);
      try {
        const parsed = parseCidr(input);
        return typeof result !== 'string' && parsed.text === result.text;
      } catch (error) {
        return typeof result === 'string' && error instanceof InvalidArgumentError;
      }
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('property: accepted CIDR texts only ever contain canonical characters', (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 45, unit: fc.constantFrom(...'0123456789abcdefABCDEF.:/% -') }), (input) => {
      const result = tryParseCidr(input);
      if (typeof result === 'string') return true;
      return /^[0-9a-f.:]+\/[0-9]{1,3}$/.test(result.text) && accepted(result.text).text === result.text;
    }),
    { numRuns: 5000 },
  );
  t.pass();
});

test('issue 14: an overlong address or CIDR is refused before parsing, quoting only a short prefix', (t) => {
  const long = `1:${'1:'.repeat(50_000)}`;
  for (const result of [tryParseAddress(long), tryParseCidr(`${long}/64`)]) {
    t.is(typeof result, 'string');
    const message = result as string;
    t.regex(message, /^must be at most 64 characters \(got \d+: "1:1:1:/);
    t.true(message.length < 200, message);
  }
  const bad = tryParseAddress('x'.repeat(60));
  t.true((bad as string).length < 120);
  t.regex(bad as string, /\(60 characters\) is not a valid IPv4 address/);
});

test('property: the character-scanning fast path answers exactly what the general parser answers', (t) => {
  // Valid forms of every family and prefix, and the same texts with one character changed
  // (leading zeros, stray separators, out-of-range octets, letters), so both sides of each check are hit.
  const alphabet = fc.constantFrom(...'0123456789abcdefABCDEFgx.:/% '.split(''));
  const valid = fc.oneof(
    fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 40 })).map(([a, p]) => `${a}/${p}`),
    fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 140 })).map(([a, p]) => `${a}/${p}`),
    fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 40 })).map(([a, p]) => `${a}/0${p}`),
  );
  const mutated = fc.tuple(valid, fc.nat(), alphabet).map(([text, at, c]) => {
    const i = at % (text.length + 1);
    return text.slice(0, i) + c + text.slice(i + 1);
  });
  const samples = ['::/1', '::1/128', '1::/16', '1:/16', ':1/16', '1:::2/64', '::ffff:102:304/128', 'FFFF::/16', '00.1.2.3/32', '1.2.3.4/33', '256.1.1.1/8', '1.2.3/24', '1.2.3.4.5/32'];
  for (const input of samples) t.deepEqual(tryParseCidr(input), parseCidrText(input), input);
  fc.assert(
    fc.property(fc.oneof(valid, mutated), (input) => {
      t.deepEqual(tryParseCidr(input), parseCidrText(input), input);
    }),
    { numRuns: 5000 },
  );
});
