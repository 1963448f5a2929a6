// RuleStore unit tests: a ManualClock, a real UserspaceDataPlane and a fake
// in-memory persistence. Covers add/get/list/delete, all-or-nothing batches,
// capacity, expiry (read-time hiding and sweeping), check() precedence and LPM,
// static-set layering, observers, and a model-based property test.
import test from 'ava';
import fc from 'fast-check';
import { parseAddress, parseCidr, type Address } from '../../../src/domain/cidr.js';
import { ManualClock } from '../../../src/domain/clock.js';
import type { RuleEntry } from '../../../src/domain/entry.js';
import { CapacityExceededError, FailedPreconditionError, NotFoundError } from '../../../src/domain/errors.js';
import type { Policy } from '../../../src/domain/policy.js';
import type { ReplicatedRecord } from '../../../src/domain/replicated-record.js';
import { UserspaceDataPlane } from '../../../src/dataplane/userspace-dataplane.js';
import type { PersistedChange, RulePersistence } from '../../../src/store/persistence.js';
import { RuleStore, type ListFilter, type StoreChange } from '../../../src/store/rule-store.js';

const T0 = 1_700_000_000; // seconds

/** Fake persistence: records every `record` call in memory, durable at once. */
class FakePersistence implements RulePersistence {
  readonly calls: PersistedChange[][] = [];
  async load(): Promise<ReplicatedRecord[]> {
    return [];
  }
  async record(changes: readonly PersistedChange[]): Promise<void> {
    this.calls.push([...changes]);
  }
  async close(): Promise<void> {}
  get all(): PersistedChange[] {
    return this.calls.flat();
  }
}

interface Harness {
  clock: ManualClock;
  dp: UserspaceDataPlane;
  persistence: FakePersistence;
  store: RuleStore;
  changes: StoreChange[];
}

function setup(capacityPerFamily?: Record<Policy, number>): Harness {
  const clock = new ManualClock(T0 * 1000);
  const dp = new UserspaceDataPlane();
  const persistence = new FakePersistence();
  const store = new RuleStore({
    clock,
    dataPlane: dp,
    persistence,
    ...(capacityPerFamily === undefined ? {} : { capacityPerFamily }),
  });
  const changes: StoreChange[] = [];
  store.onChange((c) => changes.push(...c));
  return { clock, dp, persistence, store, changes };
}

function entry(policy: Policy, cidr: string, opts: { tag?: string; expiration?: number } = {}): RuleEntry {
  return {
    policy,
    cidr: parseCidr(cidr),
    tag: opts.tag ?? '',
    expiration: opts.expiration ?? 0,
    createdAt: T0,
    originNode: 'node-a',
    source: 'api',
  };
}

/** A live record of `e` as persistence would load it (version from createdAt). */
function live(e: RuleEntry): ReplicatedRecord {
  return { kind: 'live', entry: { ...e, version: { wallMs: e.createdAt * 1000, counter: 0, origin: e.originNode } } };
}

const key = (policy: Policy, cidr: string): { policy: Policy; cidr: ReturnType<typeof parseCidr> } => ({
  policy,
  cidr: parseCidr(cidr),
});

function listAll(store: RuleStore, filter: ListFilter = {}, chunk?: number): RuleEntry[] {
  return [...store.list(filter, chunk)].flat();
}

function listKeys(store: RuleStore, filter: ListFilter = {}): string[] {
  return listAll(store, filter)
    .map((e) => `${e.policy} ${e.cidr.text} ${e.tag}`)
    .sort();
}

/** Classifies one packet and returns the verdict plus the tag counter it fed. */
async function probe(dp: UserspaceDataPlane, address: string): Promise<{ action: string; tag: string | undefined }> {
  const before = await dp.readCounters();
  const action = dp.classify(parseAddress(address), 1);
  const after = await dp.readCounters();
  let tag: string | undefined;
  for (const policy of ['drop', 'ignore'] as const) {
    for (const [name, c] of after.tags[policy]) {
      if (c.packets !== (before.tags[policy].get(name)?.packets ?? 0)) tag = `${policy}:${name}`;
    }
  }
  return { action, tag };
}

// --- add / get / list / delete --------------------------------------------------

test('add, get, list, delete round trip (v4 and v6), reaching the data plane', async (t) => {
  const { store, dp } = setup();
  const r = await store.addRules([
    entry('drop', '10.0.0.0/8', { tag: 'a' }),
    entry('ignore', '10.1.0.0/16'),
    entry('drop', '2001:db8::/32', { tag: 'six' }),
  ]);
  t.deepEqual(r, { added: 3, replaced: 0 });
  t.is(store.get('drop', parseCidr('10.0.0.0/8'))?.tag, 'a');
  t.is(store.get('ignore', parseCidr('10.1.0.0/16'))?.tag, '');
  t.is(store.get('drop', parseCidr('2001:db8::/32'))?.tag, 'six');
  // The same CIDR under the other policy is a different key.
  t.is(store.get('ignore', parseCidr('10.0.0.0/8')), undefined);
  t.deepEqual(listKeys(store), ['drop 10.0.0.0/8 a', 'drop 2001:db8::/32 six', 'ignore 10.1.0.0/16 '].sort());
  t.deepEqual(listKeys(store, { policy: 'ignore' }), ['ignore 10.1.0.0/16 ']);
  t.deepEqual(store.countByPolicy(), { drop: 2, ignore: 1 });
  t.is(dp.entryCount('drop'), 2);
  t.is(dp.entryCount('ignore'), 1);
  t.is(dp.classify(parseAddress('10.2.0.1'), 1), 'DROP');
  t.is(dp.classify(parseAddress('10.1.0.1'), 1), 'PASS');
  t.is(dp.classify(parseAddress('2001:db8::1'), 1), 'DROP');

  const deleted = await store.deleteRules([key('drop', '10.0.0.0/8'), key('drop', '2001:db8::/32')]);
  t.deepEqual(deleted.map((e) => e.cidr.text).sort(), ['10.0.0.0/8', '2001:db8::/32']);
  t.is(store.get('drop', parseCidr('10.0.0.0/8')), undefined);
  t.deepEqual(listKeys(store), ['ignore 10.1.0.0/16 ']);
  t.deepEqual(store.countByPolicy(), { drop: 0, ignore: 1 });
  t.is(dp.entryCount('drop'), 0);
  t.is(dp.classify(parseAddress('10.2.0.1'), 1), 'PASS');
});

test('get is keyed on the normalised CIDR', async (t) => {
  const { store } = setup();
  await store.addRules([entry('drop', '10.1.2.3/8')]);
  t.is(store.get('drop', parseCidr('10.9.9.9/8'))?.cidr.text, '10.0.0.0/8');
});

test('replacing a key counts as replaced, updates the entry and the data-plane tag', async (t) => {
  const { store, dp } = setup();
  t.deepEqual(await store.addRules([entry('drop', '10.0.0.0/8', { tag: 'old' })]), { added: 1, replaced: 0 });
  t.deepEqual(
    await store.addRules([entry('drop', '10.0.0.0/8', { tag: 'new' }), entry('drop', '11.0.0.0/8')]),
    { added: 1, replaced: 1 },
  );
  t.is(store.get('drop', parseCidr('10.0.0.0/8'))?.tag, 'new');
  t.deepEqual(store.countByPolicy(), { drop: 2, ignore: 0 });
  t.is(dp.entryCount('drop'), 2);
  t.deepEqual(await probe(dp, '10.0.0.1'), { action: 'DROP', tag: 'drop:new' });
});

test('a batch with the same key twice keeps the last one and counts it once', async (t) => {
  const { store, persistence, changes } = setup();
  const r = await store.addRules([
    entry('drop', '10.0.0.0/8', { tag: 'first' }),
    entry('drop', '10.0.0.0/8', { tag: 'second' }),
    entry('drop', '10.0.0.0/8', { tag: 'last' }),
  ]);
  t.deepEqual(r, { added: 1, replaced: 0 });
  t.is(store.get('drop', parseCidr('10.0.0.0/8'))?.tag, 'last');
  t.is(listAll(store).length, 1);
  t.deepEqual(
    persistence.all.map((c) => (c.kind === 'live' ? c.entry.tag : 'delete')),
    ['last'],
  );
  t.is(changes.filter((c) => c.type === 'put').at(-1)?.entry.tag, 'last');
});

test('a batch touching one static-set key throws FailedPreconditionError and changes nothing', async (t) => {
  const { store, dp, persistence, changes } = setup();
  await store.addRules([entry('drop', '12.0.0.0/8', { tag: 'keep' })]);
  await store.applySetDeltas([{ policy: 'drop', upserts: [{ cidr: parseCidr('10.0.0.0/8'), tag: 'bogons.couic' }], removals: [] }]);
  const persisted = persistence.all.length;
  const seen = changes.length;
  const err = await t.throwsAsync(
    store.addRules([
      entry('drop', '11.0.0.0/8'),
      entry('drop', '12.0.0.0/8', { tag: 'changed' }),
      entry('drop', '10.0.0.0/8'),
    ]),
    { instanceOf: FailedPreconditionError },
  );
  t.regex(err?.message ?? '', /10\.0\.0\.0\/8/);
  t.regex(err?.message ?? '', /bogons\.couic/);
  t.is(store.get('drop', parseCidr('11.0.0.0/8')), undefined);
  t.is(store.get('drop', parseCidr('12.0.0.0/8'))?.tag, 'keep');
  t.is(store.get('drop', parseCidr('10.0.0.0/8'))?.source, 'set');
  t.is(persistence.all.length, persisted);
  t.is(changes.length, seen);
  await store.settle();
  t.is(dp.entryCount('drop'), 2);
  // The other policy is a different key: allowed.
  await store.addRules([entry('ignore', '10.0.0.0/8')]);
  t.is(store.get('ignore', parseCidr('10.0.0.0/8'))?.source, 'api');
});

// --- capacity --------------------------------------------------------------------

const SMALL = { drop: 5, ignore: 3 };
const v4s = (n: number, base = 10): RuleEntry[] => Array.from({ length: n }, (_, i) => entry('drop', `${base}.${i}.0.0/16`));
const v6s = (n: number): RuleEntry[] => Array.from({ length: n }, (_, i) => entry('drop', `2001:db8:${i}::/48`));

test('capacity: exactly full is fine, one more throws CapacityExceededError and applies nothing', async (t) => {
  const { store, dp, persistence, changes } = setup(SMALL);
  t.deepEqual(await store.addRules(v4s(5)), { added: 5, replaced: 0 });
  const persisted = persistence.all.length;
  const seen = changes.length;
  // A batch mixing a replacement and one new key still overflows: nothing applied.
  await t.throwsAsync(
    store.addRules([entry('drop', '10.0.0.0/16', { tag: 'changed' }), entry('drop', '99.0.0.0/8')]),
    { instanceOf: CapacityExceededError },
  );
  t.is(store.get('drop', parseCidr('10.0.0.0/16'))?.tag, '');
  t.is(store.get('drop', parseCidr('99.0.0.0/8')), undefined);
  t.is(persistence.all.length, persisted);
  t.is(changes.length, seen);
  t.deepEqual(store.countByPolicy(), { drop: 5, ignore: 0 });
  t.is(dp.entryCount('drop'), 5);
});

test('capacity: a single oversize batch on an empty store applies nothing', async (t) => {
  const { store, dp } = setup(SMALL);
  await t.throwsAsync(store.addRules(v4s(6)), { instanceOf: CapacityExceededError });
  t.is(listAll(store).length, 0);
  await store.settle();
  t.is(dp.entryCount('drop'), 0);
  // Duplicates inside a batch count once: 6 items, 5 distinct keys fit.
  await store.addRules([...v4s(5), entry('drop', '10.0.0.0/16', { tag: 'dup' })]);
  t.is(listAll(store).length, 5);
});

test('capacity is per policy and per family', async (t) => {
  const { store } = setup(SMALL);
  await store.addRules(v4s(5));
  // v4 drop full does not block v6 drop nor v4 ignore.
  t.deepEqual(await store.addRules(v6s(5)), { added: 5, replaced: 0 });
  await t.throwsAsync(store.addRules([entry('drop', '2001:db9::/32')]), { instanceOf: CapacityExceededError });
  await store.addRules([entry('ignore', '1.0.0.0/8'), entry('ignore', '2.0.0.0/8'), entry('ignore', '3.0.0.0/8')]);
  await t.throwsAsync(store.addRules([entry('ignore', '4.0.0.0/8')]), { instanceOf: CapacityExceededError });
  t.deepEqual(await store.addRules([entry('ignore', '2001:db8::/32')]), { added: 1, replaced: 0 });
  t.deepEqual(store.countByPolicy(), { drop: 10, ignore: 4 });
});

test('capacity: replacing existing keys of a full map does not count', async (t) => {
  const { store } = setup(SMALL);
  await store.addRules(v4s(5));
  const again = v4s(5).map((e) => ({ ...e, tag: 'retagged' }));
  t.deepEqual(await store.addRules(again), { added: 0, replaced: 5 });
  t.true(listAll(store).every((e) => e.tag === 'retagged'));
});

test('capacity: deleting or expiring entries frees room', async (t) => {
  const { store, clock } = setup(SMALL);
  await store.addRules([...v4s(4), entry('drop', '50.0.0.0/8', { expiration: T0 + 10 })]);
  await t.throwsAsync(store.addRules([entry('drop', '60.0.0.0/8')]), { instanceOf: CapacityExceededError });
  await store.deleteRules([key('drop', '10.0.0.0/16')]);
  await store.addRules([entry('drop', '60.0.0.0/8')]);
  await t.throwsAsync(store.addRules([entry('drop', '61.0.0.0/8')]), { instanceOf: CapacityExceededError });
  clock.advanceMs(10_000);
  // No explicit sweep: addRules must not count the expired entry.
  t.deepEqual(await store.addRules([entry('drop', '61.0.0.0/8')]), { added: 1, replaced: 0 });
});

// --- expiry ------------------------------------------------------------------------

test('an entry expiring at t is hidden from get/list/check as soon as clock >= t, before any sweep', async (t) => {
  const { store, clock } = setup();
  await store.addRules([entry('drop', '10.0.0.0/8', { expiration: T0 + 10 })]);
  const a = parseAddress('10.0.0.1');
  clock.set((T0 + 10) * 1000 - 1);
  t.truthy(store.get('drop', parseCidr('10.0.0.0/8')));
  t.is(listAll(store).length, 1);
  t.is(store.check(a).verdict, 'drop');
  clock.set((T0 + 10) * 1000);
  t.is(store.get('drop', parseCidr('10.0.0.0/8')), undefined);
  t.is(listAll(store).length, 0);
  t.deepEqual(store.check(a), { verdict: 'pass' });
  // Deleting an expired (unswept) entry is NotFound, like an absent one.
  await t.throwsAsync(store.deleteRules([key('drop', '10.0.0.0/8')]), { instanceOf: NotFoundError });
});

test('sweepExpired removes due entries from the data plane and notifies with reason "expired", not persistence', async (t) => {
  const { store, clock, dp, persistence, changes } = setup();
  const dying = entry('drop', '10.0.0.0/8', { tag: 'dying', expiration: T0 + 10 });
  await store.addRules([dying, entry('drop', '11.0.0.0/8', { expiration: T0 + 20 }), entry('ignore', '12.0.0.0/8')]);
  const persisted = persistence.all.length;
  changes.length = 0;
  t.is(store.sweepExpired(), 0);
  t.is(changes.length, 0);
  clock.advanceMs(10_000);
  t.is(store.sweepExpired(), 1);
  await store.settle();
  t.is(dp.entryCount('drop'), 1);
  t.is(dp.classify(parseAddress('10.0.0.1'), 1), 'PASS');
  t.is(dp.classify(parseAddress('11.0.0.1'), 1), 'DROP');
  t.is(changes.length, 1);
  const change = changes[0];
  t.is(change?.type, 'delete');
  if (change?.type === 'delete') {
    t.is(change.reason, 'expired');
    t.is(change.entry.cidr.text, '10.0.0.0/8');
    t.is(change.entry.tag, 'dying');
  }
  t.deepEqual(store.countByPolicy(), { drop: 1, ignore: 1 });
  t.is([...store.dynamicEntries()].length, 2);
  t.is(persistence.all.length, persisted);
  // A second sweep at the same time finds nothing.
  t.is(store.sweepExpired(), 0);
  clock.advanceMs(3_600_000);
  t.is(store.sweepExpired(), 1);
  await store.settle();
  t.is(dp.entryCount('drop'), 0);
  t.is(dp.entryCount('ignore'), 1); // never-expiring entry stays
});

test("a replaced entry's old expiry does not remove the new entry", async (t) => {
  const { store, clock, dp, changes } = setup();
  await store.addRules([entry('drop', '10.0.0.0/8', { tag: 'v1', expiration: T0 + 10 })]);
  await store.addRules([entry('drop', '10.0.0.0/8', { tag: 'v2', expiration: T0 + 100 })]);
  clock.set((T0 + 50) * 1000);
  changes.length = 0;
  t.is(store.sweepExpired(), 0);
  t.is(changes.length, 0);
  await store.settle();
  t.is(store.get('drop', parseCidr('10.0.0.0/8'))?.tag, 'v2');
  t.is(dp.entryCount('drop'), 1);
  clock.set((T0 + 100) * 1000);
  t.is(store.sweepExpired(), 1);
  await store.settle();
  t.is(dp.entryCount('drop'), 0);
});

test('a replacement with an earlier or no expiration follows the new expiration', async (t) => {
  const { store, clock, dp } = setup();
  await store.addRules([
    entry('drop', '10.0.0.0/8', { expiration: T0 + 100 }),
    entry('drop', '11.0.0.0/8', { expiration: T0 + 10 }),
  ]);
  await store.addRules([
    entry('drop', '10.0.0.0/8', { expiration: T0 + 10 }),
    entry('drop', '11.0.0.0/8', { expiration: 0 }),
  ]);
  clock.set((T0 + 10) * 1000);
  t.is(store.sweepExpired(), 1);
  clock.set((T0 + 1000) * 1000);
  t.is(store.sweepExpired(), 0);
  await store.settle();
  t.deepEqual(listKeys(store), ['drop 11.0.0.0/8 ']);
  t.is(dp.entryCount('drop'), 1);
});

test('a deleted then re-added key is not removed by the old queue item', async (t) => {
  const { store, clock, dp } = setup();
  await store.addRules([entry('drop', '10.0.0.0/8', { expiration: T0 + 10 })]);
  await store.deleteRules([key('drop', '10.0.0.0/8')]);
  await store.addRules([entry('drop', '10.0.0.0/8', { tag: 'forever' })]);
  clock.set((T0 + 20) * 1000);
  t.is(store.sweepExpired(), 0);
  await store.settle();
  t.is(store.get('drop', parseCidr('10.0.0.0/8'))?.tag, 'forever');
  t.is(dp.entryCount('drop'), 1);
});

// --- check ---------------------------------------------------------------------------

test('check: ignore beats drop, whatever the prefix lengths', async (t) => {
  const { store } = setup();
  await store.addRules([entry('drop', '10.0.0.0/24', { tag: 'd' }), entry('ignore', '10.0.0.0/8', { tag: 'i' })]);
  const r = store.check(parseAddress('10.0.0.5'));
  t.is(r.verdict, 'pass');
  t.is(r.decisive?.tag, 'i');
  t.is(r.ignoreMatch?.tag, 'i');
  t.is(r.dropMatch?.tag, 'd');
  const only = store.check(parseAddress('10.0.1.5'));
  t.is(only.verdict, 'pass');
  t.is(only.dropMatch, undefined);
  t.deepEqual(store.check(parseAddress('11.0.0.1')), { verdict: 'pass' });
});

test('check: longest prefix wins (192.168.0.10 matches the /25, .200 the /24)', async (t) => {
  const { store } = setup();
  await store.addRules([entry('drop', '192.168.0.0/24', { tag: '24' }), entry('drop', '192.168.0.0/25', { tag: '25' })]);
  const r = store.check(parseAddress('192.168.0.10'));
  t.is(r.verdict, 'drop');
  t.is(r.decisive?.cidr.text, '192.168.0.0/25');
  t.is(r.dropMatch?.tag, '25');
  t.is(r.ignoreMatch, undefined);
  t.is(store.check(parseAddress('192.168.0.200')).decisive?.tag, '24');
  t.is(store.check(parseAddress('192.168.1.1')).verdict, 'pass');
});

test('check: an expired longer prefix falls back to a live shorter one (drop and ignore)', async (t) => {
  const { store, clock } = setup();
  await store.addRules([
    entry('drop', '192.168.0.0/24', { tag: 'live' }),
    entry('drop', '192.168.0.0/25', { tag: 'short-lived', expiration: T0 + 5 }),
    entry('ignore', '172.16.0.0/12', { tag: 'live-i' }),
    entry('ignore', '172.16.0.0/16', { tag: 'short-i', expiration: T0 + 5 }),
    entry('drop', '172.16.0.0/24'),
  ]);
  t.is(store.check(parseAddress('192.168.0.10')).decisive?.tag, 'short-lived');
  t.is(store.check(parseAddress('172.16.0.1')).decisive?.tag, 'short-i');
  clock.advanceMs(5_000);
  t.is(store.check(parseAddress('192.168.0.10')).decisive?.tag, 'live');
  t.is(store.check(parseAddress('172.16.0.1')).decisive?.tag, 'live-i');
  t.is(store.check(parseAddress('172.16.0.1')).verdict, 'pass');
});

test('check: IPv6 longest prefix and ignore precedence; families do not mix', async (t) => {
  const { store } = setup();
  await store.addRules([
    entry('drop', '2001:db8::/32', { tag: '32' }),
    entry('drop', '2001:db8:1::/48', { tag: '48' }),
    entry('ignore', '2001:db8:1:2::/64', { tag: 'ok' }),
    entry('drop', '::ffff:10.0.0.0/104', { tag: 'mapped' }),
  ]);
  t.is(store.check(parseAddress('2001:db8:1::1')).decisive?.tag, '48');
  t.is(store.check(parseAddress('2001:db8:2::1')).decisive?.tag, '32');
  const r = store.check(parseAddress('2001:db8:1:2::1'));
  t.is(r.verdict, 'pass');
  t.is(r.decisive?.tag, 'ok');
  t.is(r.dropMatch?.tag, '48');
  t.is(store.check(parseAddress('2001:db9::1')).verdict, 'pass');
  // A v6 rule never matches a v4 address (and the reverse).
  t.is(store.check(parseAddress('10.0.0.1')).verdict, 'pass');
  t.is(store.check(parseAddress('::ffff:10.0.0.1')).decisive?.tag, 'mapped');
});

// --- static sets ---------------------------------------------------------------------

const setDelta = (
  policy: Policy,
  upserts: [string, string][],
  removals: string[] = [],
): { policy: Policy; upserts: { cidr: ReturnType<typeof parseCidr>; tag: string }[]; removals: ReturnType<typeof parseCidr>[] } => ({
  policy,
  upserts: upserts.map(([cidr, tag]) => ({ cidr: parseCidr(cidr), tag })),
  removals: removals.map((c) => parseCidr(c)),
});

test('set entries: listed only with includeSets, tagged <name>.couic, never expire, not journaled', async (t) => {
  const { store, clock, dp, persistence, changes } = setup();
  await store.addRules([entry('drop', '1.0.0.0/8', { tag: 'dyn' })]);
  const persisted = persistence.all.length;
  changes.length = 0;
  await store.applySetDeltas([
    setDelta('drop', [['10.0.0.0/8', 'bogons.couic'], ['2001:db8::/32', 'bogons.couic']]),
    setDelta('ignore', [['192.168.0.0/16', 'office.couic']]),
  ]);
  t.deepEqual(listKeys(store), ['drop 1.0.0.0/8 dyn']);
  t.deepEqual(listKeys(store, { includeSets: true }), [
    'drop 1.0.0.0/8 dyn',
    'drop 10.0.0.0/8 bogons.couic',
    'drop 2001:db8::/32 bogons.couic',
    'ignore 192.168.0.0/16 office.couic',
  ]);
  t.deepEqual(listKeys(store, { includeSets: true, tagPatterns: ['*.couic'], policy: 'drop' }), [
    'drop 10.0.0.0/8 bogons.couic',
    'drop 2001:db8::/32 bogons.couic',
  ]);
  const e = store.get('drop', parseCidr('10.0.0.0/8'));
  t.is(e?.source, 'set');
  t.is(e?.expiration, 0);
  t.is(persistence.all.length, persisted);
  t.is(changes.filter((c) => c.type === 'put').length, 3);
  t.deepEqual(store.countByPolicy(), { drop: 3, ignore: 1 });
  clock.advanceMs(10 * 365 * 86_400_000);
  t.is(store.sweepExpired(), 0);
  t.is(listAll(store, { includeSets: true }).length, 4);
  t.is(store.check(parseAddress('10.1.1.1')).verdict, 'drop');
  t.is(store.check(parseAddress('192.168.1.1')).decisive?.tag, 'office.couic');
  await store.settle();
  t.deepEqual(await probe(dp, '10.1.1.1'), { action: 'DROP', tag: 'drop:bogons.couic' });
  t.is(dp.entryCount('drop'), 3);
  t.is(dp.entryCount('ignore'), 1);
});

test('deleteRules on a set-only key throws FailedPreconditionError and deletes nothing', async (t) => {
  const { store, dp } = setup();
  await store.addRules([entry('drop', '1.0.0.0/8')]);
  await store.applySetDeltas([setDelta('drop', [['10.0.0.0/8', 'bogons.couic']])]);
  const err = await t.throwsAsync(store.deleteRules([key('drop', '1.0.0.0/8'), key('drop', '10.0.0.0/8')]), {
    instanceOf: FailedPreconditionError,
  });
  t.regex(err?.message ?? '', /bogons\.couic/);
  t.truthy(store.get('drop', parseCidr('1.0.0.0/8')));
  t.truthy(store.get('drop', parseCidr('10.0.0.0/8')));
  await store.settle();
  t.is(dp.entryCount('drop'), 2);
});

test('a set entry shadows a dynamic one (store and data plane); removing the set re-exposes it', async (t) => {
  const { store, dp, changes } = setup();
  await store.addRules([entry('drop', '10.0.0.0/8', { tag: 'dyn' })]);
  await store.applySetDeltas([setDelta('drop', [['10.0.0.0/8', 'bogons.couic']])]);
  t.is(store.get('drop', parseCidr('10.0.0.0/8'))?.tag, 'bogons.couic');
  t.is(store.check(parseAddress('10.0.0.1')).decisive?.source, 'set');
  t.deepEqual(listKeys(store), []); // the effective entry is a set entry
  t.deepEqual(listKeys(store, { includeSets: true }), ['drop 10.0.0.0/8 bogons.couic']);
  t.deepEqual(store.countByPolicy(), { drop: 1, ignore: 0 });
  t.is(dp.entryCount('drop'), 1);
  t.deepEqual(await probe(dp, '10.0.0.1'), { action: 'DROP', tag: 'drop:bogons.couic' });
  // The dynamic entry is still there underneath, and adding over the set is refused.
  t.is([...store.dynamicEntries()].length, 1);
  await t.throwsAsync(store.addRules([entry('drop', '10.0.0.0/8', { tag: 'again' })]), { instanceOf: FailedPreconditionError });

  changes.length = 0;
  await store.applySetDeltas([setDelta('drop', [], ['10.0.0.0/8'])]);
  t.is(store.get('drop', parseCidr('10.0.0.0/8'))?.tag, 'dyn');
  t.deepEqual(listKeys(store), ['drop 10.0.0.0/8 dyn']);
  t.deepEqual(store.countByPolicy(), { drop: 1, ignore: 0 });
  t.deepEqual(changes.map((c) => `${c.type} ${c.entry.tag}`), ['put dyn']);
  t.is(dp.entryCount('drop'), 1);
  t.deepEqual(await probe(dp, '10.0.0.1'), { action: 'DROP', tag: 'drop:dyn' });
});

test('a shadowed dynamic entry can be deleted; the set entry stays, and removing the set then empties the key', async (t) => {
  const { store, dp } = setup();
  await store.addRules([entry('drop', '10.0.0.0/8', { tag: 'dyn' })]);
  await store.applySetDeltas([setDelta('drop', [['10.0.0.0/8', 'bogons.couic']])]);
  const deleted = await store.deleteRules([key('drop', '10.0.0.0/8')]);
  t.is(deleted[0]?.tag, 'dyn');
  t.is(store.get('drop', parseCidr('10.0.0.0/8'))?.tag, 'bogons.couic');
  await store.applySetDeltas([setDelta('drop', [], ['10.0.0.0/8'])]);
  t.is(store.get('drop', parseCidr('10.0.0.0/8')), undefined);
  t.deepEqual(store.countByPolicy(), { drop: 0, ignore: 0 });
  t.is(dp.entryCount('drop'), 0);
});

test('a shadowed dynamic entry that expires meanwhile is not re-exposed when the set goes away', async (t) => {
  const { store, clock, dp } = setup();
  await store.addRules([entry('drop', '10.0.0.0/8', { tag: 'dyn', expiration: T0 + 10 })]);
  await store.applySetDeltas([setDelta('drop', [['10.0.0.0/8', 'bogons.couic']])]);
  clock.advanceMs(20_000);
  store.sweepExpired();
  t.is(store.get('drop', parseCidr('10.0.0.0/8'))?.tag, 'bogons.couic');
  await store.applySetDeltas([setDelta('drop', [], ['10.0.0.0/8'])]);
  t.is(store.get('drop', parseCidr('10.0.0.0/8')), undefined);
  t.deepEqual(listKeys(store, { includeSets: true }), []);
  await store.settle();
  t.is(dp.entryCount('drop'), 0);
});

test('set upsert of an existing set key re-tags it in place', async (t) => {
  const { store, dp } = setup();
  await store.applySetDeltas([setDelta('drop', [['10.0.0.0/8', 'a.couic']])]);
  await store.applySetDeltas([setDelta('drop', [['10.0.0.0/8', 'b.couic']])]);
  t.is(store.get('drop', parseCidr('10.0.0.0/8'))?.tag, 'b.couic');
  t.deepEqual(store.countByPolicy(), { drop: 1, ignore: 0 });
  t.deepEqual(await probe(dp, '10.0.0.1'), { action: 'DROP', tag: 'drop:b.couic' });
});

test('capacity is checked for set deltas, all-or-nothing, counting removals and shadowed keys correctly', async (t) => {
  const { store, dp } = setup(SMALL);
  await store.addRules(v4s(4));
  await t.throwsAsync(
    store.applySetDeltas([setDelta('drop', [['50.0.0.0/8', 's.couic'], ['51.0.0.0/8', 's.couic']])]),
    { instanceOf: CapacityExceededError },
  );
  t.is(listAll(store, { includeSets: true }).length, 4);
  await store.settle();
  t.is(dp.entryCount('drop'), 4);
  // Exactly full is fine.
  await store.applySetDeltas([setDelta('drop', [['50.0.0.0/8', 's.couic']])]);
  // Full: a set entry over an existing dynamic key adds nothing.
  await store.applySetDeltas([setDelta('drop', [['10.0.0.0/16', 's.couic']])]);
  // Full: removing one set entry and adding another in one request nets zero.
  await store.applySetDeltas([setDelta('drop', [['51.0.0.0/8', 's.couic']], ['50.0.0.0/8'])]);
  t.deepEqual(store.countByPolicy(), { drop: 5, ignore: 0 });
  // Removing a set entry that shadows a dynamic key frees nothing.
  await t.throwsAsync(
    store.applySetDeltas([setDelta('drop', [['52.0.0.0/8', 's.couic']], ['10.0.0.0/16'])]),
    { instanceOf: CapacityExceededError },
  );
  t.is(store.get('drop', parseCidr('10.0.0.0/16'))?.source, 'set');
  // Set entries count against the dynamic API too.
  await t.throwsAsync(store.addRules([entry('drop', '60.0.0.0/8')]), { instanceOf: CapacityExceededError });
  // Other family unaffected.
  await store.applySetDeltas([setDelta('drop', [['2001:db8::/32', 's.couic']])]);
  t.deepEqual(store.countByPolicy(), { drop: 6, ignore: 0 });
});

test('applySetDeltas does not count expired-but-unswept dynamic entries against capacity', async (t) => {
  // A map full only of entries that have already expired (invisible to get/list/check)
  // must not refuse a set upsert just because the sweeper has not run yet.
  const { store, clock } = setup(SMALL);
  await store.addRules(v4s(5).map((e) => ({ ...e, expiration: T0 + 10 })));
  clock.advanceMs(10_000);
  t.is(listAll(store).length, 0);
  await store.applySetDeltas([setDelta('drop', [['50.0.0.0/8', 's.couic']])]);
  t.is(store.get('drop', parseCidr('50.0.0.0/8'))?.source, 'set');
});

// --- delete errors ---------------------------------------------------------------------

test('deleteRules of an unknown key throws NotFoundError naming it; a mixed batch deletes nothing', async (t) => {
  const { store, dp, persistence, changes } = setup();
  await store.addRules([entry('drop', '10.0.0.0/8'), entry('ignore', '11.0.0.0/8')]);
  const single = await t.throwsAsync(store.deleteRules([key('drop', '99.0.0.0/8')]), { instanceOf: NotFoundError });
  t.regex(single?.message ?? '', /99\.0\.0\.0\/8/);
  const persisted = persistence.all.length;
  const seen = changes.length;
  const err = await t.throwsAsync(
    store.deleteRules([key('drop', '10.0.0.0/8'), key('drop', '11.0.0.0/8'), key('ignore', '11.0.0.0/8')]),
    { instanceOf: NotFoundError },
  );
  t.regex(err?.message ?? '', /keys\[1\]/);
  t.truthy(store.get('drop', parseCidr('10.0.0.0/8')));
  t.truthy(store.get('ignore', parseCidr('11.0.0.0/8')));
  t.is(persistence.all.length, persisted);
  t.is(changes.length, seen);
  await store.settle();
  t.is(dp.entryCount('drop'), 1);
  t.is(dp.entryCount('ignore'), 1);
});

// --- observers and persistence -------------------------------------------------------------

test('listeners see puts and deletes; persistence records puts and deletes', async (t) => {
  const { store, persistence, changes } = setup();
  const batches: number[] = [];
  store.onChange((c) => batches.push(c.length));
  await store.addRules([entry('drop', '10.0.0.0/8', { tag: 'a' }), entry('ignore', '2001:db8::/32')]);
  await store.deleteRules([key('drop', '10.0.0.0/8')]);
  t.deepEqual(
    changes.map((c) => (c.type === 'put' ? `put ${c.entry.policy} ${c.entry.cidr.text}` : `delete ${c.reason} ${c.entry.cidr.text}`)),
    ['put drop 10.0.0.0/8', 'put ignore 2001:db8::/32', 'delete deleted 10.0.0.0/8'],
  );
  t.deepEqual(batches, [2, 1]);
  t.deepEqual(
    persistence.calls.map((call) => call.map((c) => (c.kind === 'live' ? `put ${c.entry.cidr.text} ${c.entry.tag}` : `delete ${c.policy} ${c.cidr.text}`))),
    [['put 10.0.0.0/8 a', 'put 2001:db8::/32 '], ['delete drop 10.0.0.0/8']],
  );
});

test('restore loads entries into store and data plane without journaling them', async (t) => {
  const { store, dp, persistence } = setup();
  await store.restore([live(entry('drop', '10.0.0.0/8', { tag: 'r' })), live(entry('ignore', '11.0.0.0/8', { expiration: T0 + 5 }))]);
  t.is(persistence.calls.length, 0);
  t.deepEqual(listKeys(store), ['drop 10.0.0.0/8 r', 'ignore 11.0.0.0/8 ']);
  t.is(dp.entryCount('drop'), 1);
  t.is(dp.entryCount('ignore'), 1);
  t.is([...store.dynamicEntries()].length, 2);
});

test('a store without persistence works', async (t) => {
  const clock = new ManualClock(T0 * 1000);
  const dp = new UserspaceDataPlane();
  const store = new RuleStore({ clock, dataPlane: dp });
  await store.addRules([entry('drop', '10.0.0.0/8')]);
  await store.deleteRules([key('drop', '10.0.0.0/8')]);
  t.is(dp.entryCount('drop'), 0);
});

test('list: tag filters, policy filter and chunking', async (t) => {
  const { store } = setup();
  const many = Array.from({ length: 7 }, (_, i) => entry('drop', `10.${i}.0.0/16`, { tag: i % 2 === 0 ? 'ssh-even' : '' }));
  await store.addRules([...many, entry('ignore', '20.0.0.0/8', { tag: 'web' })]);
  const chunks = [...store.list({}, 3)];
  t.deepEqual(chunks.map((c) => c.length), [3, 3, 2]);
  t.is(listAll(store, { tagPatterns: ['untagged'] }).length, 3);
  t.is(listAll(store, { tagPatterns: ['ssh*'] }).length, 4);
  t.is(listAll(store, { tagPatterns: ['ssh*', 'web'] }).length, 5);
  t.is(listAll(store, { tagPatterns: ['web'], policy: 'drop' }).length, 0);
  t.deepEqual([...store.list({ policy: 'ignore', tagPatterns: ['nothing'] })], []);
});

// --- model-based property -------------------------------------------------------------------

const POOL = [
  '10.0.0.0/8',
  '10.0.0.0/16',
  '10.0.0.0/24',
  '10.0.0.128/25',
  '10.1.0.0/16',
  '192.168.0.0/24',
  '2001:db8::/32',
  '2001:db8::/48',
  '2001:db8:0:1::/64',
];
const PROBES: Address[] = [
  '10.0.0.1',
  '10.0.0.200',
  '10.0.1.1',
  '10.1.2.3',
  '10.200.0.1',
  '192.168.0.9',
  '192.168.1.9',
  '11.0.0.1',
  '2001:db8::1',
  '2001:db8:0:1::1',
  '2001:db8:1::1',
  '2001:db9::1',
].map((a) => parseAddress(a));

type Op =
  | { kind: 'add'; items: { policy: Policy; cidr: number; tag: string; ttl: number }[] }
  | { kind: 'delete'; policy: Policy; cidr: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'sweep' };

const policyArb = fc.constantFrom<Policy>('drop', 'ignore');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      items: fc.array(
        fc.record({
          policy: policyArb,
          cidr: fc.nat(POOL.length - 1),
          tag: fc.constantFrom('', 'a', 'b'),
          ttl: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20 })),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), policy: policyArb, cidr: fc.nat(POOL.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 8_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
);

test('property: random add/delete/advance/sweep sequences match a Map model (list, check, data plane)', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
      const { store, clock, dp } = setup();
      const model = new Map<string, { policy: Policy; cidr: number; tag: string; expiration: number }>();
      const nowS = (): number => Math.floor(clock.nowMs() / 1000);
      const live = (): typeof model extends Map<string, infer V> ? V[] : never =>
        [...model.values()].filter((m) => m.expiration === 0 || m.expiration > nowS());
      const expectedVerdict = (a: Address, policy: Policy): boolean =>
        live().some((m) => m.policy === policy && cidrHas(POOL[m.cidr] ?? '', a));

      for (const op of ops) {
        if (op.kind === 'add') {
          const entries = op.items.map((i) =>
            entry(i.policy, POOL[i.cidr] ?? '', { tag: i.tag, expiration: i.ttl === 0 ? 0 : nowS() + i.ttl }),
          );
          // Replaced = distinct keys live in the model before the batch.
          const keys = new Set(op.items.map((i) => `${i.policy} ${i.cidr}`));
          const liveKeys = new Set(live().map((m) => `${m.policy} ${m.cidr}`));
          const replaced = [...keys].filter((k) => liveKeys.has(k)).length;
          const r = await store.addRules(entries);
          if (r.replaced !== replaced || r.added !== keys.size - replaced) return false;
          for (const k of [...model.keys()]) if (!liveKeys.has(k)) model.delete(k);
          op.items.forEach((i, idx) => model.set(`${i.policy} ${i.cidr}`, { ...i, expiration: entries[idx]?.expiration ?? 0 }));
        } else if (op.kind === 'delete') {
          const k = `${op.policy} ${op.cidr}`;
          const present = live().some((m) => `${m.policy} ${m.cidr}` === k);
          try {
            await store.deleteRules([{ policy: op.policy, cidr: parseCidr(POOL[op.cidr] ?? '') }]);
            if (!present) return false;
            model.delete(k);
          } catch (e) {
            if (present || !(e instanceof NotFoundError)) return false;
          }
        } else if (op.kind === 'advance') {
          clock.advanceMs(op.ms);
        } else {
          store.sweepExpired();
          await store.settle();
          // After a sweep the data plane holds exactly the live entries.
          for (const policy of ['drop', 'ignore'] as const) {
            if (dp.entryCount(policy) !== live().filter((m) => m.policy === policy).length) return false;
          }
          for (const a of PROBES) {
            const want = expectedVerdict(a, 'ignore') ? 'PASS' : expectedVerdict(a, 'drop') ? 'DROP' : 'PASS';
            if (dp.classify(a, 1) !== want) return false;
          }
        }
        // Visible state matches the model after every step.
        const got = listAll(store).map((e) => `${e.policy} ${e.cidr.text} ${e.tag} ${e.expiration}`).sort();
        const want = live().map((m) => `${m.policy} ${POOL[m.cidr] ?? ''} ${m.tag} ${m.expiration}`).sort();
        if (JSON.stringify(got) !== JSON.stringify(want)) return false;
        for (const a of PROBES) {
          const verdict = expectedVerdict(a, 'ignore') ? 'pass' : expectedVerdict(a, 'drop') ? 'drop' : 'pass';
          if (store.check(a).verdict !== verdict) return false;
        }
      }
      return true;
    }),
    { numRuns: 150 },
  );
  t.pass();
});

function cidrHas(text: string, a: Address): boolean {
  const c = parseCidr(text);
  if (c.family !== a.family) return false;
  const bits = c.prefixLength;
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if (((c.bytes[byte] ?? 0) & mask) !== ((a.bytes[byte] ?? 0) & mask)) return false;
  }
  return true;
}
