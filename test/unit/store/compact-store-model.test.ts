// Property test: the compact RuleStore (typed-array table) against the plain Map-based
// store it replaced (fixtures/map-rule-store.ts, the previous implementation kept as
// the model), driven with the same random operation sequences: API adds (replacements,
// duplicates in a batch), deletes, remote merges with random versions (live and
// tombstones, older and newer), clock moves with expiry sweeps, static-set reloads and
// garbage collection. After every step every observable result must match: what the
// call returned or threw, list (with and without sets, with a tag filter), get, check,
// counts, the replicated records, their bucket digests, the record-change feed, the
// effective-change feed and the data plane.
import test from 'ava';
import fc from 'fast-check';
import { parseAddress, parseCidr, type Cidr } from '../../../src/domain/cidr.js';
import { ManualClock } from '../../../src/domain/clock.js';
import type { RuleEntry } from '../../../src/domain/entry.js';
import type { Policy } from '../../../src/domain/policy.js';
import { recordKey, type ReplicatedRecord } from '../../../src/domain/replicated-record.js';
import { HybridClock, type Version } from '../../../src/domain/version.js';
import { UserspaceDataPlane } from '../../../src/dataplane/userspace-dataplane.js';
import { BucketDigests } from '../../../src/replication/core/bucket-digests.js';
import { ChangeFeed } from '../../../src/replication/core/change-feed.js';
import type { RecordChange } from '../../../src/replication/replica-store.js';
import { RuleStore, type StoreChange } from '../../../src/store/rule-store.js';
import { MapRuleStore } from './fixtures/map-rule-store.js';

const T0_MS = 1_700_000_000_000;
const LIFETIME_MS = 20_000;
const CIDRS = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.3/32', '192.0.2.0/24', '2001:db8::/32', '2001:db8:1::/48', '2001:db8:1::7/128', '::ffff:10.1.2.3/128'].map((c) => parseCidr(c));
const ADDRESSES = ['10.1.2.3', '10.1.9.9', '10.200.0.1', '192.0.2.77', '8.8.8.8', '2001:db8:1::7', '2001:db8:2::1', '::ffff:10.1.2.3'].map((a) => parseAddress(a));
const TAGS = ['', 'a', 'b', 'scan-1'];
const NODES = ['node-a', 'node-b', 'node-c'];

type Op =
  | { readonly op: 'add'; readonly items: readonly { policy: Policy; cidr: number; tag: string; ttl: number }[] }
  | { readonly op: 'delete'; readonly items: readonly { policy: Policy; cidr: number }[] }
  | { readonly op: 'merge'; readonly items: readonly { policy: Policy; cidr: number; tag: string; ttl: number; tombstone: boolean; dt: number; counter: number; node: number }[] }
  | { readonly op: 'advance'; readonly ms: number }
  | { readonly op: 'sweep' }
  | { readonly op: 'sets'; readonly policy: Policy; readonly upserts: readonly { cidr: number; tag: string }[]; readonly removals: readonly number[] }
  | { readonly op: 'gc' };

const policy = fc.constantFrom<Policy>('drop', 'ignore');
const cidr = fc.nat(CIDRS.length - 1);
const tag = fc.constantFrom(...TAGS);
const ttl = fc.constantFrom(0, 0, 1, 2, 5, 30);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('add' as const), items: fc.array(fc.record({ policy, cidr, tag, ttl }), { minLength: 1, maxLength: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), items: fc.array(fc.record({ policy, cidr }), { minLength: 1, maxLength: 3 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('merge' as const),
      items: fc.array(
        fc.record({ policy, cidr, tag, ttl, tombstone: fc.boolean(), dt: fc.integer({ min: -30_000, max: 3_000 }), counter: fc.nat(3), node: fc.nat(NODES.length - 1) }),
        { minLength: 1, maxLength: 5 },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.constantFrom(300, 1_000, 2_500, 15_000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('sweep' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('sets' as const),
      policy,
      upserts: fc.array(fc.record({ cidr, tag: fc.constantFrom('x.couic', 'y.couic') }), { maxLength: 3 }),
      removals: fc.array(cidr, { maxLength: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('gc' as const) }) },
);

type AnyStore = RuleStore | MapRuleStore;

interface Side {
  readonly store: AnyStore;
  readonly dp: UserspaceDataPlane;
  readonly records: string[][];
  readonly changes: string[][];
  readonly feed: ChangeFeed;
}

function side(clock: ManualClock, make: (o: ConstructorParameters<typeof RuleStore>[0]) => AnyStore): Side {
  const dp = new UserspaceDataPlane();
  const store = make({ clock, dataPlane: dp, hlc: new HybridClock(clock, 'node-a'), tombstoneLifetimeMs: LIFETIME_MS, capacityPerFamily: { drop: 6, ignore: 3 } });
  const records: string[][] = [];
  const changes: string[][] = [];
  const feed = new ChangeFeed('feed');
  store.onRecordChange((batch, origin) => {
    records.push(batch.map((c: RecordChange) => `${origin} ${c.key ?? ''} ${show(c.before)} -> ${show(c.after)}`).sort());
    feed.record(batch, origin);
  });
  store.onChange((batch: readonly StoreChange[]) => changes.push(batch.map((c) => `${c.type} ${entryText(c.entry)} ${c.type === 'delete' ? c.reason : ''}`).sort()));
  return { store, dp, records, changes, feed };
}

const show = (r: ReplicatedRecord | undefined): string => (r === undefined ? '-' : JSON.stringify(normalise(r)));
const entryText = (e: RuleEntry): string => JSON.stringify({ ...e, cidr: e.cidr.text });
const normalise = (r: ReplicatedRecord): unknown => (r.kind === 'live' ? { ...r.entry, cidr: r.entry.cidr.text } : { ...r, cidr: r.cidr.text });
const sortedRecords = (s: AnyStore): string[] => [...s.records()].map((r) => `${recordKey(r)} ${show(r)}`).sort();
const sortedEntries = (entries: Iterable<RuleEntry>): string[] => [...entries].map(entryText).sort();

async function outcome(run: () => Promise<unknown> | unknown): Promise<string> {
  try {
    const value = await run();
    if (Array.isArray(value)) return `ok ${JSON.stringify(value.map((v: RuleEntry | ReplicatedRecord) => ('kind' in v ? normalise(v) : entryText(v))).map((v) => JSON.stringify(v)).sort())}`;
    return `ok ${JSON.stringify(value)}`;
  } catch (err) {
    return `${(err as Error).constructor.name}: ${(err as Error).message}`;
  }
}

function apply(op: Op, s: AnyStore, clock: ManualClock): Promise<string> {
  const now = Math.floor(clock.nowMs() / 1000);
  switch (op.op) {
    case 'add':
      return outcome(() =>
        s.addRules(
          op.items.map((i) => ({ policy: i.policy, cidr: CIDRS[i.cidr] as Cidr, tag: i.tag, expiration: i.ttl === 0 ? 0 : now + i.ttl, createdAt: now, originNode: 'node-a', source: 'api' as const })),
        ),
      );
    case 'delete':
      return outcome(() => s.deleteRules(op.items.map((i) => ({ policy: i.policy, cidr: CIDRS[i.cidr] as Cidr }))));
    case 'merge':
      return outcome(() =>
        s.mergeRemote(
          op.items.map((i): ReplicatedRecord => {
            const version: Version = { wallMs: Math.max(0, clock.nowMs() + i.dt), counter: i.counter, origin: NODES[i.node] as string };
            const c = CIDRS[i.cidr] as Cidr;
            if (i.tombstone) return { kind: 'tombstone', policy: i.policy, cidr: c, version, deletedExpiration: i.ttl === 0 ? 0 : now + i.ttl };
            return {
              kind: 'live',
              entry: { policy: i.policy, cidr: c, tag: i.tag, expiration: i.ttl === 0 ? 0 : now + i.ttl, createdAt: now, originNode: version.origin, source: 'peer', version },
            };
          }),
        ),
      );
    case 'advance':
      return Promise.resolve('advanced');
    case 'sweep':
      return outcome(() => s.sweepExpired());
    case 'sets':
      return outcome(() =>
        s.applySetDeltas([{ policy: op.policy, upserts: op.upserts.map((u) => ({ cidr: CIDRS[u.cidr] as Cidr, tag: u.tag })), removals: op.removals.map((r) => CIDRS[r] as Cidr) }]),
      );
    case 'gc':
      return outcome(() => s.collectGarbage(clock.nowMs()));
  }
}

function observe(x: Side): unknown {
  const s = x.store;
  return {
    list: sortedEntries([...s.list({})].flat()),
    listSets: sortedEntries([...s.list({ includeSets: true })].flat()),
    listTagged: sortedEntries([...s.list({ tagPatterns: ['a', 'scan-*'], policy: 'drop' })].flat()),
    get: (['drop', 'ignore'] as const).flatMap((p) => CIDRS.map((c) => { const e = s.get(p, c); return e === undefined ? '-' : entryText(e); })),
    check: ADDRESSES.map((a) => {
      const r = s.check(a);
      return `${r.verdict} ${r.decisive?.cidr.text ?? '-'} ${r.dropMatch?.cidr.text ?? '-'} ${r.ignoreMatch?.cidr.text ?? '-'}`;
    }),
    counts: s.countByPolicy(),
    dynamic: sortedEntries(s.dynamicEntries()),
    records: sortedRecords(s),
    recordOf: (['drop', 'ignore'] as const).flatMap((p) => CIDRS.map((c) => show(s.recordOf(`${p} ${c.text}`)))),
    digests: [...BucketDigests.of(s.records(), 16).all()].map(String),
    recordChanges: x.records,
    changes: x.changes,
    feed: x.feed.since(0),
    dataPlane: { drop: x.dp.entryCount('drop'), ignore: x.dp.entryCount('ignore'), classify: ADDRESSES.map((a) => x.dp.classify(a, 1)) },
  };
}

test('property: the compact store and the Map-based model agree on every observable result', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
      const clock = new ManualClock(T0_MS);
      const compact = side(clock, (o) => new RuleStore(o));
      const model = side(clock, (o) => new MapRuleStore(o));
      for (const op of ops) {
        if (op.op === 'advance') clock.advanceMs(op.ms);
        const got = await apply(op, compact.store, clock);
        const want = await apply(op, model.store, clock);
        await compact.store.settle();
        await model.store.settle();
        if (got !== want) throw new Error(`${JSON.stringify(op)}: compact ${got}, model ${want}`);
        t.deepEqual(observe(compact), observe(model), JSON.stringify(op));
      }
    }),
    { numRuns: 300 },
  );
});
