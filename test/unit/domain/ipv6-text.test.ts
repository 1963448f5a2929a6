// The IPv6 fast path against ipaddr.js, which it replaces for plain text forms: the
// same bytes for everything it accepts, nothing accepted that ipaddr.js refuses, and
// RFC 5952 output identical to ipaddr.js's.
import test from 'ava';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { formatIpv6, parsePlainIpv6 } from '../../../src/domain/ipv6-text.js';

/** 16 bytes with long zero runs likely (compression is where formatting goes wrong). */
const addressBytes = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((groups) => Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 0xff])));

const viaIpaddr = (bytes: Uint8Array): ipaddr.IPv6 => ipaddr.fromByteArray(Array.from(bytes)) as ipaddr.IPv6;

test('formatIpv6 writes what ipaddr.js toRFC5952String writes (property)', (t) => {
  fc.assert(
    fc.property(addressBytes, (bytes) => {
      t.is(formatIpv6(bytes), viaIpaddr(bytes).toRFC5952String());
    }),
    { numRuns: 5_000 },
  );
});

test('every usual spelling of an address parses to its bytes: compressed, full, upper case, zero-padded (property)', (t) => {
  fc.assert(
    fc.property(addressBytes, fc.boolean(), (bytes, upper) => {
      const v6 = viaIpaddr(bytes);
      const padded = v6.parts.map((g) => g.toString(16).padStart(4, '0')).join(':');
      const spellings = [v6.toRFC5952String(), v6.toNormalizedString(), padded, v6.toString()];
      for (const text of spellings) {
        const spelled = upper ? text.toUpperCase() : text;
        t.deepEqual(parsePlainIpv6(spelled), bytes, spelled);
      }
    }),
    { numRuns: 3_000 },
  );
});

test('anything the fast path accepts, ipaddr.js accepts with the same bytes (random text, property)', (t) => {
  const text = fc.string({ unit: fc.constantFrom('0', '1', 'a', 'F', 'f', ':', ':', ':', 'g', '.', '12', 'ffff'), maxLength: 40 });
  let accepted = 0;
  fc.assert(
    fc.property(text, (input) => {
      const fast = parsePlainIpv6(input);
      if (fast === undefined) return;
      accepted++;
      t.true(ipaddr.IPv6.isValid(input), input);
      t.deepEqual(fast, Uint8Array.from(ipaddr.IPv6.parse(input).toByteArray()), input);
    }),
    { numRuns: 20_000 },
  );
  t.true(accepted > 10, `the generator must reach accepted inputs (${accepted})`);
});

test('plain forms at the edges', (t) => {
  t.deepEqual(parsePlainIpv6('::'), new Uint8Array(16));
  t.deepEqual(parsePlainIpv6('1:2:3:4:5:6:7::')?.[13], 7);
  t.deepEqual(parsePlainIpv6('::1')?.[15], 1);
  for (const bad of ['', ':', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::', '1::2:', ':1::', '::ffff:1.2.3.4', 'fe80::1%eth0']) {
    t.is(parsePlainIpv6(bad), undefined, bad);
  }
});
