// ReplicationHub: local changes fan out to every outbox, received records are relayed
// to the other links only when they changed state, digests/feed follow the store,
// flush listeners run per tick while records are pending, GC runs on its tick.
import test from 'ava';
import { ManualClock } from '../../../src/domain/clock.js';
import { HybridClock } from '../../../src/domain/version.js';
import { BucketDigests } from '../../../src/replication/core/bucket-digests.js';
import { MemoryReplicaStore } from '../../../src/replication/core/memory-replica-store.js';
import { ReplicationHub } from '../../../src/replication/core/replication-hub.js';
import { ManualScheduler } from '../../../src/domain/scheduler.js';
import { describeAll, live, tomb, v } from './fixtures.js';

const NOW = 1_700_000_000_000;

function setup() {
  const clock = new ManualClock(NOW);
  const scheduler = new ManualScheduler(clock);
  const store = new MemoryReplicaStore({ clock, tombstoneLifetimeMs: 60_000 });
  const hlc = new HybridClock(clock, 'me');
  const hub = new ReplicationHub({ store, hlc, clock, scheduler, bucketCount: 32, gcIntervalMs: 1000 });
  return { clock, scheduler, store, hlc, hub };
}

test('local changes reach every open outbox; existing state is digested at start', (t) => {
  const { store, hub, hlc } = setup();
  const before = live('10.9.0.0/16', v(NOW - 1));
  store.applyLocal(before);
  hub.start();
  t.deepEqual(hub.digests.all(), BucketDigests.of([before], 32).all());
  const x = hub.openOutbox('x');
  const y = hub.openOutbox('y');
  t.is(x.pendingKeys, 0); // reconciliation covers what existed before
  store.applyLocal(live('10.0.0.0/8', hlc.next()));
  t.is(x.pendingKeys, 1);
  t.is(y.pendingKeys, 1);
  t.is(hub.feed.currentSeq, 1);
  t.deepEqual(hub.digests.all(), BucketDigests.of(store.records(), 32).all());
  hub.closeOutbox('x');
  t.deepEqual(hub.linkIds(), ['y']);
});

test('receive observes versions, merges, and relays only state changes to the other links', async (t) => {
  const { hub, hlc } = setup();
  hub.start();
  const x = hub.openOutbox('x');
  const y = hub.openOutbox('y');
  const remote = live('10.0.0.0/8', v(NOW + 50_000, 3, 'peer'));
  t.deepEqual(await hub.receive('x', [remote]), [remote]);
  t.is(x.pendingKeys, 0);
  t.is(y.pendingKeys, 1);
  t.true(hlc.next().wallMs >= NOW + 50_000); // causally after what it saw
  y.clear();
  t.deepEqual(await hub.receive('y', [remote]), []); // duplicate: not forwarded (loops die out)
  t.is(x.pendingKeys, 0);
  const older = tomb('10.0.0.0/8', v(NOW, 0, 'peer'));
  t.deepEqual(await hub.receive('y', [older]), []);
  t.is(hub.feed.currentSeq, 1);
});

test('flush listeners run at once on an idle link, then once per interval while records stay pending; GC runs on its tick', (t) => {
  const { store, hub, hlc, scheduler } = setup();
  hub.start();
  hub.openOutbox('x');
  let flushes = 0;
  const unsubscribe = hub.onFlush('x', () => flushes++);
  scheduler.advance(1000);
  t.is(flushes, 0);
  store.applyLocal(tomb('10.0.0.0/8', hlc.next()));
  scheduler.advance(0);
  t.is(flushes, 1); // idle for a full interval: no wait (leading edge)
  scheduler.advance(249);
  t.is(flushes, 1);
  scheduler.advance(251);
  t.is(flushes, 3); // the listener took nothing: retried each interval
  unsubscribe();
  scheduler.advance(500);
  t.is(flushes, 3);
  scheduler.advance(61_000);
  t.is(store.size, 0);
  t.is(hub.collected, 1);
  t.deepEqual(hub.digests.all(), new BucketDigests(32).all());
  hub.stop();
  t.is(scheduler.pending, 0);
});

test('recordsInBuckets returns exactly the records of those buckets', async (t) => {
  const { hub, store } = setup();
  hub.start();
  const records = Array.from({ length: 50 }, (_, i) => live(`10.0.${i}.0/24`, v(NOW)));
  await store.mergeRemote(records);
  const buckets = [0, 5, 17];
  const want = records.filter((r) => buckets.includes(hub.digests.bucketOf(`drop ${r.entry.cidr.text}`)));
  t.deepEqual(describeAll(hub.recordsInBuckets(buckets)), describeAll(want));
  t.is(hub.recordsInBuckets([...Array(32).keys()]).length, 50);
  t.is(hub.recordsInBuckets([]).length, 0);
});

test('under steady changes a link flushes at most once per interval, and a sparse change goes out at once', (t) => {
  const { store, hub, hlc, scheduler, clock } = setup();
  hub.start();
  const x = hub.openOutbox('x');
  const flushedAt: number[] = [];
  hub.onFlush('x', () => {
    flushedAt.push(clock.nowMs() - NOW);
    while (x.takeChunk(1 << 20) !== undefined);
  });
  // A change every 10 ms for one second.
  for (let i = 0; i < 100; i++) {
    store.applyLocal(live(`10.0.${i}.0/24`, hlc.next()));
    scheduler.advance(10);
  }
  // The first change found the link idle; the others waited for the next interval.
  t.deepEqual(flushedAt, [0, 250, 500, 750, 1000]);
  t.is(x.pendingKeys, 0);
  scheduler.advance(5000); // idle: the next change is not held back
  store.applyLocal(live('10.9.0.0/16', hlc.next()));
  scheduler.advance(0);
  t.deepEqual(flushedAt, [0, 250, 500, 750, 1000, 6000]);
});

test('delta chunks hold deltaChunkRecords records, or a quarter of a larger backlog', (t) => {
  const clock = new ManualClock(NOW);
  const store = new MemoryReplicaStore({ clock, tombstoneLifetimeMs: 60_000 });
  const hlc = new HybridClock(clock, 'me');
  const hub = new ReplicationHub({ store, hlc, clock, scheduler: new ManualScheduler(clock), deltaChunkRecords: 4 });
  hub.start();
  const x = hub.openOutbox('x');
  for (let i = 0; i < 10; i++) store.applyLocal(live(`10.0.${i}.0/24`, hlc.next()));
  const sizes: number[] = [];
  for (let chunk = x.takeChunk(1 << 20); chunk !== undefined; chunk = x.takeChunk(1 << 20)) sizes.push(chunk.records.length);
  t.deepEqual(sizes, [4, 4, 2]);
  for (let i = 0; i < 100; i++) store.applyLocal(live(`10.1.${i}.0/24`, hlc.next()));
  sizes.length = 0;
  for (let chunk = x.takeChunk(1 << 20); chunk !== undefined; chunk = x.takeChunk(1 << 20)) sizes.push(chunk.records.length);
  t.deepEqual(sizes, [25, 19, 14, 11, 8, 6, 5, 4, 4, 4]);
});

test('records received from a link cancel that link\'s pending copies of the same versions (no echo in a mesh)', async (t) => {
  const { hub, store, hlc } = setup();
  hub.start();
  const x = hub.openOutbox('x');
  const y = hub.openOutbox('y');
  const fromZ = live('10.0.0.0/8', v(NOW + 10, 0, 'z'));
  await hub.receive('z', [fromZ]); // relayed: pending for x and y
  t.is(x.pendingKeys, 1);
  await hub.receive('x', [fromZ]); // x got it from z too
  t.is(x.pendingKeys, 0);
  t.is(x.covered, 1);
  t.is(y.pendingKeys, 1);
  store.applyLocal(live('10.0.0.0/8', hlc.next())); // newer local write: must still reach x
  await hub.receive('x', [fromZ]);
  t.is(x.pendingKeys, 1);
});

test('a received record is not relayed back to the node that wrote it', async (t) => {
  const { hub } = setup();
  hub.start();
  const a = hub.openOutbox('a', { peerNodeId: 'a' });
  const b = hub.openOutbox('b', { peerNodeId: 'b' });
  const bus = hub.openOutbox('bus');
  await hub.receive('b', [live('10.0.0.0/8', v(NOW + 10, 0, 'a'))]); // a's write, relayed by b
  t.is(a.pendingKeys, 0);
  t.is(bus.pendingKeys, 1);
  await hub.receive('bus', [live('10.1.0.0/16', v(NOW + 10, 0, 'c'))]);
  t.is(a.pendingKeys, 1);
  t.is(b.pendingKeys, 1);
});
