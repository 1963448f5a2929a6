// The sync state machine on the in-memory kernel maps (no root): adopting the
// pinned record, skipping identical writes, refused writes left pending (rule
// accepted, not enforced) and retried on the injected scheduler with the shared
// backoff, reconciliation of stale entries, tag-changing replacements.
import test from 'ava';
import { pino } from 'pino';
import { parseAddress, parseCidr } from '../../../src/domain/cidr.js';
import { ManualClock } from '../../../src/domain/clock.js';
import type { Policy } from '../../../src/domain/policy.js';
import { Backoff } from '../../../src/domain/backoff.js';
import { ManualScheduler } from '../../../src/domain/scheduler.js';
import { FakeKernelMaps } from '../../../src/dataplane/xdp/fake-kernel-maps.js';
import { encodeRecordKey } from '../../../src/dataplane/xdp/layout.js';
import { RuleSync } from '../../../src/dataplane/xdp/rule-sync.js';
import { readVerdict, TableCompiler, VERDICT_DROP, VERDICT_IGNORE } from '../../../src/dataplane/xdp/table-compiler.js';
import { TagSlots } from '../../../src/dataplane/xdp/tag-slots.js';
import { XdpDataPlane } from '../../../src/dataplane/xdp/xdp-dataplane.js';

const ENOMEM = 12;

function setup(kernel = new FakeKernelMaps()) {
  const scheduler = new ManualScheduler(new ManualClock());
  const backoff = new Backoff({ minMs: 500, maxMs: 30_000, random: () => 0.999 });
  const compiler = new TableCompiler(kernel.tables, kernel.v6Long, { v4Blocks: 4096, v6Long: 65_536 });
  const tags = new TagSlots({ assign: (slot, name) => kernel.assignTagSlot(slot, name) });
  const sync = new RuleSync({ kernel, compiler, tags, scheduler, backoff, logger: pino({ level: 'silent' }) });
  const verdict = (address: string): number => readVerdict(kernel.tables, (l, b) => kernel.v6Probe(l, b), parseAddress(address).bytes);
  /** Runs the retry timers due within `ms`, then waits for the retries they started. */
  const advance = async (ms: number): Promise<void> => {
    scheduler.advance(ms);
    await sync.idle();
  };
  return { kernel, scheduler, backoff, sync, tags, verdict, advance };
}

const up = (policy: Policy, cidr: string, tag = '') => ({ policy, cidr: parseCidr(cidr), tag });
const down = (policy: Policy, cidr: string) => ({ policy, cidr: parseCidr(cidr) });

test('adopts the pinned record (tables compiled from it), skips identical writes, reconcile removes what the store did not confirm', async (t) => {
  const kernel = new FakeKernelMaps();
  kernel.tagNames.set(1, 'kept');
  await kernel.ruleRecord.upsert([
    { key: encodeRecordKey('drop', parseCidr('10.0.0.0/8')), value: 1 },
    { key: encodeRecordKey('drop', parseCidr('2001:db8::/32')), value: 0 },
    { key: encodeRecordKey('ignore', parseCidr('10.1.1.1/32')), value: 0 },
  ]);
  const { sync, verdict, tags } = setup(kernel);
  t.is(await sync.adopt(), 3);
  t.is(verdict('10.9.9.9'), VERDICT_DROP | 1, 'adopted rules filter before the store says anything');
  t.is(verdict('10.1.1.1'), VERDICT_IGNORE);
  t.is(verdict('2001:db8::1'), VERDICT_DROP);
  t.is(tags.slotOf('kept'), 1, 'tag slot allocation adopted');
  const writes = kernel.ruleRecord.writes;
  t.deepEqual(await sync.apply({ upserts: [up('drop', '10.0.0.0/8', 'kept')], removals: [] }), []);
  t.is(kernel.ruleRecord.writes, writes, 'identical: not rewritten');
  t.is(sync.staleCount, 2);
  t.is(await sync.reconcile(), 2);
  t.is(verdict('10.1.1.1'), VERDICT_DROP | 1, 'the stale ignore is gone: the /8 decides');
  t.is(verdict('2001:db8::1'), 0);
  t.is(kernel.ruleRecord.data.size, 1);
});

test('a refused record write: the rule stands with enforcement pending, retried with backoff until it lands', async (t) => {
  const { kernel, sync, verdict, advance, scheduler, backoff } = setup();
  await sync.adopt();
  kernel.ruleRecord.refusal = (op) => (op === 'upsert' ? ENOMEM : undefined);
  const pending = await sync.apply({ upserts: [up('drop', '192.0.2.0/24', 'flood')], removals: [] });
  t.is(pending.length, 1);
  t.is(pending[0]?.error.code, 'ENOMEM');
  t.is(pending[0]?.cidr.text, '192.0.2.0/24');
  t.is(sync.pendingEnforcement, 1);
  t.is(verdict('192.0.2.1'), 0, 'not enforced while pending (nor recorded)');
  t.is(scheduler.pending, 1, 'a retry is scheduled');
  const firstDue = scheduler.nextDueMs() ?? 0;
  await advance(1000);
  t.is(sync.pendingEnforcement, 1, 'still refused');
  t.true((scheduler.nextDueMs() ?? 0) - firstDue > 1000, 'the next retry waits longer (backoff)');
  t.is(backoff.attempts, 2);
  kernel.ruleRecord.refusal = undefined;
  await advance(5000);
  t.is(sync.pendingEnforcement, 0);
  t.is(verdict('192.0.2.1'), VERDICT_DROP | 1);
  t.is(backoff.attempts, 0, 'backoff reset once everything landed');
  t.is(scheduler.pending, 0, 'no more retries');
});

test('a refused record delete: the tables stop enforcing at once, the record delete is retried', async (t) => {
  const { kernel, sync, verdict, advance } = setup();
  await sync.adopt();
  await sync.apply({ upserts: [up('drop', '2001:db8::/48'), up('drop', '2001:db8::7/128', 'x')], removals: [] });
  t.is(verdict('2001:db8::7'), VERDICT_DROP | 1);
  kernel.ruleRecord.refusal = (op) => (op === 'delete' ? ENOMEM : undefined);
  await sync.apply({ upserts: [], removals: [down('drop', '2001:db8::7/128')] });
  t.is(verdict('2001:db8::7'), VERDICT_DROP, 'the covering /48 decides again');
  t.is(sync.pendingEnforcement, 1);
  t.is(kernel.ruleRecord.data.size, 2);
  kernel.ruleRecord.refusal = undefined;
  await advance(1000);
  t.is(sync.pendingEnforcement, 0);
  t.is(kernel.ruleRecord.data.size, 1);
});

test('a refused v6_long write is pending and retried; the store changing the rule meanwhile wins', async (t) => {
  const { kernel, sync, verdict, advance } = setup();
  await sync.adopt();
  kernel.v6Long.refusal = () => ENOMEM;
  await sync.apply({ upserts: [up('drop', '2001:db8::/32', 'a')], removals: [] });
  t.is(sync.pendingEnforcement, 1);
  t.is(verdict('2001:db8::1'), 0);
  await sync.apply({ upserts: [up('drop', '2001:db8::/32', 'b')], removals: [] });
  kernel.v6Long.refusal = undefined;
  await advance(2000);
  t.is(sync.pendingEnforcement, 0);
  t.is(verdict('2001:db8::1'), VERDICT_DROP | 2, 'the latest tag');
});

test('no free block: refused with ENOSPC, pending, lands once a block frees', async (t) => {
  const kernel = new FakeKernelMaps({ v4Blocks: 1 });
  const scheduler = new ManualScheduler(new ManualClock());
  const compiler = new TableCompiler(kernel.tables, kernel.v6Long, { v4Blocks: 1, v6Long: 16 });
  const tags = new TagSlots({ assign: (slot, name) => kernel.assignTagSlot(slot, name) });
  const sync = new RuleSync({ kernel, compiler, tags, scheduler, backoff: new Backoff({ minMs: 500, maxMs: 30_000 }), logger: pino({ level: 'silent' }) });
  await sync.adopt();
  await sync.apply({ upserts: [up('drop', '198.51.100.1/32')], removals: [] });
  const pending = await sync.apply({ upserts: [up('drop', '203.0.113.1/32')], removals: [] });
  t.is(pending[0]?.error.code, 'ENOSPC');
  t.is(kernel.ruleRecord.data.size, 1, 'not left in the record');
  await sync.apply({ upserts: [], removals: [down('drop', '198.51.100.1/32')] });
  scheduler.advance(60_000);
  await sync.idle();
  scheduler.advance(60_000);
  await sync.idle();
  t.is(sync.pendingEnforcement, 0);
  t.is(readVerdict(kernel.tables, () => undefined, parseAddress('203.0.113.1').bytes), VERDICT_DROP);
});

test('the data plane reports pending enforcement in its counters (stats, metrics) and names the rules; apply resolves', async (t) => {
  const kernel = new FakeKernelMaps();
  const scheduler = new ManualScheduler(new ManualClock());
  const plane = await XdpDataPlane.overKernel(kernel, pino({ level: 'silent' }), scheduler, { v4Blocks: 4096, v6Long: 65_536 });
  kernel.ruleRecord.refusal = () => ENOMEM;
  await t.notThrowsAsync(plane.apply({ upserts: [up('drop', '192.0.2.0/24', 'flood')], removals: [] }));
  t.is((await plane.readCounters()).pendingEnforcement, 1);
  const pending = plane.pendingEnforcement();
  t.is(pending.length, 1);
  t.is(pending[0]?.cidr.text, '192.0.2.0/24');
  t.regex(pending[0]?.reason ?? '', /ENOMEM/);
  kernel.ruleRecord.refusal = undefined;
  scheduler.advance(1000);
  await plane.close(); // waits for the retry it started
  t.is((await plane.readCounters()).pendingEnforcement, 0);
});

test('churn: rules deleted free their state, new ones reuse it; record, tables and counts stay exact', async (t) => {
  const { sync, kernel, verdict } = setup();
  const batch = (round: number) => Array.from({ length: 3000 }, (_, i) => up('drop', `10.${round}.${i >> 8}.${i & 255}/32`, `t${i % 3}`));
  for (let round = 0; round < 4; round++) {
    const ups = batch(round);
    t.deepEqual(await sync.apply({ upserts: ups, removals: [] }), []);
    t.is(sync.enforcedCount('drop'), 3000);
    t.is(kernel.ruleRecord.data.size, 3000);
    t.is(verdict(`10.${round}.0.7`) & 0x300, VERDICT_DROP);
    if (round > 0) t.is(verdict(`10.${round - 1}.0.7`), 0, 'the previous round is gone from the tables');
    t.deepEqual(await sync.apply({ upserts: [], removals: ups.map((u) => ({ policy: u.policy, cidr: u.cidr })) }), []);
    t.is(sync.enforcedCount('drop'), 0);
    t.is(kernel.ruleRecord.data.size, 0);
    await sync.apply({ upserts: ups, removals: [] });
    await sync.apply({ upserts: [], removals: ups.map((u) => ({ policy: u.policy, cidr: u.cidr })) });
    t.is(kernel.ruleRecord.data.size, 0);
  }
  t.is(sync.pendingEnforcement, 0);
});
