// MeshSession between two hubs over a direct in-memory pipe: only differing buckets
// are exchanged, bucket-count mismatch falls back to a full snapshot, deltas flow
// on flush ticks with a bounded window, wrong identities are refused, duplicates
// are harmless.
import test from 'ava';
import { ManualClock } from '../../../src/domain/clock.js';
import { FailedPreconditionError } from '../../../src/domain/errors.js';
import { HybridClock } from '../../../src/domain/version.js';
import { MemoryReplicaStore } from '../../../src/replication/core/memory-replica-store.js';
import { MeshSession, type MeshMessage } from '../../../src/replication/core/mesh-session.js';
import { ReplicationHub } from '../../../src/replication/core/replication-hub.js';
import { ManualScheduler } from '../../../src/replication/core/scheduler.js';
import { describeAll, live, tomb, v } from './fixtures.js';

const NOW = 1_700_000_000_000;

function node(id: string, clock: ManualClock, scheduler: ManualScheduler, bucketCount = 64) {
  const store = new MemoryReplicaStore({ clock, tombstoneLifetimeMs: 3600_000 });
  const hlc = new HybridClock(clock, id);
  const hub = new ReplicationHub({ store, hlc, clock, scheduler, bucketCount });
  hub.start();
  return { store, hlc, hub };
}

/** Two sessions joined by queues the test pumps by hand (so it can hold messages back). */
function pair(a: ReplicationHub, b: ReplicationHub, window = 8) {
  const toA: MeshMessage[] = [];
  const toB: MeshMessage[] = [];
  const sa = new MeshSession(a, (m) => void toB.push(m), { expectedPeerNodeId: b.nodeId, maxUnackedChunks: window, maxChunkBytes: 2000 });
  const sb = new MeshSession(b, (m) => void toA.push(m), { expectedPeerNodeId: a.nodeId, maxUnackedChunks: window, maxChunkBytes: 2000 });
  const pump = async (): Promise<number> => {
    let moved = 0;
    while (toA.length + toB.length > 0) {
      for (const m of toA.splice(0)) { moved++; await sa.onMessage(m); }
      for (const m of toB.splice(0)) { moved++; await sb.onMessage(m); }
    }
    return moved;
  };
  return { sa, sb, toA, toB, pump };
}

test('reconnect exchanges only the differing records, both ways, then streams deltas', async (t) => {
  const clock = new ManualClock(NOW);
  const scheduler = new ManualScheduler(clock);
  const a = node('a', clock, scheduler);
  const b = node('b', clock, scheduler);
  const shared = Array.from({ length: 200 }, (_, i) => live(`10.0.${i}.0/24`, v(NOW, 0, 'a')));
  await a.store.mergeRemote(shared);
  await b.store.mergeRemote(shared);
  a.store.applyLocal(live('192.0.2.0/24', a.hlc.next()));
  b.store.applyLocal(tomb('10.0.7.0/24', b.hlc.next()));
  const { sa, sb, pump } = pair(a.hub, b.hub);
  sa.start();
  sb.start();
  await pump();
  t.deepEqual(describeAll(a.store.records()), describeAll(b.store.records()));
  const ra = sa.status().lastReconciliation;
  t.is(sa.status().phase, 'streaming');
  t.is(sb.status().phase, 'streaming');
  t.truthy(ra);
  t.true((ra?.bucketsDiffering ?? 0) <= 2 && (ra?.bucketsDiffering ?? 0) >= 1);
  t.true((ra?.recordsSent ?? 0) < 20, `sent ${ra?.recordsSent}`);
  t.is(sb.status().lastReconciliation?.recordsReceived, ra?.recordsSent);
  // Deltas: a local change on a reaches b at the next flush tick.
  a.store.applyLocal(live('198.51.100.0/24', a.hlc.next(), { policy: 'ignore', tag: 'x' }));
  t.is(sa.status().pendingDeltas, 1);
  scheduler.advance(250);
  await pump();
  t.is(b.store.recordOf('ignore 198.51.100.0/24')?.kind, 'live');
  t.is(sa.status().pendingDeltas, 0);
  t.is(sa.status().inFlightChunks, 0);
  t.is(sa.status().lastFlushAtMs, NOW + 250);
});

test('bucket count mismatch falls back to a full snapshot', async (t) => {
  const clock = new ManualClock(NOW);
  const scheduler = new ManualScheduler(clock);
  const a = node('a', clock, scheduler, 64);
  const b = node('b', clock, scheduler, 16);
  const records = Array.from({ length: 30 }, (_, i) => live(`10.0.${i}.0/24`, v(NOW, 0, 'a')));
  await a.store.mergeRemote(records);
  await b.store.mergeRemote(records);
  const { sa, sb, pump } = pair(a.hub, b.hub);
  sa.start();
  sb.start();
  await pump();
  t.true(sa.status().fullSnapshot);
  t.is(sa.status().lastReconciliation?.recordsSent, 30);
  t.is(sb.status().lastReconciliation?.recordsSent, 30);
  t.deepEqual(describeAll(a.store.records()), describeAll(b.store.records()));
});

test('the window bounds un-acked chunks; acks let the rest through', async (t) => {
  const clock = new ManualClock(NOW);
  const scheduler = new ManualScheduler(clock);
  const a = node('a', clock, scheduler);
  const b = node('b', clock, scheduler);
  const { sa, sb, toB, pump } = pair(a.hub, b.hub, 2);
  sa.start();
  sb.start();
  await pump();
  for (let i = 0; i < 100; i++) a.store.applyLocal(live(`10.1.${i}.0/24`, a.hlc.next()));
  scheduler.advance(250);
  t.is(toB.filter((m) => m.type === 'records').length, 2); // window of 2 chunks of ~2000 bytes
  t.is(sa.status().inFlightChunks, 2);
  await pump();
  t.is(b.store.size, 100);
  t.is(sa.status().pendingDeltas, 0);
});

test('duplicates and closing are harmless; close requeues nothing into a reused link', async (t) => {
  const clock = new ManualClock(NOW);
  const scheduler = new ManualScheduler(clock);
  const a = node('a', clock, scheduler);
  const b = node('b', clock, scheduler);
  const { sa, sb, toA, toB, pump } = pair(a.hub, b.hub);
  sa.start();
  sb.start();
  // Every message delivered twice.
  for (let round = 0; round < 10 && toA.length + toB.length > 0; round++) {
    for (const m of toA.splice(0)) { await sa.onMessage(m); await sa.onMessage(m); }
    for (const m of toB.splice(0)) { await sb.onMessage(m); await sb.onMessage(m); }
  }
  await pump();
  t.is(sa.status().phase, 'streaming');
  a.store.applyLocal(live('10.0.0.0/8', a.hlc.next()));
  scheduler.advance(250);
  sa.close();
  t.is(sa.status().phase, 'closed');
  t.deepEqual(a.hub.linkIds(), []);
  await sb.onMessage(toB.splice(0)[0] as MeshMessage); // late delivery to the other side still merges
  t.is(b.store.size, 1);
  await sa.onMessage({ type: 'ack', seq: 1 }); // ignored after close
});

test('a peer announcing another node id, or our own, is refused', async (t) => {
  const clock = new ManualClock(NOW);
  const scheduler = new ManualScheduler(clock);
  const a = node('a', clock, scheduler);
  const s = new MeshSession(a.hub, () => undefined, { expectedPeerNodeId: 'b' });
  await t.throwsAsync(s.onMessage({ type: 'hello', nodeId: 'c', bucketCount: 64, protocolVersion: 1 }), { instanceOf: FailedPreconditionError, message: /expected "b"/ });
  const self = new MeshSession(a.hub, () => undefined);
  await t.throwsAsync(self.onMessage({ type: 'hello', nodeId: 'a', bucketCount: 64, protocolVersion: 1 }), { instanceOf: FailedPreconditionError });
  t.deepEqual(a.hub.linkIds(), []);
});
