// Scenario "replication-propagation": 2 and then 3 peered nodes (full mesh over mTLS,
// default 250 ms flush interval). Rules are added on node1 at a steady rate (AddRules
// every 10 ms); a Watch stream on each node records when every rule becomes visible
// there. Figure: latency from the AddRules call to the rule's upsert on the other
// nodes, beside the same rules seen by a Watch on node1 itself (same run: what the
// API, the journal commit and the Watch cost without replication). The notes give the
// designed floor (a change waits up to one flush interval) and the loopback TCP round
// trip measured in the same run. Lost rules (never seen on a peer) are counted; the
// requirement is zero.
//
// Run alone: `node --import tsx bench/replication-propagation.ts [--quick] [--record]`.
// For trials, COUIC_BENCH_PROPAGATION_RATES="10000:10,1000:5" (rules/s:seconds, comma
// separated) replaces the rates of the chosen mode.
import type { CouicClients } from '../src/cli/connection.js';
import { parseCidr } from '../src/domain/cidr.js';
import type { RuleSpec } from '../src/generated/couic/v1/entry.js';
import { runCli, type RunOptions, type Scenario } from './lib/cli.js';
import { isMain } from './lib/is-main.js';
import { startPeeredNodes, waitUntil } from './lib/peered-nodes.js';
import { measureLoopbackRtt } from './lib/loopback-rtt.js';
import { formatInt, type Figure, type Plot, type ScenarioResult } from './lib/results.js';
import { RuleSpecSource } from './lib/rule-specs.js';
import { summarize } from './lib/stats.js';
import { VisibilityLog } from './lib/visibility-log.js';
import { withTempDir } from './lib/temp-dir.js';

export interface PropagationSizes {
  /** Target rates (rules/s) and how long each is sustained. */
  readonly rates: readonly { readonly rulesPerSecond: number; readonly seconds: number }[];
  /** Cluster sizes measured one after the other (each a full mesh). */
  readonly nodeCounts?: readonly number[];
  readonly tickMs: number;
  /** How long to wait for stragglers after the last add before counting them lost. */
  readonly drainTimeoutMs: number;
}

export const FULL_SIZES: PropagationSizes = {
  rates: [
    { rulesPerSecond: 1_000, seconds: 30 },
    { rulesPerSecond: 10_000, seconds: 30 },
  ],
  tickMs: 10,
  drainTimeoutMs: 30_000,
};
export const QUICK_SIZES: PropagationSizes = {
  rates: [
    { rulesPerSecond: 200, seconds: 1 },
    { rulesPerSecond: 1_000, seconds: 1 },
  ],
  tickMs: 10,
  drainTimeoutMs: 15_000,
};

const DEFAULT_NODE_COUNTS = [2, 3] as const;
const nodeNames = (count: number): string[] => Array.from({ length: count }, (_, i) => `node${i + 1}`);

interface RateRun {
  readonly rulesPerSecond: number;
  readonly sent: number;
  readonly achievedPerSecond: number;
  readonly local: number[];
  readonly remote: number[];
  readonly lost: Record<string, number>;
}

async function measureRate(
  api: CouicClients,
  names: readonly string[],
  logs: Record<string, VisibilityLog>,
  specs: RuleSpecSource,
  rate: PropagationSizes['rates'][number],
  sizes: PropagationSizes,
): Promise<RateRun> {
  const perTick = Math.max(1, Math.round((rate.rulesPerSecond * sizes.tickMs) / 1000));
  const ticks = Math.round((rate.seconds * 1000) / sizes.tickMs);
  const sentAt = new Map<string, number>();
  // Rules of earlier rates, already in the logs.
  const sentBefore = Math.min(...names.map((n) => (logs[n] as VisibilityLog).seenAt.size));
  const calls: Promise<unknown>[] = [];
  const started = performance.now();
  for (let tick = 0; tick < ticks; tick++) {
    const due = started + tick * sizes.tickMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // Families alternate per call: 30 s at 10,000 rules/s is more than one family's capacity (262,144).
    const family = tick % 2 === 0 ? 'v4' : 'v6';
    const rules: RuleSpec[] = specs.take(family, perTick);
    const at = performance.now();
    // Keyed by the canonical text the Watch reports (the IPv6 specs are not written canonically).
    for (const rule of rules) sentAt.set(family === 'v4' ? rule.cidr : parseCidr(rule.cidr).text, at);
    calls.push(api.rules.addRules({ rules }));
  }
  await Promise.all(calls);
  const elapsed = (performance.now() - started) / 1000;
  // The full check only once every log holds at least as many rules as were ever sent (cheap polls meanwhile).
  const everywhere = (): boolean =>
    names.every((n) => (logs[n] as VisibilityLog).seenAt.size >= sentBefore + sentAt.size) &&
    names.every((n) => [...sentAt.keys()].every((cidr) => (logs[n] as VisibilityLog).seenAt.has(cidr)));
  await waitUntil('every rule on every node', async () => everywhere(), sizes.drainTimeoutMs).catch(() => undefined);
  const local: number[] = [];
  const remote: number[] = [];
  const lost: Record<string, number> = {};
  for (const name of names) {
    let missing = 0;
    for (const [cidr, t0] of sentAt) {
      const t1 = (logs[name] as VisibilityLog).seenAt.get(cidr);
      if (t1 === undefined) {
        missing++;
        continue;
      }
      (name === 'node1' ? local : remote).push(t1 - t0);
    }
    lost[name] = missing;
  }
  return { rulesPerSecond: rate.rulesPerSecond, sent: sentAt.size, achievedPerSecond: sentAt.size / elapsed, local, remote, lost };
}

export async function runPropagation(sizes: PropagationSizes, options: RunOptions = {}): Promise<ScenarioResult> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  const plots: Plot[] = [];
  for (const count of sizes.nodeCounts ?? DEFAULT_NODE_COUNTS) {
    const result = await runCluster(count, sizes, options);
    figures.push(...result.figures);
    notes.push(...result.notes);
    plots.push(...result.plots);
  }
  const rtt = await measureLoopbackRtt();
  const flushMs = 250;
  notes.push(
    `floors: a change waits 0-${flushMs} ms for its link's next flush (mean ${flushMs / 2} ms; a link idle for a whole interval flushes at once), ` +
      `then crosses loopback: TCP round trip p50 ${(rtt.p50 * 1000).toFixed(0)} µs, p99 ${(rtt.p99 * 1000).toFixed(0)} µs (1,000 one-byte ping-pongs, this run)`,
    `full mesh over mTLS on loopback, flush interval ${flushMs} ms (default); AddRules every ${sizes.tickMs} ms on node1's Unix socket (IPv4 and IPv6 host rules alternating per call); latency from the AddRules call to the upsert on a Watch stream (one per node, this process's clock); daemons log at warn`,
  );
  return { scenario: 'replication-propagation', figures, notes, plots };
}

async function runCluster(count: number, sizes: PropagationSizes, options: RunOptions): Promise<{ figures: Figure[]; notes: string[]; plots: Plot[] }> {
  const log = options.log ?? (() => undefined);
  const names = nodeNames(count);
  const others = names.slice(1).join('/');
  return withTempDir('couic-bp-', async (dir) => {
    const links = names.flatMap((from, i) => names.slice(i + 1).map((to) => [from, to] as const));
    const cluster = await startPeeredNodes(dir, {
      names,
      links,
      daemon: { ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : { logLevel: 'warn' }), ...(options.cpuProfDir !== undefined ? { cpuProfDir: options.cpuProfDir } : {}) },
    });
    const logs: Record<string, VisibilityLog> = {};
    try {
      for (const name of names) {
        const node = cluster.node(name);
        await waitUntil(`${name} peers connected`, async () => {
          const { links: status } = await node.api.replication.listPeers({});
          return status.length > 0 && status.every((l) => l.state === 1);
        });
      }
      for (const name of names) logs[name] = new VisibilityLog(cluster.node(name).api, 'bench');
      await waitUntil('watch snapshots', async () => names.every((n) => (logs[n] as VisibilityLog).ready()));
      const specs = new RuleSpecSource();
      const runs: RateRun[] = [];
      for (const rate of sizes.rates) {
        const run = await measureRate(cluster.node('node1').api, names, logs, specs, rate, sizes);
        const r = summarize(run.remote.length > 0 ? run.remote : [Number.NaN]);
        log(
          `replication-propagation: ${count} nodes, ${formatInt(rate.rulesPerSecond)} rules/s: ${formatInt(run.sent)} sent at ${formatInt(run.achievedPerSecond)}/s, ` +
            `peers p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms max ${r.max.toFixed(1)} ms, lost ${JSON.stringify(run.lost)}`,
        );
        runs.push(run);
      }
      return {
        figures: runs.map((run) => ({
          name: `${count} nodes: add on node1 -> visible on ${others} (Watch), ${formatInt(run.rulesPerSecond)} rules/s for ${formatInt(run.sent)} rules`,
          kind: 'latency',
          unit: 'ms',
          couic: summarize(run.remote),
          baseline: summarize(run.local),
          baselineName: 'same rules seen by a Watch on node1 itself',
        })),
        plots: runs.map((run) => ({
          kind: 'latency-cdf',
          file: `propagation-${count}-nodes-${run.rulesPerSecond}`,
          title: `${count} nodes, ${formatInt(run.rulesPerSecond)} rules/s: add on node1 -> visible`,
          series: [
            { label: `on ${others}`, values: run.remote },
            { label: 'on node1 itself', values: run.local },
          ],
        })),
        notes: runs.map(
          (run) =>
            `${count} nodes, ${formatInt(run.rulesPerSecond)} rules/s: ${formatInt(run.sent)} rules sent (achieved ${formatInt(run.achievedPerSecond)}/s), ` +
            `lost: ${names.map((n) => `${n} ${run.lost[n] ?? 0}`).join(', ')}`,
        ),
      };
    } finally {
      for (const name of names) await logs[name]?.close();
      await cluster.stop();
    }
  });
}

/** The rates of COUIC_BENCH_PROPAGATION_RATES ("10000:10,1000:5"), if set. */
function ratesFromEnv(): PropagationSizes['rates'] | undefined {
  const text = process.env['COUIC_BENCH_PROPAGATION_RATES'];
  if (text === undefined || text === '') return undefined;
  return text.split(',').map((part) => {
    const [rate, seconds] = part.split(':').map(Number);
    if (rate === undefined || seconds === undefined || !(rate > 0) || !(seconds > 0)) {
      throw new Error(`COUIC_BENCH_PROPAGATION_RATES: expected "rules/s:seconds[,...]", got "${text}"`);
    }
    return { rulesPerSecond: rate, seconds };
  });
}

export const replicationPropagationScenario: Scenario = {
  name: 'replication-propagation',
  run: (quick, options) => {
    const sizes = quick ? QUICK_SIZES : FULL_SIZES;
    const rates = ratesFromEnv();
    return runPropagation(rates === undefined ? sizes : { ...sizes, rates }, options);
  },
};

if (isMain(import.meta.url)) await runCli([replicationPropagationScenario], undefined, 'node --import tsx bench/replication-propagation.ts');
