// BucketDigests: stable buckets, incremental = from scratch, digests equal iff the
// record sets are equal, independent of time; update cost at 262,144 records logged.
import test from 'ava';
import fc from 'fast-check';
import { recordKey, type ReplicatedRecord } from '../../../src/domain/replicated-record.js';
import { BucketDigests, bucketAndKeyId, bucketOfKey, keyId, recordHash } from '../../../src/replication/core/bucket-digests.js';
import { live, tomb, v } from './fixtures.js';

const NOW = 1_700_000_000_000;

test('bucketOf is a fixed function of the key text (pinned: changing it splits mixed-version clusters)', (t) => {
  const d = new BucketDigests();
  t.is(d.bucketCount, 4096);
  const keys = ['drop 10.0.0.0/8', 'ignore 10.0.0.0/8', 'drop 2001:db8::/32'];
  t.deepEqual(keys.map((k) => bucketOfKey(k, 4096)), [3283, 118, 2612]);
  t.deepEqual(keys.map((k) => d.bucketOf(k)), [3283, 118, 2612]);
});

test('a record and its removal cancel out; content changes change the digest', (t) => {
  const d = new BucketDigests(64);
  const empty = d.all();
  const a = live('10.0.0.0/8', v(NOW));
  d.add(a);
  const withA = d.all();
  t.notDeepEqual(withA, empty);
  t.deepEqual(d.differing(empty), [d.bucketOf('drop 10.0.0.0/8')]);
  d.remove(a);
  t.deepEqual(d.all(), empty);
  const variants: ReplicatedRecord[] = [
    live('10.0.0.0/8', v(NOW + 1)),
    live('10.0.0.0/8', v(NOW, 1)),
    live('10.0.0.0/8', v(NOW, 0, 'b')),
    live('10.0.0.0/8', v(NOW), { tag: 't' }),
    live('10.0.0.0/8', v(NOW), { expiration: 5 }),
    live('10.0.0.0/8', v(NOW), { policy: 'ignore' }),
    tomb('10.0.0.0/8', v(NOW)),
  ];
  const seen = new Set([BucketDigests.of([a], 64).all().join()]);
  for (const r of variants) seen.add(BucketDigests.of([r], 64).all().join());
  t.is(seen.size, variants.length + 1);
});

test('apply(change) keeps digests equal to a recomputation; bucket count mismatch differs everywhere', (t) => {
  const d = new BucketDigests(16);
  const a1 = live('10.0.0.0/8', v(NOW));
  const a2 = tomb('10.0.0.0/8', v(NOW + 5));
  const b = live('10.1.0.0/16', v(NOW));
  d.apply({ after: a1 });
  d.apply({ after: b });
  d.apply({ before: a1, after: a2 });
  t.deepEqual(d.all(), BucketDigests.of([a2, b], 16).all());
  d.apply({ before: b });
  t.deepEqual(d.all(), BucketDigests.of([a2], 16).all());
  t.is(d.differing(new BigUint64Array(8)).length, 16);
});

const recordArb: fc.Arbitrary<ReplicatedRecord> = fc
  .record({ n: fc.integer({ min: 0, max: 40 }), wall: fc.integer({ min: 0, max: 3 }), tombstone: fc.boolean(), exp: fc.constantFrom(0, 100) })
  .map(({ n, wall, tombstone, exp }) => {
    const cidr = `10.0.${n}.0/24`;
    return tombstone ? tomb(cidr, v(NOW + wall)) : live(cidr, v(NOW + wall), { expiration: exp });
  });

/** One record per key, as a store holds them. */
function asSet(records: ReplicatedRecord[]): Map<string, ReplicatedRecord> {
  const m = new Map<string, ReplicatedRecord>();
  for (const r of records) m.set(r.kind === 'live' ? r.entry.cidr.text : r.cidr.text, r);
  return m;
}

test('property: digests are equal iff the record sets are equal, whatever the insertion order', (t) => {
  fc.assert(
    fc.property(fc.array(recordArb, { maxLength: 40 }), fc.array(recordArb, { maxLength: 40 }), fc.integer({ min: 1, max: 32 }), (xs, ys, buckets) => {
      const a = [...asSet(xs).values()];
      const b = [...asSet(ys).values()];
      const da = BucketDigests.of(a, buckets);
      const db = BucketDigests.of([...b].reverse(), buckets);
      const same = sameRecords(a, b);
      t.is(da.differing(db.all()).length === 0, same);
      // Every differing bucket really holds a difference.
      for (const bucket of da.differing(db.all())) {
        const inA = a.filter((r) => da.bucketOf(keyOf(r)) === bucket).map(idOf).sort();
        const inB = b.filter((r) => da.bucketOf(keyOf(r)) === bucket).map(idOf).sort();
        t.notDeepEqual(inA, inB);
      }
    }),
    { numRuns: 300 },
  );
});

function keyOf(r: ReplicatedRecord): string {
  return r.kind === 'live' ? `${r.entry.policy} ${r.entry.cidr.text}` : `${r.policy} ${r.cidr.text}`;
}

function idOf(r: ReplicatedRecord): string {
  return r.kind === 'live' ? `${keyOf(r)} L ${r.entry.version.wallMs} ${r.entry.expiration}` : `${keyOf(r)} T ${r.version.wallMs}`;
}

function sameRecords(a: ReplicatedRecord[], b: ReplicatedRecord[]): boolean {
  return JSON.stringify(a.map(idOf).sort()) === JSON.stringify(b.map(idOf).sort());
}

test('update cost for 262,144 records (logged, not asserted)', (t) => {
  const records: ReplicatedRecord[] = [];
  for (let i = 0; i < 262_144; i++) {
    records.push(live(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`, v(NOW + i, 0, 'node-a'), { tag: 'bench', expiration: 1_800_000_000 }));
  }
  const d = new BucketDigests();
  const start = process.hrtime.bigint();
  for (const r of records) d.add(r);
  const addMs = Number(process.hrtime.bigint() - start) / 1e6;
  const start2 = process.hrtime.bigint();
  const all = d.all();
  const diff = d.differing(all);
  const allMs = Number(process.hrtime.bigint() - start2) / 1e6;
  t.log(`262,144 adds: ${addMs.toFixed(1)} ms (${((addMs * 1e6) / 262_144).toFixed(0)} ns/record); all() + differing(): ${allMs.toFixed(2)} ms`);
  t.deepEqual(diff, []);
});

test('bucketAndKeyId computes bucketOfKey and keyId of "policy cidr" in one pass', (t) => {
  fc.assert(
    fc.property(fc.constantFrom('drop', 'ignore'), fc.string({ maxLength: 43 }), fc.integer({ min: 1, max: 1 << 20 }), (policy, cidr, buckets) => {
      const out = new Uint32Array(3);
      const id = new Uint32Array(2);
      bucketAndKeyId(policy, cidr, buckets, out);
      keyId(`${policy} ${cidr}`, id);
      t.is(out[0], bucketOfKey(`${policy} ${cidr}`, buckets));
      t.deepEqual([out[1], out[2]], [id[0], id[1]]);
    }),
    { numRuns: 300 },
  );
  const a = new Uint32Array(2);
  const b = new Uint32Array(2);
  keyId('drop 10.0.0.0/8', a);
  keyId('drop 10.0.0.0/9', b);
  t.notDeepEqual([...a], [...b]);
});

test('a bucket holding one record has that record\'s recordHash as digest, in bucketOfKey of its key (add and apply alike)', (t) => {
  const records: ReplicatedRecord[] = [
    live('10.0.0.0/8', v(NOW, 3, 'node-a'), { tag: 'x', expiration: 1_800_000_000 }),
    live('2001:db8::/32', v(NOW + 1, 0, 'node-b'), { policy: 'ignore' }),
    tomb('192.168.1.0/24', v(NOW + 2, 1, 'node-c'), { deletedExpiration: 1_900_000_000 }),
    tomb('10.0.0.1/32', v(NOW + 3)),
  ];
  const hash = new Uint32Array(2);
  for (const record of records) {
    const key = recordKey(record);
    recordHash(record, hash, key);
    const want = (BigInt(hash[1] ?? 0) << 32n) | BigInt(hash[0] ?? 0);
    const bucket = bucketOfKey(key, 4096);
    const added = new BucketDigests(4096);
    added.add(record);
    t.is(added.digest(bucket), want);
    const applied = new BucketDigests(4096);
    applied.apply({ after: record });
    t.is(applied.digest(bucket), want);
    applied.apply({ before: record });
    t.is(applied.digest(bucket), 0n);
  }
});
