// CoalescingOutbox: newest record per key, chunks under a byte budget, acks, requeue
// on disconnect (newer pending wins), memory bounded by distinct keys, nothing lost.
import test from 'ava';
import fc from 'fast-check';
import { newerRecord, recordKey, type ReplicatedRecord } from '../../../src/domain/replicated-record.js';
import { CoalescingOutbox } from '../../../src/replication/core/coalescing-outbox.js';
import { estimateRecordBytes } from '../../../src/replication/core/record-size.js';
import { describe, live, tomb, v } from './fixtures.js';

const NOW = 1_700_000_000_000;

test('put keeps only the newest record per key', (t) => {
  const o = new CoalescingOutbox();
  o.put(live('10.0.0.0/8', v(NOW + 2)));
  o.put(tomb('10.0.0.0/8', v(NOW + 1))); // older: ignored
  o.put(live('10.1.0.0/16', v(NOW)));
  t.is(o.pendingKeys, 2);
  t.is(o.folded, 1);
  const chunk = o.takeChunk(1 << 20);
  t.deepEqual(chunk?.records.map(describe), [describe(live('10.0.0.0/8', v(NOW + 2))), describe(live('10.1.0.0/16', v(NOW)))]);
  t.is(o.takeChunk(1 << 20), undefined);
});

test('takeChunk respects the byte budget, ack forgets, requeue restores un-acked records with newer pending winning', (t) => {
  const o = new CoalescingOutbox();
  const records = Array.from({ length: 10 }, (_, i) => live(`10.0.${i}.0/24`, v(NOW)));
  for (const r of records) o.put(r);
  const one = estimateRecordBytes(records[0] as ReplicatedRecord);
  const c1 = o.takeChunk(64 + 3 * one);
  t.is(c1?.records.length, 3);
  t.true((c1?.bytes ?? Infinity) <= 64 + 3 * one);
  const c2 = o.takeChunk(64 + 3 * one);
  t.is(o.pendingKeys, 4);
  t.is(o.inFlightKeys, 6);
  t.true(o.ack(c1?.seq ?? -1));
  t.false(o.ack(c1?.seq ?? -1)); // duplicate ack
  const newer = tomb('10.0.3.0/24', v(NOW + 1)); // in flight in c2
  o.put(newer);
  o.requeueInFlight();
  t.is(o.inFlightKeys, 0);
  t.is(o.pendingKeys, 7);
  t.is(o.ack(c2?.seq ?? -1), false);
  const rest = o.takeChunk(1 << 20);
  t.is(rest?.records.length, 7);
  t.true(rest?.records.some((r) => describe(r) === describe(newer)));
});

test('a record larger than the budget still goes out alone (no stall)', (t) => {
  const o = new CoalescingOutbox();
  o.put(live('10.0.0.0/8', v(NOW)));
  o.put(live('10.1.0.0/16', v(NOW)));
  t.is(o.takeChunk(1)?.records.length, 1);
});

type Op = { kind: 'put'; key: number; wall: number; tombstone: boolean } | { kind: 'take'; max: number } | { kind: 'ack'; nth: number } | { kind: 'requeue' };

test('property: bounded by distinct keys, and every key is delivered at its newest put unless superseded', (t) => {
  const KEYS = 12;
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('put' as const), key: fc.nat(KEYS - 1), wall: fc.nat(1000) }).map((p) => ({ ...p, tombstone: (p.wall + p.key) % 3 === 0 })) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('take' as const), max: fc.integer({ min: 1, max: 2000 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('ack' as const), nth: fc.nat(10) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('requeue' as const) }) },
  );
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 100, maxLength: 2000, size: 'max' }), (ops) => {
      const o = new CoalescingOutbox();
      const newest = new Map<string, ReplicatedRecord>();
      const delivered = new Map<string, ReplicatedRecord>(); // acked by the peer, merged LWW
      const unacked: { seq: number; records: ReplicatedRecord[] }[] = [];
      for (const op of ops) {
        if (op.kind === 'put') {
          const cidr = `10.0.${op.key}.0/24`;
          const r = op.tombstone ? tomb(cidr, v(NOW + op.wall)) : live(cidr, v(NOW + op.wall));
          const prev = newest.get(recordKey(r));
          newest.set(recordKey(r), prev === undefined ? r : newerRecord(prev, r));
          o.put(r);
        } else if (op.kind === 'take') {
          const chunk = o.takeChunk(op.max);
          if (chunk !== undefined) unacked.push(chunk);
        } else if (op.kind === 'ack') {
          const [chunk] = unacked.splice(op.nth % Math.max(1, unacked.length), 1);
          if (chunk !== undefined && o.ack(chunk.seq)) {
            for (const r of chunk.records) {
              const prev = delivered.get(recordKey(r));
              delivered.set(recordKey(r), prev === undefined ? r : newerRecord(prev, r));
            }
          }
        } else {
          o.requeueInFlight();
          unacked.length = 0;
        }
        t.true(o.heldKeys <= KEYS && o.pendingKeys <= KEYS && o.inFlightKeys <= KEYS);
      }
      // Drain: whatever is still owed goes out and is acked.
      o.requeueInFlight();
      for (let chunk = o.takeChunk(1 << 20); chunk !== undefined; chunk = o.takeChunk(1 << 20)) {
        o.ack(chunk.seq);
        for (const r of chunk.records) {
          const prev = delivered.get(recordKey(r));
          delivered.set(recordKey(r), prev === undefined ? r : newerRecord(prev, r));
        }
      }
      t.is(o.heldKeys, 0);
      t.deepEqual([...delivered.entries()].map(([k, r]) => [k, describe(r)]).sort(), [...newest.entries()].map(([k, r]) => [k, describe(r)]).sort());
    }),
    { numRuns: 200 },
  );
});

test('discardCovered drops a pending record the peer already holds (same or newer version), never a newer one', (t) => {
  const o = new CoalescingOutbox();
  o.put(live('10.0.0.0/8', v(NOW + 1)));
  o.put(live('10.1.0.0/16', v(NOW + 5)));
  o.put(live('10.2.0.0/16', v(NOW)));
  o.discardCovered(live('10.0.0.0/8', v(NOW + 1))); // same version: the peer has it
  o.discardCovered(tomb('10.1.0.0/16', v(NOW + 2))); // older than ours: still needed
  o.discardCovered(tomb('10.2.0.0/16', v(NOW + 9))); // newer: ours would change nothing
  o.discardCovered(live('10.3.0.0/16', v(NOW))); // not pending: nothing to do
  t.is(o.covered, 2);
  t.deepEqual(o.takeChunk(1 << 20)?.records.map(describe), [describe(live('10.1.0.0/16', v(NOW + 5)))]);
});

test('chunks taken while puts keep coming (a window of acks) send every key exactly once, in put order', (t) => {
  const o = new CoalescingOutbox(5);
  const sent: string[] = [];
  const inFlight: number[] = [];
  let n = 0;
  for (let round = 0; round < 30; round++) {
    for (let i = 0; i < 23; i++, n++) o.put(live(`10.${n >> 8}.${n & 255}.0/24`, v(NOW + n)));
    for (;;) {
      while (inFlight.length < 3) {
        // A byte budget of about three records: some keys are carried to the next chunk.
        const chunk = o.takeChunk(64 + 3 * estimateRecordBytes(live('10.0.0.0/24', v(NOW))) + (round % 7));
        if (chunk === undefined) break;
        sent.push(...chunk.records.map((r) => recordKey(r)));
        inFlight.push(chunk.seq);
      }
      if (o.pendingKeys === 0) break;
      for (const seq of inFlight.splice(0, 2)) o.ack(seq);
    }
  }
  t.is(sent.length, n);
  t.deepEqual(sent, Array.from({ length: n }, (_, i) => `drop 10.${i >> 8}.${i & 255}.0/24`));
});

test('requeue after every key of an older chunk was re-sent and acked leaves no chunk in flight', (t) => {
  const o = new CoalescingOutbox();
  o.put(live('10.0.0.0/8', v(NOW)));
  const first = o.takeChunk(1 << 20);
  o.put(live('10.0.0.0/8', v(NOW + 1))); // newer while in flight: sent again in a later chunk
  const second = o.takeChunk(1 << 20);
  t.true(o.ack(second?.seq ?? -1));
  // The first chunk's only key is no longer in flight, but the chunk was never acked.
  t.is(o.inFlightKeys, 0);
  t.is(o.inFlightChunks, 1);
  o.requeueInFlight();
  t.is(o.inFlightChunks, 0);
  t.is(o.pendingKeys, 0);
  t.false(o.ack(first?.seq ?? -1)); // a late ack of the forgotten chunk is ignored
});
