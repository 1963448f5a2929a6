// Scenario "replication-reconcile": two peered nodes holding 262,144 replicated rules
// each; one is stopped, the states are made to differ by 0, 100 or all rules, and it is
// started again. Figures: bytes exchanged by the reconciliation on reconnect (the
// LinkStatus of the dialling node: the encoded size of every message from connect to
// reconciled - hello, digests, per-record summaries, records, acks - both directions)
// beside the encoded size of one full snapshot of the same 262,144 records (same run);
// reconciliation durations in the notes.
//
// Run alone: `node --import tsx bench/replication-reconcile.ts [--quick] [--record]`.
import type { CouicClients } from '../src/cli/connection.js';
import { parseCidr } from '../src/domain/cidr.js';
import { Policy, type RuleSpec } from '../src/generated/couic/v1/entry.js';
import { SyncRecords, SyncPhase } from '../src/generated/couic/v1/peering.js';
import type { LinkReconciliation } from '../src/generated/couic/v1/replication.js';
import { recordToWire } from '../src/replication/mesh/record-codec.js';
import { runCli, type RunOptions, type Scenario } from './lib/cli.js';
import { isMain } from './lib/is-main.js';
import { startPeeredNodes, waitUntil, type PeeredCluster } from './lib/peered-nodes.js';
import { formatInt, type Figure, type ScenarioResult } from './lib/results.js';
import { RuleSpecSource } from './lib/rule-specs.js';
import { summarize } from './lib/stats.js';
import { withTempDir } from './lib/temp-dir.js';

export interface ReconcileSizes {
  readonly rules: number;
  readonly batch: number;
  readonly someDiffering: number;
}

export const FULL_SIZES: ReconcileSizes = { rules: 262_144, batch: 65_536, someDiffering: 100 };
export const QUICK_SIZES: ReconcileSizes = { rules: 5_000, batch: 2_500, someDiffering: 100 };

interface Case {
  readonly label: string;
  readonly reconciliation: LinkReconciliation;
  /** From starting the stopped node to the reconciliation being reported. */
  readonly wallMs: number;
}

async function dropCount(api: CouicClients): Promise<number> {
  return (await api.stats.getGlobalStats({})).dropCidrCount;
}

async function addAll(api: CouicClients, rules: readonly RuleSpec[], batch: number): Promise<void> {
  for (let i = 0; i < rules.length; i += batch) await api.rules.addRules({ rules: rules.slice(i, i + batch) });
}

/** Restarts `name` (stopped) and waits for node1's link to report a reconciliation newer than the restart. */
async function reconnect(cluster: PeeredCluster, name: string, label: string): Promise<Case> {
  const startedAt = Date.now();
  const t0 = performance.now();
  await cluster.start(name);
  let found: LinkReconciliation | undefined;
  await waitUntil(`reconciliation after restarting ${name}`, async () => {
    const { links } = await cluster.node('node1').api.replication.listPeers({});
    const r = links[0]?.lastReconciliation;
    if (r !== undefined && r.atMs >= startedAt) found = r;
    return found !== undefined;
  }, 120_000);
  if (found === undefined) throw new Error('unreachable');
  return { label, reconciliation: found, wallMs: performance.now() - t0 };
}

/** Encoded size of every node1 record as one peering records message (what a full snapshot sends). */
async function fullSnapshotBytes(api: CouicClients): Promise<number> {
  const records = [];
  const controller = new AbortController();
  for await (const response of api.replication.watch({ policy: Policy.POLICY_UNSPECIFIED, tags: [], cursor: '' }, { signal: controller.signal })) {
    let end = false;
    for (const { event } of response.events) {
      if (event?.$case === 'upsert' && event.value.entry !== undefined && event.value.version !== undefined) {
        const e = event.value.entry;
        records.push(
          recordToWire({
            kind: 'live',
            entry: {
              policy: e.policy === Policy.POLICY_IGNORE ? 'ignore' : 'drop',
              cidr: parseCidr(e.cidr),
              tag: e.tag,
              expiration: e.expiration,
              createdAt: e.createdAt,
              originNode: e.originNode,
              source: 'api',
              version: event.value.version,
            },
          }),
        );
      }
      if (event?.$case === 'snapshotEnd') end = true;
    }
    if (end) break;
  }
  controller.abort();
  return SyncRecords.encode({ seq: 1, phase: SyncPhase.SYNC_PHASE_RECONCILE, records }).finish().length;
}

export async function runReconcile(sizes: ReconcileSizes, options: RunOptions = {}): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  return withTempDir('couic-br-', async (dir) => {
    const cluster = await startPeeredNodes(dir, {
      names: ['node1', 'node2'],
      links: [['node1', 'node2']],
      daemon: { logLevel: options.logLevel ?? 'warn', ...(options.cpuProfDir !== undefined ? { cpuProfDir: options.cpuProfDir } : {}) },
    });
    try {
      await waitUntil('node1 connected', async () => (await cluster.node('node1').api.replication.listPeers({})).links[0]?.state === 1);
      const rules = new RuleSpecSource('rec').take('v4', sizes.rules);
      await addAll(cluster.node('node1').api, rules, sizes.batch);
      await waitUntil('node2 holding every rule', async () => (await dropCount(cluster.node('node2').api)) === sizes.rules, 120_000);
      const snapshotBytes = await fullSnapshotBytes(cluster.node('node1').api);
      const cases: Case[] = [];

      await cluster.stopNode('node2');
      cases.push(await reconnect(cluster, 'node2', '0 differing'));

      await cluster.stopNode('node2');
      await addAll(cluster.node('node1').api, rules.slice(0, sizes.someDiffering).map((r) => ({ ...r, tag: 'rec-changed' })), sizes.batch);
      cases.push(await reconnect(cluster, 'node2', `${formatInt(sizes.someDiffering)} differing`));

      // All differing: node2 rewrites every rule (new versions) while node1 is away.
      await waitUntil('node2 holding every rule', async () => (await dropCount(cluster.node('node2').api)) === sizes.rules, 120_000);
      await cluster.stopNode('node1');
      await addAll(cluster.node('node2').api, rules.map((r) => ({ ...r, tag: 'rec-rewritten' })), sizes.batch);
      cases.push(await reconnect(cluster, 'node1', 'all differing'));

      for (const c of cases) {
        const r = c.reconciliation;
        log(
          `replication-reconcile: ${c.label}: ${r.durationMs} ms, buckets ${r.bucketsDiffering}, records ${r.recordsSent}/${r.recordsReceived}, ` +
            `bytes ${r.bytesSent}/${r.bytesReceived} (full snapshot ${snapshotBytes})`,
        );
      }
      const baseline = summarize([snapshotBytes]);
      const figures: Figure[] = cases.map((c) => ({
        name: `bytes exchanged by the reconciliation on reconnect, ${formatInt(sizes.rules)} rules on each side, ${c.label}`,
        kind: 'memory',
        unit: 'MiB',
        couic: summarize([c.reconciliation.bytesSent + c.reconciliation.bytesReceived]),
        baseline,
        baselineName: `one full snapshot of the ${formatInt(sizes.rules)} records (encoded)`,
      }));
      return {
        scenario: 'replication-reconcile',
        figures,
        notes: [
          ...cases.map((c) => {
            const r = c.reconciliation;
            return (
              `${c.label}: reconciliation ${formatInt(r.durationMs)} ms (restart to reconciled ${formatInt(c.wallMs)} ms), ` +
              `${formatInt(r.bucketsDiffering)} buckets differing, records sent/received ${formatInt(r.recordsSent)}/${formatInt(r.recordsReceived)}, ` +
              `bytes sent/received ${formatInt(r.bytesSent)}/${formatInt(r.bytesReceived)} (${((100 * (r.bytesSent + r.bytesReceived)) / snapshotBytes).toFixed(2)}% of a snapshot)`
            );
          }),
          `2 nodes over mTLS on loopback (node1 dials node2); full snapshot = ${formatInt(snapshotBytes)} bytes (${(snapshotBytes / sizes.rules).toFixed(1)} bytes per record); figures read from node1's LinkStatus (peers list); one run per case`,
          'bytes = encoded size of every peering message of the reconciliation, both ways: hello, bucket digests (8 bytes per bucket), per-record summaries of the differing buckets (about 16 bytes per record), the records the peer lacks or holds older, acks and markers',
        ],
      };
    } finally {
      await cluster.stop();
    }
  });
}

export const replicationReconcileScenario: Scenario = {
  name: 'replication-reconcile',
  run: (quick, options) => runReconcile(quick ? QUICK_SIZES : FULL_SIZES, options),
};

if (isMain(import.meta.url)) await runCli([replicationReconcileScenario], undefined, 'node --import tsx bench/replication-reconcile.ts');
