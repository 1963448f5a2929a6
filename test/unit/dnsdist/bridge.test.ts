// The bridge as a whole on the fake dnsdist and a fake couic: publish picks the
// dnsdist's own blocks (never those it installed from couic), consume-only never
// publishes, publish-only never changes its dnsdist, a failing dnsdist is retried
// and resynchronised fully, the Watch cursor survives a restart through the state file.
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bridge, type BridgeEvent } from '../../../src/dnsdist/bridge.js';
import type { BridgeOptions } from '../../../src/dnsdist/bridge-options.js';
import type { CouicPort } from '../../../src/dnsdist/couic-port.js';
import { FakeDnsdist } from '../../../src/dnsdist/fake-dnsdist.js';
import { reasonTag, selectPublications } from '../../../src/dnsdist/publisher.js';
import { readStateFile } from '../../../src/dnsdist/state-file.js';
import { NoSuffixRules } from '../../../src/dnsdist/suffix-port.js';
import { Policy, type RuleSpec } from '../../../src/generated/couic/v1/entry.js';
import { RemovalReason, SnapshotReason, type WatchEvent } from '../../../src/generated/couic/v1/replication.js';

const T0_MS = 1_800_000_000_000;

/** A couic whose Watch replays `script` per stream, then stays open until aborted. */
class FakeCouic implements CouicPort {
  readonly added: RuleSpec[] = [];
  readonly cursors: string[] = [];
  streams: WatchEvent[][][] = [];
  failAdds = false;
  async *watch(cursor: string, signal: AbortSignal): AsyncIterable<readonly WatchEvent[]> {
    this.cursors.push(cursor);
    const script = this.streams.shift() ?? [];
    for (const batch of script) yield batch;
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
  async addRules(rules: readonly RuleSpec[]): Promise<void> {
    if (this.failAdds) throw new Error('couic unavailable');
    for (const r of rules) this.added.push(r);
  }
  close(): void {}
}

const upsert = (cidr: string, expiration: number, policy = Policy.POLICY_DROP, tag = 'x'): WatchEvent => ({
  event: { $case: 'upsert', value: { entry: { policy, cidr, tag, expiration, createdAt: 0, originNode: 'n2', metadata: undefined, source: 3 }, version: undefined } },
});
const snapshot = (cursor: string, ...entries: WatchEvent[]): WatchEvent[] => [
  { event: { $case: 'snapshotBegin', value: { reason: SnapshotReason.SNAPSHOT_REASON_NO_CURSOR, entries: entries.length } } },
  ...entries,
  { event: { $case: 'snapshotEnd', value: { cursor } } },
];

function options(sync: Partial<BridgeOptions['sync']>): BridgeOptions {
  return {
    dnsdist: { host: '127.0.0.1', port: 5199, key: new Uint8Array(32), action: 'refused' },
    couic: { endpoint: { kind: 'unix', socketPath: '/nonexistent' }, token: 't' },
    sync: {
      publish: true,
      consume: true,
      publishNetmasks: true,
      publishSuffixes: true,
      pollIntervalMs: 1_000_000,
      batchIntervalMs: 1_000_000,
      stateFile: undefined,
      stateSaveIntervalMs: 1_000_000,
      reconnectMinMs: 10,
      reconnectMaxMs: 20,
      ...sync,
    },
    logLevel: 'silent',
  };
}

function harness(sync: Partial<BridgeOptions['sync']>) {
  const clock = { ms: T0_MS };
  const dnsdist = new FakeDnsdist(() => Math.floor(clock.ms / 1000));
  const couic = new FakeCouic();
  const events: BridgeEvent[] = [];
  const bridge = new Bridge(options(sync), {
    couic,
    suffixes: new NoSuffixRules(() => undefined),
    connectDnsdist: async () => {
      if (dnsdist.unreachable) throw new Error('connection refused');
      return dnsdist;
    },
    nowMs: () => clock.ms,
    onEvent: (e) => events.push(e),
  });
  return { clock, dnsdist, couic, bridge, events };
}

/** Waits (bounded) until the consumer holds a full state. */
async function ready(bridge: Bridge): Promise<void> {
  for (let i = 0; i < 200 && !bridge.consumer.isReady; i++) await new Promise((r) => setTimeout(r, 5));
  if (!bridge.consumer.isReady) throw new Error('consumer never got ready');
}

test('reason tags are valid couic tags', (t) => {
  t.is(reasonTag('Exceeded query rate'), 'Exceeded_query_rate');
  t.is(reasonTag('!!!'), 'dnsdist');
  t.is(reasonTag('untagged'), 'dnsdist-untagged');
  t.is(reasonTag('x'.repeat(80)).length, 64);
});

test('publish selects own blocks, skips the bridge\'s, republishes only an extension', (t) => {
  const row = (what: string, seconds: number, reason: string) => ({ what, kind: 'netmask' as const, remainingSeconds: seconds, blocks: 0, warning: false, action: 'Drop', reason });
  const rows = [row('127.0.0.2/32', 60, 'Exceeded query rate'), row('192.0.2.1/32', 60, 'couic:x'), row('192.0.2.5/32', 60, 'overridden')];
  const installed = new Map([['192.0.2.5/32', {}]]);
  const opts = { reasonPrefix: 'couic:', publishNetmasks: true, publishSuffixes: true };
  const first = selectPublications(rows, installed, new Map(), 1000, opts);
  t.deepEqual(first.netmaskRules.map((r) => [r.cidr, r.tag, r.expiration, r.metadata?.detail]), [['127.0.0.2/32', 'Exceeded_query_rate', 1060, 'Exceeded query rate']]);
  t.is(selectPublications(rows, installed, first.nextPublished, 1001, opts).netmaskRules.length, 0, 'same end: not again');
  const extended = [row('127.0.0.2/32', 60, 'Exceeded query rate')];
  t.is(selectPublications(extended, installed, first.nextPublished, 1010, opts).netmaskRules.length, 1, 'end moved 10 s later');
  t.is(selectPublications(rows, installed, new Map(), 1000, { ...opts, publishNetmasks: false }).netmaskRules.length, 0);
});

test('consume installs couic\'s rules; publish sends the dnsdist\'s own block with tag and expiry', async (t) => {
  const { dnsdist, couic, bridge } = harness({});
  couic.streams = [[snapshot('c1', upsert('192.0.2.1/32', T0_MS / 1000 + 60))]];
  await bridge.start();
  t.teardown(() => bridge.stop());
  await ready(bridge);
  await bridge.reconcileOnce();
  t.is(dnsdist.verdict('192.0.2.1'), 'dynblock');
  t.is(dnsdist.hosts.get('192.0.2.1/32')?.action, 'DNSAction.Refused');
  dnsdist.generate('127.0.0.2', 60, 'Exceeded query rate');
  t.is(await bridge.publishOnce(), 1);
  t.deepEqual(couic.added.map((r) => [r.cidr, r.tag, r.expiration]), [['127.0.0.2/32', 'Exceeded_query_rate', T0_MS / 1000 + 60]]);
  t.is(await bridge.publishOnce(), 0, 'nothing new');
});

test('a consume-only bridge never publishes', async (t) => {
  const { dnsdist, couic, bridge } = harness({ publish: false, batchIntervalMs: 10, pollIntervalMs: 10 });
  couic.streams = [[snapshot('c1', upsert('192.0.2.1/32', 0))]];
  await bridge.start();
  t.teardown(() => bridge.stop());
  await ready(bridge);
  await bridge.reconcileOnce();
  dnsdist.generate('127.0.0.2', 60, 'Exceeded query rate');
  // Short batch ticks run meanwhile (the poll tick is never scheduled without publish):
  // wait until the timer-driven sync has seen a later change, then nothing was published.
  couic.streams = [];
  bridge.consumer.apply(upsert('192.0.2.3/32', 0));
  for (let i = 0; i < 400 && dnsdist.verdict('192.0.2.3') === 'pass'; i++) await new Promise((r) => setTimeout(r, 5));
  t.is(dnsdist.verdict('192.0.2.3'), 'dynblock', 'the batch timer ran');
  t.deepEqual(couic.added, []);
  t.is(dnsdist.verdict('192.0.2.1'), 'dynblock');
});

test('a publish-only bridge never changes its dnsdist', async (t) => {
  const { dnsdist, couic, bridge } = harness({ consume: false });
  couic.streams = [[snapshot('c1', upsert('192.0.2.1/32', 0))]];
  await bridge.start();
  t.teardown(() => bridge.stop());
  dnsdist.generate('127.0.0.2', 60, 'Exceeded query rate');
  t.is(await bridge.publishOnce(), 1);
  t.is(await bridge.reconcileOnce(), undefined, 'no Watch is opened: nothing to apply');
  t.deepEqual(couic.cursors, []);
  t.deepEqual(dnsdist.mutations, []);
});

test('an unreachable dnsdist is retried with backoff, then resynchronised fully', async (t) => {
  const { clock, dnsdist, couic, bridge, events } = harness({});
  couic.streams = [[snapshot('c1', upsert('192.0.2.1/32', 0), upsert('10.0.0.0/8', 0))]];
  await bridge.start();
  t.teardown(() => bridge.stop());
  await ready(bridge);
  await bridge.reconcileOnce();
  t.is(dnsdist.verdict('10.1.1.1'), 'netmask-rule');
  dnsdist.unreachable = true;
  await bridge.reconcileOnce(); // ping fails
  const failure = events.find((e) => e.type === 'dnsdist-failed');
  t.truthy(failure);
  dnsdist.restart(); // it comes back empty
  dnsdist.unreachable = false;
  t.is(await bridge.reconcileOnce(), undefined, 'still inside the backoff delay');
  clock.ms += 1_000;
  const report = await bridge.reconcileOnce();
  t.is(report?.hosts, 'rebuild');
  t.is(dnsdist.verdict('192.0.2.1'), 'dynblock');
  t.is(dnsdist.verdict('10.1.1.1'), 'netmask-rule');
});

test('removals from the Watch lift blocks; the cursor and rules are saved and resumed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'couic-dnsdist-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const stateFile = join(dir, 'state.json');
  const first = harness({ stateFile });
  first.couic.streams = [
    [
      snapshot('c1', upsert('192.0.2.1/32', 0), upsert('192.0.2.2/32', 0)),
      [{ event: { $case: 'removal', value: { policy: Policy.POLICY_DROP, cidr: '192.0.2.1/32', reason: RemovalReason.REMOVAL_REASON_DELETED, version: undefined } } }, { event: { $case: 'checkpoint', value: { cursor: 'c2' } } }],
    ],
  ];
  await first.bridge.start();
  await ready(first.bridge);
  for (let i = 0; i < 100 && first.bridge.consumer.cursor !== 'c2'; i++) await new Promise((r) => setTimeout(r, 5));
  await first.bridge.reconcileOnce();
  t.is(first.dnsdist.verdict('192.0.2.1'), 'pass');
  t.is(first.dnsdist.verdict('192.0.2.2'), 'dynblock');
  await first.bridge.stop();
  const saved = await readStateFile(stateFile);
  t.is(saved?.cursor, 'c2');
  t.deepEqual(saved?.rules.map((r) => r.cidr), ['192.0.2.2/32']);
  t.false((await readFile(stateFile, 'utf8')).includes('"t"'), 'no token in the state file');

  const second = harness({ stateFile });
  second.couic.streams = [[[{ event: { $case: 'resumed', value: { cursor: 'c2' } } }]]];
  await second.bridge.start();
  t.teardown(() => second.bridge.stop());
  await ready(second.bridge);
  t.deepEqual(second.couic.cursors, ['c2'], 'resumed from the saved cursor');
  await second.bridge.reconcileOnce();
  t.is(second.dnsdist.verdict('192.0.2.2'), 'dynblock', 'rules restored from the state file');
});

test('a failed publish is retried on the next poll', async (t) => {
  const { dnsdist, couic, bridge } = harness({ consume: false });
  await bridge.start();
  t.teardown(() => bridge.stop());
  dnsdist.generate('127.0.0.2', 60, 'rate');
  couic.failAdds = true;
  t.is(await bridge.publishOnce(), 0);
  couic.failAdds = false;
  t.is(await bridge.publishOnce(), 1);
});
