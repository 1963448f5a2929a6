// Longest-prefix-match table: the reference example, IPv6, deletion, and a
// property test against a brute-force linear scan.
import test from 'ava';
import fc from 'fast-check';
import { cidrContains, parseAddress, parseCidr, tryParseCidr, type Address, type Cidr } from '../../../src/domain/cidr.js';
import { LpmTable } from '../../../src/domain/lpm.js';

test('reference example: with /24 and /25, 192.168.0.10 matches the /25', (t) => {
  const table = new LpmTable<string>();
  table.set(parseCidr('192.168.0.0/24'), 'slash24');
  table.set(parseCidr('192.168.0.0/25'), 'slash25');
  const hit = table.lookup(parseAddress('192.168.0.10'));
  t.is(hit?.value, 'slash25');
  t.is(hit?.cidr.text, '192.168.0.0/25');
  t.is(table.lookup(parseAddress('192.168.0.200'))?.value, 'slash24');
  t.is(table.lookup(parseAddress('192.168.1.10')), undefined);
});

test('insertion order does not matter', (t) => {
  const table = new LpmTable<string>();
  table.set(parseCidr('192.168.0.0/25'), 'slash25');
  table.set(parseCidr('192.168.0.0/24'), 'slash24');
  table.set(parseCidr('0.0.0.0/1'), 'slash1');
  t.is(table.lookup(parseAddress('192.168.0.10'))?.value, 'slash25');
  t.is(table.lookup(parseAddress('192.168.0.129'))?.value, 'slash24');
  t.is(table.lookup(parseAddress('10.0.0.1'))?.value, 'slash1');
  t.is(table.lookup(parseAddress('200.0.0.1')), undefined);
});

test('/32 host route beats everything', (t) => {
  const table = new LpmTable<number>();
  for (let p = 1; p <= 32; p++) table.set(parseCidr(`10.20.30.40/${p}`), p);
  t.is(table.lookup(parseAddress('10.20.30.40'))?.value, 32);
  t.is(table.lookup(parseAddress('10.20.30.41'))?.value, 31);
  t.is(table.lookup(parseAddress('10.20.30.42'))?.value, 30);
  t.is(table.lookup(parseAddress('138.0.0.0'))?.value, undefined);
  t.is(table.lookup(parseAddress('11.0.0.0'))?.value, 7);
});

test('IPv6 longest prefix wins and families are separate', (t) => {
  const table = new LpmTable<string>();
  table.set(parseCidr('2001:db8::/32'), 'v6-32');
  table.set(parseCidr('2001:db8:1::/48'), 'v6-48');
  table.set(parseCidr('2001:db8:1:2::1/128'), 'v6-128');
  table.set(parseCidr('0.0.0.0/1'), 'v4');
  t.is(table.lookup(parseAddress('2001:db8:1:2::1'))?.value, 'v6-128');
  t.is(table.lookup(parseAddress('2001:db8:1:2::2'))?.value, 'v6-48');
  t.is(table.lookup(parseAddress('2001:db8:2::1'))?.value, 'v6-32');
  t.is(table.lookup(parseAddress('2001:db9::1')), undefined);
  // A v4 rule never matches a v6 address, even IPv4-mapped.
  t.is(table.lookup(parseAddress('::ffff:1.2.3.4')), undefined);
  t.is(table.lookup(parseAddress('1.2.3.4'))?.value, 'v4');
});

test('set replaces the value of an existing key without growing', (t) => {
  const table = new LpmTable<string>();
  table.set(parseCidr('192.168.1.200/24'), 'first');
  table.set(parseCidr('192.168.1.0/24'), 'second');
  t.is(table.size, 1);
  t.is(table.get(parseCidr('192.168.1.7/24')), 'second');
});

test('get is exact match only', (t) => {
  const table = new LpmTable<string>();
  table.set(parseCidr('10.0.0.0/8'), 'ten');
  t.is(table.get(parseCidr('10.0.0.0/8')), 'ten');
  t.is(table.get(parseCidr('10.0.0.0/16')), undefined);
  t.is(table.get(parseCidr('10.0.0.0/7')), undefined);
  t.is(table.get(parseCidr('::/8')), undefined);
});

test('delete removes only the given key and falls back to shorter prefixes', (t) => {
  const table = new LpmTable<string>();
  table.set(parseCidr('192.168.0.0/24'), 'slash24');
  table.set(parseCidr('192.168.0.0/25'), 'slash25');
  t.is(table.size, 2);
  t.true(table.delete(parseCidr('192.168.0.0/25')));
  t.is(table.size, 1);
  t.is(table.lookup(parseAddress('192.168.0.10'))?.value, 'slash24');
  t.false(table.delete(parseCidr('192.168.0.0/25')), 'second delete finds nothing');
  t.false(table.delete(parseCidr('192.168.0.0/26')), 'unknown key');
  t.false(table.delete(parseCidr('192.168.1.0/24')), 'unknown key same length');
  t.is(table.size, 1);
  t.true(table.delete(parseCidr('192.168.0.0/24')));
  t.is(table.size, 0);
  t.is(table.lookup(parseAddress('192.168.0.10')), undefined);
});

test('delete of v6 key leaves v4 key of the same length alone', (t) => {
  const table = new LpmTable<string>();
  table.set(parseCidr('10.0.0.0/8'), 'v4');
  table.set(parseCidr('a00::/8'), 'v6');
  t.true(table.delete(parseCidr('a00::/8')));
  t.is(table.lookup(parseAddress('10.1.2.3'))?.value, 'v4');
  t.is(table.lookup(parseAddress('a00::1')), undefined);
  t.is(table.size, 1);
});

test('a prefix length emptied and filled again still matches', (t) => {
  const table = new LpmTable<string>();
  table.set(parseCidr('10.0.0.0/16'), 'a');
  table.delete(parseCidr('10.0.0.0/16'));
  table.set(parseCidr('10.1.0.0/16'), 'b');
  t.is(table.lookup(parseAddress('10.1.2.3'))?.value, 'b');
  t.is(table.lookup(parseAddress('10.0.2.3')), undefined);
});

test('clear empties both families', (t) => {
  const table = new LpmTable<string>();
  table.set(parseCidr('10.0.0.0/8'), 'v4');
  table.set(parseCidr('2001:db8::/32'), 'v6');
  table.clear();
  t.is(table.size, 0);
  t.is(table.lookup(parseAddress('10.1.2.3')), undefined);
  t.is(table.lookup(parseAddress('2001:db8::1')), undefined);
  table.set(parseCidr('10.0.0.0/8'), 'again');
  t.is(table.lookup(parseAddress('10.1.2.3'))?.value, 'again');
});

test('lookup with accept skips refused entries and falls back to shorter prefixes', (t) => {
  const table = new LpmTable<{ name: string; live: boolean }>();
  table.set(parseCidr('192.168.0.0/16'), { name: 'slash16', live: true });
  table.set(parseCidr('192.168.0.0/24'), { name: 'slash24', live: false });
  table.set(parseCidr('192.168.0.0/25'), { name: 'slash25', live: false });
  const hit = table.lookup(parseAddress('192.168.0.10'), (v) => v.live);
  t.is(hit?.value.name, 'slash16');
  t.is(table.lookup(parseAddress('192.168.0.10'))?.value.name, 'slash25');
  t.is(table.lookup(parseAddress('192.168.0.10'), () => false), undefined);
});

test('values yields every value of both families once', (t) => {
  const table = new LpmTable<string>();
  table.set(parseCidr('10.0.0.0/8'), 'a');
  table.set(parseCidr('10.0.0.0/16'), 'b');
  table.set(parseCidr('2001:db8::/32'), 'c');
  t.deepEqual([...table.values()].sort(), ['a', 'b', 'c']);
});

// ---------------------------------------------------------------- property vs brute force

type Op = { kind: 'set'; cidr: Cidr; value: number } | { kind: 'delete'; cidr: Cidr };

function cidrOf(bytes: number[], prefix: number): Cidr {
  const text = bytes.length === 4 ? `${bytes.join('.')}/${prefix}` : `${v6Text(bytes)}/${prefix}`;
  const result = tryParseCidr(text);
  if (typeof result === 'string') throw new Error(`${text}: ${result}`);
  return result;
}

function v6Text(bytes: number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

function addressOf(bytes: number[]): Address {
  return parseAddress(bytes.length === 4 ? bytes.join('.') : v6Text(bytes));
}

// Few distinct high bytes so random prefixes overlap and shadow each other often.
const byte = fc.oneof(fc.constantFrom(0, 128, 192, 255), fc.integer({ min: 0, max: 255 }));
const v4 = fc.array(byte, { minLength: 4, maxLength: 4 });
const v6 = fc.tuple(fc.array(byte, { minLength: 4, maxLength: 4 }), fc.array(byte, { minLength: 12, maxLength: 12 })).map(
  ([head, tail]) => [...head, ...tail.map((b) => b & 0x81)],
);
const v4Cidr = fc.tuple(v4, fc.integer({ min: 1, max: 32 })).map(([b, p]) => cidrOf(b, p));
const v6Cidr = fc.tuple(v6, fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 128 }))).map(([b, p]) => cidrOf(b, p));
const anyCidr = fc.oneof(v4Cidr, v6Cidr);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(anyCidr, fc.nat()).map(([cidr, value]) => ({ kind: 'set' as const, cidr, value })) },
  { weight: 1, arbitrary: anyCidr.map((cidr) => ({ kind: 'delete' as const, cidr })) },
);

test('property: lookup equals a brute-force linear scan for the longest containing prefix', (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), fc.array(fc.oneof(v4, v6), { minLength: 1, maxLength: 30 }), (ops, probes) => {
      const table = new LpmTable<number>();
      const model = new Map<string, { cidr: Cidr; value: number }>();
      for (const o of ops) {
        if (o.kind === 'set') {
          table.set(o.cidr, o.value);
          model.set(o.cidr.text, { cidr: o.cidr, value: o.value });
        } else {
          const existed = model.delete(o.cidr.text);
          if (table.delete(o.cidr) !== existed) return false;
        }
      }
      if (table.size !== model.size) return false;
      for (const { cidr, value } of model.values()) if (table.get(cidr) !== value) return false;
      // Probe random addresses and the network addresses of stored prefixes.
      const addresses = [...probes.map(addressOf), ...[...model.values()].map((e) => addressOf(Array.from(e.cidr.bytes)))];
      for (const address of addresses) {
        let best: { cidr: Cidr; value: number } | undefined;
        for (const entry of model.values()) {
          if (cidrContains(entry.cidr, address) && (best === undefined || entry.cidr.prefixLength > best.cidr.prefixLength)) {
            best = entry;
          }
        }
        const got = table.lookup(address);
        if (got?.cidr.text !== best?.cidr.text || got?.value !== best?.value) return false;
      }
      return true;
    }),
    { numRuns: 1500 },
  );
  t.pass();
});
