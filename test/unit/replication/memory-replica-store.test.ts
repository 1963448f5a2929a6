// MemoryReplicaStore: last-writer-wins merge (commutative, associative, idempotent),
// refusal of collectable records, change notifications, garbage collection.
import test from 'ava';
import fc from 'fast-check';
import { ManualClock } from '../../../src/domain/clock.js';
import type { ReplicatedRecord } from '../../../src/domain/replicated-record.js';
import type { RecordChange, RecordChangeOrigin } from '../../../src/replication/replica-store.js';
import { MemoryReplicaStore } from '../../../src/replication/core/memory-replica-store.js';
import { describeAll, live, tomb, v } from './fixtures.js';

const NOW = 1_700_000_000_000;
const LIFETIME = 60_000;

function store(clock = new ManualClock(NOW)): MemoryReplicaStore {
  return new MemoryReplicaStore({ clock, tombstoneLifetimeMs: LIFETIME });
}

test('mergeRemote keeps the greater version and reports only what changed', async (t) => {
  const s = store();
  const seen: [RecordChange[], RecordChangeOrigin][] = [];
  s.onRecordChange((changes, origin) => seen.push([[...changes], origin]));
  const a = live('10.0.0.0/8', v(NOW, 0, 'a'));
  const b = tomb('10.0.0.0/8', v(NOW, 1, 'b'));
  t.deepEqual(await s.mergeRemote([a]), [a]);
  t.deepEqual(await s.mergeRemote([b, a]), [b]);
  t.deepEqual(await s.mergeRemote([a, b]), []);
  t.is(s.recordOf('drop 10.0.0.0/8'), b);
  t.deepEqual(seen, [[[{ after: a }], 'remote'], [[{ before: a, after: b }], 'remote']]);
  t.false(s.applyLocal(a));
  t.true(s.applyLocal(live('10.0.0.0/8', v(NOW, 2, 'a'))));
  t.is(seen.at(-1)?.[1], 'local');
});

test('the same CIDR under two policies is two keys', async (t) => {
  const s = store();
  await s.mergeRemote([live('10.0.0.0/8', v(NOW), { policy: 'drop' }), live('10.0.0.0/8', v(NOW), { policy: 'ignore' })]);
  t.is(s.size, 2);
  t.is(s.recordOf('ignore 10.0.0.0/8')?.kind, 'live');
});

test('records already collectable are refused; GC forgets them with origin gc', async (t) => {
  const clock = new ManualClock(NOW);
  const s = store(clock);
  const expiredLongAgo = live('10.0.0.0/8', v(NOW - 10 * LIFETIME), { expiration: Math.floor((NOW - 2 * LIFETIME) / 1000) });
  const oldTombstone = tomb('10.1.0.0/16', v(NOW - 2 * LIFETIME));
  t.deepEqual(await s.mergeRemote([expiredLongAgo, oldTombstone]), []);
  const freshTomb = tomb('10.2.0.0/16', v(NOW));
  const forever = live('10.3.0.0/16', v(NOW));
  const expiring = live('10.4.0.0/16', v(NOW), { expiration: Math.floor(NOW / 1000) + 10 });
  await s.mergeRemote([freshTomb, forever, expiring]);
  const origins: RecordChangeOrigin[] = [];
  s.onRecordChange((_c, origin) => origins.push(origin));
  t.is(s.collectGarbage(NOW + LIFETIME - 1), 0);
  t.is(s.collectGarbage(NOW + LIFETIME), 1);
  t.is(s.collectGarbage(NOW + LIFETIME + 10_000), 1);
  t.deepEqual(describeAll(s.records()), describeAll([forever]));
  t.deepEqual(origins, ['gc', 'gc']);
});

const recordArb: fc.Arbitrary<ReplicatedRecord> = fc
  .record({
    cidr: fc.constantFrom('10.0.0.0/8', '10.1.0.0/16', '2001:db8::/32'),
    wall: fc.integer({ min: 0, max: 5 }),
    counter: fc.integer({ min: 0, max: 2 }),
    origin: fc.constantFrom('a', 'b', 'c'),
  })
  // Same version = same write: derive the content from the version so duplicates agree.
  .map(({ cidr, wall, counter, origin }) => {
    const version = v(NOW + wall, counter, origin);
    const tag = (wall + counter) % 2 === 0 ? '' : 'x';
    return (wall + counter + origin.charCodeAt(0)) % 3 !== 0 ? live(cidr, version, { tag }) : tomb(cidr, version);
  });

async function mergedState(batches: ReplicatedRecord[][]): Promise<string[]> {
  const s = store();
  for (const batch of batches) await s.mergeRemote(batch);
  return describeAll(s.records());
}

test('property: merge is commutative, associative and idempotent', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(recordArb, { maxLength: 30 }), fc.array(recordArb, { maxLength: 30 }), fc.array(recordArb, { maxLength: 30 }), async (a, b, c) => {
      const abc = await mergedState([a, b, c]);
      t.deepEqual(await mergedState([c, b, a]), abc); // order of batches
      t.deepEqual(await mergedState([[...a, ...b], c]), abc); // grouping
      t.deepEqual(await mergedState([a, [...b, ...c]]), abc);
      t.deepEqual(await mergedState([[...c, ...a, ...b].reverse()]), abc); // order within a batch
      t.deepEqual(await mergedState([a, b, c, a, b, c]), abc); // idempotence
    }),
    { numRuns: 200 },
  );
});
