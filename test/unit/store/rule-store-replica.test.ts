// RuleStore as the replication core sees it (ReplicaStore): versions on local writes,
// last-writer-wins merges, tombstones, expiry kept as data, garbage collection.
import test from 'ava';
import { parseCidr } from '../../../src/domain/cidr.js';
import { ManualClock } from '../../../src/domain/clock.js';
import type { RuleEntry } from '../../../src/domain/entry.js';
import type { Policy } from '../../../src/domain/policy.js';
import { recordKey, type ReplicatedRecord, type TombstoneRecord } from '../../../src/domain/replicated-record.js';
import { HybridClock, type Version } from '../../../src/domain/version.js';
import { UserspaceDataPlane } from '../../../src/dataplane/userspace-dataplane.js';
import type { RecordChange, RecordChangeOrigin } from '../../../src/replication/replica-store.js';
import type { PersistedChange, RulePersistence } from '../../../src/store/persistence.js';
import { RuleStore } from '../../../src/store/rule-store.js';

const T0_MS = 1_700_000_000_000;
const LIFETIME_MS = 60_000;

class RecordingPersistence implements RulePersistence {
  readonly recorded: PersistedChange[] = [];
  async load(): Promise<ReplicatedRecord[]> {
    return [];
  }
  async record(changes: readonly PersistedChange[]): Promise<void> {
    this.recorded.push(...changes);
  }
  async close(): Promise<void> {}
}

function setup(nodeId = 'node-a') {
  const clock = new ManualClock(T0_MS);
  const dataPlane = new UserspaceDataPlane();
  const persistence = new RecordingPersistence();
  const store = new RuleStore({ clock, dataPlane, persistence, hlc: new HybridClock(clock, nodeId), tombstoneLifetimeMs: LIFETIME_MS });
  const seen: { origin: RecordChangeOrigin; change: RecordChange }[] = [];
  store.onRecordChange((changes, origin) => seen.push(...changes.map((change) => ({ origin, change }))));
  return { clock, dataPlane, persistence, store, seen };
}

function entry(cidr: string, opts: Partial<Omit<RuleEntry, 'cidr'>> = {}): RuleEntry {
  return { policy: 'drop', cidr: parseCidr(cidr), tag: '', expiration: 0, createdAt: T0_MS / 1000, originNode: 'node-a', source: 'api', ...opts };
}

function remoteLive(cidr: string, version: Version, opts: Partial<Omit<RuleEntry, 'cidr'>> = {}): ReplicatedRecord {
  return { kind: 'live', entry: { ...entry(cidr, { originNode: version.origin, ...opts }), version } };
}

function remoteTombstone(cidr: string, version: Version, policy: Policy = 'drop'): TombstoneRecord {
  return { kind: 'tombstone', policy, cidr: parseCidr(cidr), version, deletedExpiration: 0 };
}

const v = (wallMs: number, origin = 'node-b', counter = 0): Version => ({ wallMs, counter, origin });

test('local writes get increasing versions from the node clock; deletes leave tombstones', async (t) => {
  const { store, persistence, seen } = setup();
  await store.addRules([entry('10.0.0.0/8'), entry('10.0.0.1/32')]);
  await store.deleteRules([{ policy: 'drop', cidr: parseCidr('10.0.0.0/8') }]);
  const versions = persistence.recorded.map((r) => (r.kind === 'live' ? r.entry.version : r.version));
  t.deepEqual(versions, [v(T0_MS, 'node-a', 0), v(T0_MS, 'node-a', 1), v(T0_MS, 'node-a', 2)]);
  t.is(store.recordOf('drop 10.0.0.0/8')?.kind, 'tombstone');
  t.is(store.get('drop', parseCidr('10.0.0.0/8')), undefined);
  t.deepEqual(
    seen.map(({ origin, change }) => `${origin} ${change.before?.kind ?? '-'}>${change.after?.kind ?? '-'}`),
    ['local ->live', 'local ->live', 'local live>tombstone'],
  );
});

test('mergeRemote: the greater version wins whatever the arrival order; equal or older change nothing', async (t) => {
  const orders = [
    [remoteLive('1.1.1.1/32', v(T0_MS + 5), { tag: 'new' }), remoteLive('1.1.1.1/32', v(T0_MS + 1), { tag: 'old' })],
    [remoteLive('1.1.1.1/32', v(T0_MS + 1), { tag: 'old' }), remoteLive('1.1.1.1/32', v(T0_MS + 5), { tag: 'new' })],
  ];
  for (const order of orders) {
    const { store } = setup();
    const changed = [...(await store.mergeRemote([order[0]!])), ...(await store.mergeRemote([order[1]!]))];
    t.is(store.get('drop', parseCidr('1.1.1.1/32'))?.tag, 'new');
    t.is(changed.length, order[0]!.kind === 'live' && order[0]!.entry.tag === 'old' ? 2 : 1);
    t.deepEqual(await store.mergeRemote([order[1]!]), [], 'a duplicate changes nothing');
  }
});

test('a tombstone beats an older add and a stale add cannot resurrect the rule', async (t) => {
  const { store } = setup();
  await store.mergeRemote([remoteLive('2.2.2.0/24', v(T0_MS + 1))]);
  await store.mergeRemote([remoteTombstone('2.2.2.0/24', v(T0_MS + 2, 'node-c'))]);
  t.is(store.get('drop', parseCidr('2.2.2.0/24')), undefined);
  t.deepEqual(await store.mergeRemote([remoteLive('2.2.2.0/24', v(T0_MS + 1))]), []);
  t.is(store.get('drop', parseCidr('2.2.2.0/24')), undefined);
  const readd = await store.mergeRemote([remoteLive('2.2.2.0/24', v(T0_MS + 3))]);
  t.is(readd.length, 1);
  t.truthy(store.get('drop', parseCidr('2.2.2.0/24')));
});

test('the policy is part of the key: an ignore record never touches the drop rule', async (t) => {
  const { store } = setup();
  await store.mergeRemote([remoteLive('3.3.3.0/24', v(T0_MS + 1), { policy: 'ignore', tag: 'ok' })]);
  t.is(store.get('ignore', parseCidr('3.3.3.0/24'))?.tag, 'ok');
  t.is(store.get('drop', parseCidr('3.3.3.0/24')), undefined);
  await store.mergeRemote([remoteTombstone('3.3.3.0/24', v(T0_MS + 2), 'drop')]);
  t.is(store.get('ignore', parseCidr('3.3.3.0/24'))?.tag, 'ok');
});

test('received entries are kept as source "peer" with their origin; the node clock moves past them', async (t) => {
  const { store, persistence } = setup();
  await store.mergeRemote([remoteLive('4.4.4.4/32', v(T0_MS + 10_000), { source: 'api' })]);
  t.like(store.get('drop', parseCidr('4.4.4.4/32')), { source: 'peer', originNode: 'node-b' });
  t.is(persistence.recorded.length, 1, 'merged records are journaled');
  await store.addRules([entry('4.4.4.4/32', { tag: 'local' })]);
  const local = store.recordOf('drop 4.4.4.4/32');
  t.true(local?.kind === 'live' && local.entry.version.wallMs === T0_MS + 10_000 && local.entry.version.counter === 1);
  t.is(store.get('drop', parseCidr('4.4.4.4/32'))?.tag, 'local', 'a write made after seeing a remote one wins over it');
});

test('expiry is data: the record stays (same version) after the sweep, until collected', async (t) => {
  const { clock, store, dataPlane, seen } = setup();
  await store.addRules([entry('5.5.5.5/32', { expiration: T0_MS / 1000 + 10 })]);
  const before = store.recordOf('drop 5.5.5.5/32');
  clock.advanceMs(11_000);
  store.sweepExpired();
  await store.settle();
  t.is(dataPlane.entryCount('drop'), 0);
  t.deepEqual(store.recordOf('drop 5.5.5.5/32'), before);
  t.is([...store.records()].length, 1);
  t.is(seen.length, 1, 'expiry is not a record change');
  // An older remote write cannot bring the expired rule back.
  t.deepEqual(await store.mergeRemote([remoteLive('5.5.5.5/32', v(T0_MS - 1))]), []);
  t.is(store.collectGarbage(clock.nowMs()), 0);
  clock.advanceMs(LIFETIME_MS);
  t.is(store.collectGarbage(clock.nowMs()), 1);
  t.is(store.recordOf('drop 5.5.5.5/32'), undefined);
  t.like(seen.at(-1), { origin: 'gc', change: { before } });
});

test('an expired remote record is stored dormant, never enforced', async (t) => {
  const { store, dataPlane } = setup();
  const changed = await store.mergeRemote([remoteLive('6.6.6.6/32', v(T0_MS), { expiration: T0_MS / 1000 - 1 })]);
  t.is(changed.length, 1);
  await store.settle();
  t.is(dataPlane.entryCount('drop'), 0);
  t.is(store.recordOf('drop 6.6.6.6/32')?.kind, 'live');
});

test('tombstones are collected after the lifetime; records already collectable are refused', async (t) => {
  const { clock, store } = setup();
  await store.addRules([entry('7.7.7.7/32')]);
  await store.deleteRules([{ policy: 'drop', cidr: parseCidr('7.7.7.7/32') }]);
  clock.advanceMs(LIFETIME_MS - 1);
  t.is(store.collectGarbage(clock.nowMs()), 0);
  clock.advanceMs(1);
  t.is(store.collectGarbage(clock.nowMs()), 1);
  t.deepEqual([...store.records()], []);
  t.deepEqual(await store.mergeRemote([remoteTombstone('8.8.8.8/32', v(T0_MS - LIFETIME_MS))]), []);
});

test('restore keeps tombstones and expired records, drops collectable ones, and moves the clock past them', async (t) => {
  const { store } = setup();
  const tombstone = remoteTombstone('9.9.9.0/24', v(T0_MS + 50_000, 'node-c'));
  await store.restore([
    tombstone,
    remoteLive('9.9.8.0/24', v(T0_MS - 1), { expiration: T0_MS / 1000 - 5 }),
    remoteTombstone('9.9.7.0/24', v(T0_MS - LIFETIME_MS - 1)),
    remoteLive('9.9.6.0/24', v(T0_MS - 1)),
  ]);
  t.deepEqual(
    [...store.records()].map((r) => `${recordKey(r)} ${r.kind}`).sort(),
    ['drop 9.9.6.0/24 live', 'drop 9.9.8.0/24 live', 'drop 9.9.9.0/24 tombstone'],
  );
  t.deepEqual([...store.list()].flat().map((e) => e.cidr.text), ['9.9.6.0/24']);
  await store.addRules([entry('9.9.9.0/24')]);
  const readded = store.recordOf('drop 9.9.9.0/24');
  t.true(readded?.kind === 'live' && readded.entry.version.wallMs === T0_MS + 50_000);
});

test('a remote write on a key held by a static set is kept underneath; the set entry stays in force', async (t) => {
  const { store } = setup();
  await store.applySetDeltas([{ policy: 'drop', upserts: [{ cidr: parseCidr('11.0.0.0/8'), tag: 'bad.couic' }], removals: [] }]);
  await store.mergeRemote([remoteLive('11.0.0.0/8', v(T0_MS + 1), { tag: 'peer' })]);
  t.is(store.get('drop', parseCidr('11.0.0.0/8'))?.tag, 'bad.couic');
  t.is([...store.records()].length, 1, 'set entries are never records');
  await store.applySetDeltas([{ policy: 'drop', upserts: [], removals: [parseCidr('11.0.0.0/8')] }]);
  t.is(store.get('drop', parseCidr('11.0.0.0/8'))?.tag, 'peer');
});

test('a replaced entry expires at its new expiration, earlier or later, however often it was replaced', async (t) => {
  const { clock, store } = setup();
  const t0 = T0_MS / 1000;
  for (let i = 0; i < 10_000; i++) await store.addRules([entry('12.0.0.1/32', { expiration: t0 + 10 + (i % 7) })]);
  await store.addRules([entry('12.0.0.1/32', { expiration: t0 + 100 }), entry('12.0.0.2/32', { expiration: t0 + 100 })]);
  await store.addRules([entry('12.0.0.2/32', { expiration: t0 + 5 })]);
  clock.advanceMs(20_000);
  store.sweepExpired();
  t.truthy(store.get('drop', parseCidr('12.0.0.1/32')), 'later expiration kept');
  t.is(store.get('drop', parseCidr('12.0.0.2/32')), undefined, 'earlier expiration applied');
  t.is(store.recordOf('drop 12.0.0.2/32')?.kind, 'live', 'the expired entry stays a record');
  clock.advanceMs(81_000);
  t.is(store.sweepExpired(), 1);
  t.is(store.get('drop', parseCidr('12.0.0.1/32')), undefined);
});
