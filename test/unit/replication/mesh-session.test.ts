// MeshSession between two hubs over a direct in-memory pipe: only the differing
// records of differing buckets are exchanged (per-record summaries; the newer side
// sends; colliding key hashes are sent anyway), bucket-count or protocol mismatch
// falls back to a full snapshot, deltas flow on flush ticks with a bounded window,
// wrong identities are refused, duplicates and reordering are harmless.
import test from 'ava';
import { ManualClock } from '../../../src/domain/clock.js';
import { FailedPreconditionError } from '../../../src/domain/errors.js';
import { HybridClock } from '../../../src/domain/version.js';
import { MemoryReplicaStore } from '../../../src/replication/core/memory-replica-store.js';
import { MeshSession, type MeshMessage, type MeshSessionOptions } from '../../../src/replication/core/mesh-session.js';
import { ReplicationHub } from '../../../src/replication/core/replication-hub.js';
import { splitByClockOffset } from '../../../src/replication/core/clock-offset-guard.js';
import { ManualScheduler } from '../../../src/domain/scheduler.js';
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
function pair(a: ReplicationHub, b: ReplicationHub, window = 8, optionsA: MeshSessionOptions = {}, optionsB: MeshSessionOptions = optionsA) {
  const toA: MeshMessage[] = [];
  const toB: MeshMessage[] = [];
  const sa = new MeshSession(a, (m) => void toB.push(m), { expectedPeerNodeId: b.nodeId, maxUnackedChunks: window, maxChunkBytes: 2000, ...optionsA });
  const sb = new MeshSession(b, (m) => void toA.push(m), { expectedPeerNodeId: a.nodeId, maxUnackedChunks: window, maxChunkBytes: 2000, ...optionsB });
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
  // Deltas: a local change on a reaches b at the next flush (at once: the link was idle).
  a.store.applyLocal(live('198.51.100.0/24', a.hlc.next(), { policy: 'ignore', tag: 'x' }));
  t.is(sa.status().pendingDeltas, 1);
  scheduler.advance(250);
  await pump();
  t.is(b.store.recordOf('ignore 198.51.100.0/24')?.kind, 'live');
  t.is(sa.status().pendingDeltas, 0);
  t.is(sa.status().inFlightChunks, 0);
  t.is(sa.status().lastFlushAtMs, NOW);
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

/** a and b share `shared` records, then each gets its own changes; returns both nodes. */
async function diverged(shared: number, bucketCount = 16) {
  const clock = new ManualClock(NOW);
  const scheduler = new ManualScheduler(clock);
  const a = node('a', clock, scheduler, bucketCount);
  const b = node('b', clock, scheduler, bucketCount);
  const records = Array.from({ length: shared }, (_, i) => live(`10.${i >> 8}.${i & 255}.0/24`, v(NOW - 10_000, i, 'c')));
  await a.store.mergeRemote(records);
  await b.store.mergeRemote(records);
  return { clock, scheduler, a, b, records };
}

test('summaries: a few differing records among whole buckets cost those records only, each sent by the newer side', async (t) => {
  const { a, b, records } = await diverged(2000);
  // 10 rules newer on a, 5 newer on b, 3 only on b, 2 deleted on a: 16 buckets of ~125 records all differ.
  for (let i = 0; i < 10; i++) a.store.applyLocal(live((records[i] as ReturnType<typeof live>).entry.cidr.text, a.hlc.next(), { tag: 'a' }));
  for (let i = 10; i < 15; i++) b.store.applyLocal(live((records[i] as ReturnType<typeof live>).entry.cidr.text, b.hlc.next(), { tag: 'b' }));
  for (let i = 0; i < 3; i++) b.store.applyLocal(live(`192.0.2.${i}/32`, b.hlc.next()));
  for (let i = 20; i < 22; i++) a.store.applyLocal(tomb((records[i] as ReturnType<typeof live>).entry.cidr.text, a.hlc.next()));
  const { sa, sb, pump } = pair(a.hub, b.hub);
  sa.start();
  sb.start();
  await pump();
  t.deepEqual(describeAll(a.store.records()), describeAll(b.store.records()));
  const ra = sa.status().lastReconciliation;
  const rb = sb.status().lastReconciliation;
  t.is(ra?.recordsSent, 12);
  t.is(rb?.recordsSent, 8);
  t.is(ra?.recordsReceived, 8);
  t.true((ra?.bucketsDiffering ?? 0) > 8);
  t.true((ra?.bytesSent ?? 0) > 0 && (ra?.bytesReceived ?? 0) > 0);
  t.true((rb?.bytesReceived ?? 0) > 0);
});

test('summaries: when everything differs, each record crosses once (only the newer side sends it)', async (t) => {
  const { a, b, records } = await diverged(1500);
  for (const r of records) b.store.applyLocal(live((r as ReturnType<typeof live>).entry.cidr.text, b.hlc.next(), { tag: 'rewritten' }));
  const { sa, sb, pump } = pair(a.hub, b.hub);
  sa.start();
  sb.start();
  await pump();
  t.deepEqual(describeAll(a.store.records()), describeAll(b.store.records()));
  t.is(sb.status().lastReconciliation?.recordsSent, 1500);
  t.is(sa.status().lastReconciliation?.recordsSent, 0);
  t.is(sa.status().lastReconciliation?.bucketsDiffering, 16);
});

test('summaries: equal states exchange digests and two empty summaries only', async (t) => {
  const { a, b } = await diverged(500);
  const { sa, sb, pump } = pair(a.hub, b.hub);
  sa.start();
  sb.start();
  await pump();
  const ra = sa.status().lastReconciliation;
  t.is(ra?.bucketsDiffering, 0);
  t.is(ra?.recordsSent, 0);
  t.is(ra?.recordsReceived, 0);
  t.is(sa.status().phase, 'streaming');
});

test('summaries: key hashes forced to collide (2 bits) still converge, sending the doubtful records', async (t) => {
  const { a, b, records } = await diverged(300, 4);
  for (let i = 0; i < 7; i++) a.store.applyLocal(live((records[i] as ReturnType<typeof live>).entry.cidr.text, a.hlc.next(), { tag: 'a' }));
  for (let i = 50; i < 53; i++) b.store.applyLocal(tomb((records[i] as ReturnType<typeof live>).entry.cidr.text, b.hlc.next()));
  a.store.applyLocal(live('192.0.2.1/32', a.hlc.next()));
  b.store.applyLocal(live('192.0.2.2/32', b.hlc.next()));
  const { sa, sb, pump } = pair(a.hub, b.hub, 8, { keyHashBits: 2 });
  sa.start();
  sb.start();
  await pump();
  t.deepEqual(describeAll(a.store.records()), describeAll(b.store.records()));
  t.is(a.store.recordOf('drop 192.0.2.2/32')?.kind, 'live');
  t.is(b.store.recordOf('drop 192.0.2.1/32')?.kind, 'live');
  t.is(b.store.recordOf(`drop ${(records[0] as ReturnType<typeof live>).entry.cidr.text}`)?.kind === 'live' ? 'a' : '', 'a');
  // With 4 lookup hashes per bucket nearly every record is ambiguous: sent, not skipped.
  t.true((sa.status().lastReconciliation?.recordsSent ?? 0) > 8);
});

test('an older peer (protocol 1) gets a full snapshot both ways and converges', async (t) => {
  const { a, b, records } = await diverged(200);
  a.store.applyLocal(live((records[3] as ReturnType<typeof live>).entry.cidr.text, a.hlc.next(), { tag: 'a' }));
  b.store.applyLocal(live('192.0.2.9/32', b.hlc.next()));
  const { sa, sb, toA, toB, pump } = pair(a.hub, b.hub, 8, {}, { protocolVersion: 1 });
  sa.start();
  sb.start();
  await pump();
  t.true(sa.status().fullSnapshot);
  t.true(sb.status().fullSnapshot);
  t.is(sa.status().lastReconciliation?.recordsSent, 200);
  t.is(sb.status().lastReconciliation?.recordsSent, 201);
  t.deepEqual(describeAll(a.store.records()), describeAll(b.store.records()));
  t.is(toA.length + toB.length, 0);
});

test('summaries reordered (last first, records before summaries) and duplicated still converge', async (t) => {
  const { a, b, records } = await diverged(1000);
  for (let i = 0; i < 40; i++) a.store.applyLocal(live((records[i] as ReturnType<typeof live>).entry.cidr.text, a.hlc.next(), { tag: 'a' }));
  for (let i = 500; i < 530; i++) b.store.applyLocal(tomb((records[i] as ReturnType<typeof live>).entry.cidr.text, b.hlc.next()));
  // Small chunks: several summary messages each way.
  const { sa, sb, toA, toB, pump } = pair(a.hub, b.hub, 8, { maxChunkBytes: 600 });
  sa.start();
  sb.start();
  for (let round = 0; round < 50 && toA.length + toB.length > 0; round++) {
    const forA = toA.splice(0).reverse();
    const forB = toB.splice(0).reverse();
    for (const m of forA) { await sa.onMessage(m); if (m.type === 'summaries') await sa.onMessage(m); }
    for (const m of forB) { await sb.onMessage(m); if (m.type === 'summaries') await sb.onMessage(m); }
  }
  await pump();
  t.deepEqual(describeAll(a.store.records()), describeAll(b.store.records()));
  t.is(sa.status().phase, 'streaming');
  t.is(sb.status().phase, 'streaming');
});

test('issue 14 (3): a record dated beyond max_clock_offset_ms is refused, counted and reported; the clock does not move', async (t) => {
  const clock = new ManualClock(NOW);
  const scheduler = new ManualScheduler(clock);
  const a = node('a', clock, scheduler);
  const b = node('b', clock, scheduler);
  const events: string[] = [];
  const { sa, sb, pump } = pair(a.hub, b.hub, 8, {}, { maxClockOffsetMs: 60_000, onEvent: (e) => void events.push(e.type) });
  sa.start();
  sb.start();
  await pump();
  // A peer (or a record it relays) dated at the end of time, one just within the bound.
  a.store.applyLocal(live('10.9.0.0/16', v(Number.MAX_SAFE_INTEGER, 0, 'a')));
  a.store.applyLocal(live('10.8.0.0/16', v(NOW + 59_000, 0, 'a')));
  scheduler.advance(250);
  await pump();
  t.is(b.store.recordOf('drop 10.9.0.0/16'), undefined);
  t.is(b.store.recordOf('drop 10.8.0.0/16')?.kind, 'live');
  t.is(sb.status().recordsRefused, 1);
  t.regex(sb.status().lastError ?? '', /refused 1 record\(s\) whose version is up to \d+ ms ahead .*max_clock_offset_ms = 60000/);
  t.deepEqual(events, ['clock-offset-refused']);
  const next = b.hlc.next();
  t.true(next.wallMs < NOW + 60_000, `b's clock was dragged to ${next.wallMs}`);
  t.is(sb.status().phase, 'streaming');
});

test('issue 14 (4): a message that cannot be sent is counted, reported and ends the session (never dropped silently)', async (t) => {
  const clock = new ManualClock(NOW);
  const scheduler = new ManualScheduler(clock);
  const a = node('a', clock, scheduler);
  const errors: unknown[] = [];
  const events: string[] = [];
  let fail = false;
  const session = new MeshSession(
    a.hub,
    (m) => {
      if (fail && m.type !== 'hello' && m.type !== 'digests') throw new Error('invalid uint32: 4294967296');
    },
    { onError: (e) => void errors.push(e), onEvent: (e) => void events.push(e.type) },
  );
  session.start();
  fail = true;
  await session.onMessage({ type: 'hello', nodeId: 'b', bucketCount: a.hub.digests.bucketCount, protocolVersion: 2 });
  await session.onMessage({ type: 'digests', digests: new BigUint64Array(a.hub.digests.bucketCount) });
  t.true(session.status().sendFailures >= 1);
  t.regex(session.status().lastError ?? '', /could not send a summaries message: invalid uint32/);
  t.true(events.includes('send-failed'));
  t.true(errors.length >= 1);
  t.regex(String((errors[0] as Error).message), /could not send/);
});

test('splitByClockOffset keeps the input when nothing is refused, and reports the furthest refused version', (t) => {
  const within = [live('10.0.0.0/8', v(NOW, 0, 'a')), live('10.1.0.0/16', v(NOW + 60_000, 3, 'a'))];
  const same = splitByClockOffset(within, NOW, 60_000);
  t.is(same.accepted, within);
  t.is(same.refused, 0);
  const mixed = splitByClockOffset([...within, live('10.2.0.0/16', v(NOW + 120_000, 0, 'b')), live('10.3.0.0/16', v(NOW + 90_000, 0, 'b'))], NOW, 60_000);
  t.is(mixed.accepted.length, 2);
  t.is(mixed.refused, 2);
  t.is(mixed.aheadMs, 120_000);
  t.is(mixed.example, `${NOW + 120_000}.0@b`);
});
