// The bus link on the in-memory stream with a manual clock: convergence for each
// role, publish-only fleets compacting, resume from the cursor, NATS down and back
// (jittered backoff on the scheduler), lost, stalled and reordered deliveries.
import test from 'ava';
import { parseCidr } from '../../../src/domain/cidr.js';
import type { ReplicatedRecord } from '../../../src/domain/replicated-record.js';
import { decodeBatch } from '../../../src/replication/bus/bus-batch-codec.js';
import { BusWorld, type WorldNode } from './bus-world.js';
import { describeAll } from '../replication/fixtures.js';

const hostCidr = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`;

function add(node: WorldNode, cidr: string, tag = 't'): void {
  const record: ReplicatedRecord = {
    kind: 'live',
    entry: { policy: 'drop', cidr: parseCidr(cidr), tag, expiration: 0, createdAt: 1_700_000_000, originNode: node.id, source: 'api', version: node.hlc.next() },
  };
  if (!node.store.applyLocal(record)) throw new Error(`add ${cidr} refused`);
}

function remove(node: WorldNode, cidr: string): void {
  node.store.applyLocal({ kind: 'tombstone', policy: 'drop', cidr: parseCidr(cidr), version: node.hlc.next(), deletedExpiration: 0 });
}

const same = (a: WorldNode, b: WorldNode): boolean => JSON.stringify(describeAll(a.store.records())) === JSON.stringify(describeAll(b.store.records()));

test('two publish+consume nodes and a consume-only one converge; the consume-only node publishes nothing', async (t) => {
  const world = new BusWorld(7);
  const a = world.addNode('a', 'both');
  const b = world.addNode('b', 'both');
  const c = world.addNode('c', 'consume');
  for (let i = 0; i < 300; i++) add(a, hostCidr(i));
  for (let i = 300; i < 400; i++) add(b, hostCidr(i));
  for (let i = 0; i < 50; i++) remove(b, hostCidr(i));
  add(c, '192.168.7.0/24', 'local-only');
  t.true(await world.until(() => a.store.size === 400 && same(a, b) && c.store.size === 401));
  t.is(a.store.recordOf('drop 10.0.0.5/32')?.kind, 'tombstone');
  t.is(a.store.recordOf('drop 192.168.7.0/24'), undefined);
  for (const m of world.server.held()) t.not(m.node, 'c');
  t.is(c.link.linkStatuses()[0]?.recordsSent, 0);
  t.true(await world.until(() => a.link.linkStatuses()[0]?.pendingDeltas === 0 && b.link.linkStatuses()[0]?.pendingDeltas === 0));
  t.is(a.link.linkStatuses()[0]?.state, 'connected');
  await world.stopAll();
});

test('a fleet of publish-only nodes compacts the stream past the configured threshold; a new consumer converges from it', async (t) => {
  const world = new BusWorld(11);
  const extra = { compactMinBytes: 4_000, compactCheckIntervalMs: 5_000 };
  const p1 = world.addNode('p1', 'publish', extra);
  const p2 = world.addNode('p2', 'publish', extra);
  // Many small batches: one flush tick each, rewriting the same keys.
  for (let round = 0; round < 30; round++) {
    add(round % 2 === 0 ? p1 : p2, hostCidr(round % 10), `r${round}`);
    add(p2, hostCidr(100 + (round % 5)), `r${round}`);
    await world.advance(300);
  }
  for (let i = 0; i < 3; i++) remove(p1, hostCidr(i));
  t.true(await world.until(() => p1.link.compactions + p2.link.compactions > 0, 60_000), 'someone compacted');
  t.true(await world.until(() => p1.link.idle && p2.link.idle));
  const info = world.server.info;
  t.true(info.firstSeq > 1, `first seq ${info.firstSeq}`);
  t.true(world.server.counts.purged > 0);
  // What is left in the stream still describes the whole state: a fresh consumer converges.
  const fresh = world.addNode('fresh', 'consume');
  t.true(await world.until(() => fresh.link.caughtUp && fresh.store.size === 15));
  t.is(fresh.store.recordOf('drop 10.0.0.1/32')?.kind, 'tombstone');
  t.is(fresh.store.recordOf('drop 10.0.0.9/32')?.kind, 'live');
  const newest = fresh.store.recordOf('drop 10.0.0.104/32');
  t.is(newest?.kind === 'live' ? newest.entry.tag : undefined, 'r29');
  // The stream does not keep growing: it stays near its snapshot, no compaction loop.
  const compactions = p1.link.compactions + p2.link.compactions;
  await world.advance(60_000);
  t.is(p1.link.compactions + p2.link.compactions, compactions, 'no new compaction without new writes');
  await world.stopAll();
});

test('the threshold holds: below it nothing is compacted', async (t) => {
  const world = new BusWorld(3);
  const p = world.addNode('p', 'publish', { compactMinBytes: 10_000_000, compactCheckIntervalMs: 1_000 });
  for (let round = 0; round < 20; round++) {
    add(p, hostCidr(round % 3), `r${round}`);
    await world.advance(300);
  }
  await world.advance(10_000);
  t.is(p.link.compactions, 0);
  t.is(world.server.info.firstSeq, 1);
  await world.advance(500); // let a periodic check in progress finish
  const forced = p.link.maybeCompact(true);
  await world.advance(1_000);
  t.true(await forced, 'forced compaction still works');
  t.true(world.server.info.firstSeq > 1);
  await world.stopAll();
});

test('a restarted consumer resumes after its saved cursor and reads only what changed', async (t) => {
  const world = new BusWorld(5);
  const a = world.addNode('a', 'publish');
  const b = world.addNode('b', 'consume');
  for (let i = 0; i < 500; i++) add(a, hostCidr(i));
  t.true(await world.until(() => b.store.size === 500 && b.link.caughtUp));
  const seq = b.link.consumedSeq;
  t.true(seq > 0);
  await world.restart(b, 'consume');
  t.is(b.cursorStore.saved?.consumedSeq, seq, 'cursor saved at stop');
  for (let i = 0; i < 20; i++) remove(a, hostCidr(i));
  t.true(await world.until(() => b.store.recordOf('drop 10.0.0.19/32')?.kind === 'tombstone' && b.link.caughtUp));
  const received = b.link.linkStatuses()[0]?.recordsReceived ?? -1;
  t.true(received >= 20 && received < 500, `received ${received}`);
  await world.stopAll();
});

test('NATS down: changes wait in the outbox, the link backs off with jitter, and everything goes out when it is back', async (t) => {
  const world = new BusWorld(9);
  const a = world.addNode('a', 'both');
  const b = world.addNode('b', 'both');
  t.true(await world.until(() => a.link.linkStatuses()[0]?.state === 'connected'));
  world.server.setDown(true);
  for (let i = 0; i < 200; i++) add(a, hostCidr(i));
  await world.advance(20_000);
  const status = a.link.linkStatuses()[0];
  t.not(status?.state, 'connected');
  t.is(status?.pendingDeltas, 200);
  t.regex(status?.lastError ?? '', /connection (lost|refused)/);
  const sessionsWhileDown = world.server.counts.sessions;
  world.server.setDown(false);
  t.true(await world.until(() => b.store.size === 200 && same(a, b)));
  t.true(world.server.counts.sessions > sessionsWhileDown);
  await world.stopAll();
});

test('lost requests, lost and reordered deliveries, stalled readers and a stalled server: still converges', async (t) => {
  const world = new BusWorld(13, { loseRate: 0.05, reorder: true, maxDelayMs: 30 });
  const a = world.addNode('a', 'both');
  const b = world.addNode('b', 'both');
  const c = world.addNode('c', 'consume');
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 40; i++) add(round % 2 === 0 ? a : b, hostCidr(round * 40 + i));
    if (round === 3) world.server.stallReaders(true);
    if (round === 6) world.server.stallReaders(false);
    if (round === 8) world.server.stallFor(8_000);
    await world.advance(2_000);
  }
  t.true(world.server.counts.lostRequests > 0 && world.server.counts.skippedDeliveries > 0);
  world.server.faults.loseRate = 0;
  t.true(await world.until(() => a.store.size === 400 && same(a, b) && same(a, c), 300_000), `a ${a.store.size} b ${b.store.size} c ${c.store.size}`);
  await world.stopAll();
});

test('a recreated stream is read whole and the publishers republish their state into it', async (t) => {
  const world = new BusWorld(17);
  const a = world.addNode('a', 'publish');
  const b = world.addNode('b', 'consume');
  for (let i = 0; i < 100; i++) add(a, hostCidr(i));
  t.true(await world.until(() => b.store.size === 100 && a.link.idle));
  world.server.recreate();
  t.true(await world.until(() => world.server.info.lastSeq > 0 && a.link.idle));
  const republished = new Set<string>();
  for (const m of world.server.held()) for (const r of decodeBatch(m.data)) republished.add(r.kind === 'live' ? r.entry.cidr.text : r.cidr.text);
  t.is(republished.size, 100);
  const late = world.addNode('late', 'consume');
  t.true(await world.until(() => late.store.size === 100));
  await world.stopAll();
});

test('a consumer that was away while the stream was compacted converges from the snapshot (store- and stream-based compaction)', async (t) => {
  for (const compactor of ['both', 'publish'] as const) {
    const world = new BusWorld(23);
    const p = world.addNode('p', compactor, { compactMinBytes: 1, compactCheckIntervalMs: 1_000_000 });
    const away = world.addNode('away', 'consume');
    for (let i = 0; i < 50; i++) add(p, hostCidr(i));
    t.true(await world.until(() => away.store.size === 50 && away.link.caughtUp));
    const stopping = away.link.stop();
    await world.advance(10);
    await stopping;
    for (let i = 0; i < 10; i++) remove(p, hostCidr(i));
    for (let i = 50; i < 60; i++) add(p, hostCidr(i));
    t.true(await world.until(() => p.link.idle && (compactor === 'publish' || p.link.caughtUp)));
    const forced = p.link.maybeCompact(true);
    await world.advance(2_000);
    t.true(await forced, `${compactor}: compacted`);
    t.true(world.server.info.firstSeq > (away.cursorStore.saved?.consumedSeq ?? 0) + 1, 'what the consumer had not read is purged');
    await world.restart(away, 'consume');
    t.true(await world.until(() => away.link.caughtUp && away.store.size === 60 && same(away, p)), `${compactor}: converged (${away.store.size})`);
    await world.stopAll();
  }
});

test('a change relayed from the mesh with an old stamp, still unpublished when the link restarts, is published after the restart', async (t) => {
  const world = new BusWorld(29);
  const y = world.addNode('y', 'both');
  const z = world.addNode('z', 'consume');
  add(y, hostCidr(1));
  t.true(await world.until(() => z.store.size === 1 && y.link.idle));
  await world.advance(30_000);
  add(y, hostCidr(2)); // published and acked: y's "everything published through" moves to now
  t.true(await world.until(() => z.store.size === 2 && y.link.idle));
  await world.advance(2_000);
  world.server.setDown(true);
  // A peer partitioned from y for a while wrote this 20 s ago; the mesh hands it over only now.
  const old: ReplicatedRecord = {
    kind: 'live',
    entry: { policy: 'drop', cidr: parseCidr('10.9.9.0/24'), tag: 'late', expiration: 0, createdAt: 1_700_000_000, originNode: 'x', source: 'api', version: { wallMs: world.clock.nowMs() - 20_000, counter: 0, origin: 'x' } },
  };
  const relayed = y.hub.receive('peer-x', [old]);
  await world.advance(10);
  await relayed;
  t.is(y.link.linkStatuses()[0]?.pendingDeltas, 1);
  await world.restart(y, 'both'); // its outbox is gone with the process
  world.server.setDown(false);
  t.true(await world.until(() => z.store.recordOf('drop 10.9.9.0/24') !== undefined, 60_000), 'z got the relayed change');
  await world.stopAll();
});

test('what a node read from the bus does not count as owed: after a restart it republishes none of it', async (t) => {
  const world = new BusWorld(31);
  const p = world.addNode('p', 'publish');
  for (let i = 0; i < 100; i++) add(p, hostCidr(i));
  t.true(await world.until(() => p.link.idle));
  await world.advance(20_000);
  const q = world.addNode('q', 'both'); // reads the 100 records, stamped 20 s ago
  t.true(await world.until(() => q.store.size === 100 && q.link.caughtUp));
  add(q, hostCidr(500));
  t.true(await world.until(() => q.link.idle));
  await world.advance(2_000);
  await world.restart(q, 'both');
  await world.advance(5_000);
  t.true(await world.until(() => q.link.idle && q.link.caughtUp));
  const fromQ = world.server.held().filter((m) => m.node === 'q').flatMap((m) => decodeBatch(m.data));
  t.true(fromQ.length >= 1 && fromQ.every((r) => (r.kind === 'live' ? r.entry.originNode : '') === 'q'), `q published ${fromQ.length} records`);
  await world.stopAll();
});
