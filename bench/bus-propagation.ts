// Scenario "bus-propagation": NATS bus replication between two daemons through one
// nats-server (JetStream). node1 publishes and consumes, node2 only consumes.
// 1. Latency from an AddRules call on node1 to the rule's upsert on a Watch stream
//    on node2, at 1,000 and 10,000 rules/s (AddRules every 10 ms), beside a bare
//    NATS core publish -> subscribe of small messages at the same rate in the same
//    run (the floor: what the bus costs with no couic at all).
// 2. Time for a fresh consume-only node to converge on 262,144 rules already in the
//    bus (daemon start -> all rules listed), beside a bare client reading the same
//    stream message by message (the floor for reading it).
//
// Run alone: `node --import tsx bench/bus-propagation.ts [--quick] [--record]`.
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { CouicClients } from '../src/cli/connection.js';
import type { RuleSpec } from '../src/generated/couic/v1/entry.js';
import { runCli, type RunOptions, type Scenario } from './lib/cli.js';
import { startDaemon, type BenchDaemon } from './lib/daemon.js';
import { isMain } from './lib/is-main.js';
import { startBenchNats } from './lib/nats-server.js';
import { formatInt, type Figure, type Plot, type ScenarioResult } from './lib/results.js';
import { decodeBatch } from '../src/replication/bus/bus-batch-codec.js';
import { RuleSpecSource } from './lib/rule-specs.js';
import { summarize } from './lib/stats.js';
import { VisibilityLog } from './lib/visibility-log.js';
import { withTempDir } from './lib/temp-dir.js';
import { openClients, unixEndpoint } from '../test/helpers/clients.js';
import { waitUntil } from '../test/helpers/wait.js';

export interface BusSizes {
  readonly rates: readonly { readonly rulesPerSecond: number; readonly seconds: number }[];
  readonly tickMs: number;
  readonly drainTimeoutMs: number;
  /** Rules a fresh node converges on. */
  readonly convergeRules: number;
}

export const FULL_SIZES: BusSizes = {
  rates: [
    { rulesPerSecond: 1_000, seconds: 10 },
    { rulesPerSecond: 10_000, seconds: 5 },
  ],
  tickMs: 10,
  drainTimeoutMs: 60_000,
  convergeRules: 262_144,
};
export const QUICK_SIZES: BusSizes = {
  rates: [
    { rulesPerSecond: 200, seconds: 1 },
    { rulesPerSecond: 1_000, seconds: 1 },
  ],
  tickMs: 10,
  drainTimeoutMs: 20_000,
  convergeRules: 5_000,
};

/**
 * When each CIDR first reaches NATS (a plain subscriber on the bus subject, decoding
 * the batches): splits the latency into publisher side (add -> on NATS) and consumer
 * side (on NATS -> visible on node2).
 */
class NatsArrivalLog {
  readonly seenAt = new Map<string, number>();
  private constructor(private readonly nc: Awaited<ReturnType<typeof connect>>) {}

  static async open(url: string, subject: string): Promise<NatsArrivalLog> {
    const log = new NatsArrivalLog(await connect({ servers: url }));
    log.nc.subscribe(subject, {
      callback: (_err, msg) => {
        const now = performance.now();
        try {
          for (const record of decodeBatch(msg.data)) {
            const cidr = record.kind === 'live' ? record.entry.cidr.text : record.cidr.text;
            if (!log.seenAt.has(cidr)) log.seenAt.set(cidr, now);
          }
        } catch {
          // not a batch: ignore
        }
      },
    });
    await log.nc.flush();
    return log;
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

function clientsOf(daemon: BenchDaemon): CouicClients {
  return openClients(unixEndpoint(daemon.socketPath), daemon.token);
}

/** Bare NATS: core publish -> subscribe latency of `count` small messages at `perSecond`. */
async function bareNatsLatency(url: string, perSecond: number, seconds: number, tickMs: number): Promise<number[]> {
  const pub = await connect({ servers: url });
  const sub = await connect({ servers: url });
  const latencies: number[] = [];
  const subject = 'bench.floor';
  const s = sub.subscribe(subject, {
    callback: (_err, msg) => {
      const sent = new DataView(msg.data.buffer, msg.data.byteOffset, 8).getFloat64(0);
      latencies.push(performance.now() - sent);
    },
  });
  await sub.flush();
  const perTick = Math.max(1, Math.round((perSecond * tickMs) / 1000));
  const ticks = Math.round((seconds * 1000) / tickMs);
  const started = performance.now();
  for (let tick = 0; tick < ticks; tick++) {
    const wait = started + tick * tickMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (let i = 0; i < perTick; i++) {
      const data = new Uint8Array(64);
      new DataView(data.buffer).setFloat64(0, performance.now());
      pub.publish(subject, data);
    }
  }
  await pub.flush();
  await waitUntil('bare NATS messages', () => latencies.length >= perTick * ticks, 30_000).catch(() => undefined);
  s.unsubscribe();
  await pub.close();
  await sub.close();
  return latencies;
}

/** Bare client reading a whole stream by sequence (what a converging node must at least do). */
async function bareStreamRead(url: string, stream: string): Promise<{ ms: number; messages: number; bytes: number }> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const started = performance.now();
    let bytes = 0;
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      bytes += m?.data.byteLength ?? 0;
    }
    return { ms: performance.now() - started, messages: info.state.messages, bytes };
  } finally {
    await nc.close();
  }
}

async function busPending(api: CouicClients): Promise<number> {
  const { links } = await api.replication.listPeers({});
  return links.filter((l) => l.kind === 2).reduce((sum, l) => sum + l.pendingDeltas, 0);
}

export async function runBusPropagation(sizes: BusSizes, options: RunOptions = {}): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  return withTempDir('couic-bus-', async (dir) => {
    const nats = await startBenchNats();
    const stops: (() => Promise<void>)[] = [nats.stop];
    const daemonOptions = { logLevel: options.logLevel ?? 'warn', ...(options.cpuProfDir !== undefined ? { cpuProfDir: options.cpuProfDir } : {}) };
    const bus = (extra: string): string => `[bus]\nservers = [${JSON.stringify(nats.url)}]\n${extra}`;
    try {
      const node1 = await startDaemon(dir, { ...daemonOptions, name: 'node1', nodeId: 'node1', configExtra: bus('') });
      stops.unshift(() => node1.stop());
      const node2 = await startDaemon(dir, { ...daemonOptions, name: 'node2', nodeId: 'node2', configExtra: bus('publish = false') });
      stops.unshift(() => node2.stop());
      const api1 = clientsOf(node1);
      const api2 = clientsOf(node2);
      stops.unshift(async () => {
        api1.close();
        api2.close();
      });
      const watch2 = new VisibilityLog(api2, 'bench');
      stops.unshift(() => watch2.close());
      // node1's own Watch: when the add is committed and visible locally (the store's share).
      const watch1 = new VisibilityLog(api1, 'bench');
      stops.unshift(() => watch1.close());
      await waitUntil('watch snapshot', () => watch2.ready() && watch1.ready(), 30_000);
      const arrivals = await NatsArrivalLog.open(nats.url, 'couic.rules');
      stops.unshift(() => arrivals.close());

      const specs = new RuleSpecSource();
      const figures: Figure[] = [];
      const notes: string[] = [];
      const plots: Plot[] = [];
      for (const rate of sizes.rates) {
        const perTick = Math.max(1, Math.round((rate.rulesPerSecond * sizes.tickMs) / 1000));
        const ticks = Math.round((rate.seconds * 1000) / sizes.tickMs);
        const sentAt = new Map<string, number>();
        const calls: Promise<unknown>[] = [];
        const started = performance.now();
        for (let tick = 0; tick < ticks; tick++) {
          const wait = started + tick * sizes.tickMs - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const rules: RuleSpec[] = specs.take('v4', perTick);
          const at = performance.now();
          for (const rule of rules) sentAt.set(rule.cidr, at);
          calls.push(api1.rules.addRules({ rules }));
        }
        await Promise.all(calls);
        const achieved = sentAt.size / ((performance.now() - started) / 1000);
        await waitUntil('rules on node2', () => [...sentAt.keys()].every((c) => watch2.seenAt.has(c)), sizes.drainTimeoutMs).catch(() => undefined);
        const latencies: number[] = [];
        const local: number[] = [];
        const toNats: number[] = [];
        const fromNats: number[] = [];
        let lost = 0;
        for (const [cidr, t0] of sentAt) {
          const t1 = watch2.seenAt.get(cidr);
          if (t1 === undefined) lost++;
          else latencies.push(t1 - t0);
          const tl = watch1.seenAt.get(cidr);
          if (tl !== undefined) local.push(tl - t0);
          const tn = arrivals.seenAt.get(cidr);
          if (tn !== undefined) {
            toNats.push(tn - t0);
            if (t1 !== undefined) fromNats.push(t1 - tn);
          }
        }
        const split = (xs: number[]): string => {
          const s = summarize(xs.length > 0 ? xs : [Number.NaN]);
          return `p50 ${s.p50.toFixed(0)} / p99 ${s.p99.toFixed(0)} ms`;
        };
        const floor = await bareNatsLatency(nats.url, rate.rulesPerSecond, Math.min(rate.seconds, 3), sizes.tickMs);
        const c = summarize(latencies.length > 0 ? latencies : [Number.NaN]);
        log(`bus-propagation: ${formatInt(rate.rulesPerSecond)} rules/s: p50 ${c.p50.toFixed(1)} ms p99 ${c.p99.toFixed(1)} ms, lost ${lost}; bare NATS p50 ${summarize(floor).p50.toFixed(2)} ms`);
        figures.push({
          name: `add on node1 -> visible on node2 via NATS (Watch), ${formatInt(rate.rulesPerSecond)} rules/s for ${formatInt(sentAt.size)} rules`,
          kind: 'latency',
          unit: 'ms',
          couic: summarize(latencies.length > 0 ? latencies : [Number.NaN]),
          baseline: summarize(floor),
          baselineName: 'bare NATS core publish -> subscribe, 64-byte messages, same rate, same server',
        });
        plots.push({
          kind: 'latency-cdf',
          file: `bus-propagation-${rate.rulesPerSecond}`,
          title: `NATS bus, ${formatInt(rate.rulesPerSecond)} rules/s: add on node1 -> visible on node2`,
          series: [
            { label: 'couic via NATS', values: latencies },
            { label: 'bare NATS publish -> subscribe', values: floor },
          ],
        });
        notes.push(
          `${formatInt(rate.rulesPerSecond)} rules/s: ${formatInt(sentAt.size)} rules sent (achieved ${formatInt(achieved)}/s), lost on node2: ${lost}; split: add -> visible on node1 itself (API + journal commit + Watch) ${split(local)}, add -> batch on NATS (plain subscriber in the bench) ${split(toNats)}, NATS -> visible on node2 ${split(fromNats)}`,
        );
        log(`bus-propagation: split add->node1 ${split(local)}, add->NATS ${split(toNats)}, NATS->node2 ${split(fromNats)}`);
      }

      // Convergence of a fresh node on `convergeRules` rules held by the bus.
      const big = new RuleSpecSource('conv');
      for (let done = 0; done < sizes.convergeRules; done += 65_536) {
        await api1.rules.addRules({ rules: big.take('v4', Math.min(65_536, sizes.convergeRules - done)) });
      }
      await waitUntil('node1 backlog published', async () => (await busPending(api1)) === 0, 120_000);
      const total = Number((await api1.stats.getGlobalStats({})).dropCidrCount);
      const floorRead = await bareStreamRead(nats.url, 'couic_rules');
      const t0 = performance.now();
      const node3 = await startDaemon(dir, { ...daemonOptions, name: 'node3', nodeId: 'node3', configExtra: bus('publish = false') });
      stops.unshift(() => node3.stop());
      const api3 = clientsOf(node3);
      stops.unshift(async () => api3.close());
      // Start-up (process start -> first authenticated call answered) is the daemon's own cost;
      // the bus consumer starts during it, so rules may already be arriving by then.
      const readyMs = performance.now() - t0;
      const countAtReady = Number((await api3.stats.getGlobalStats({})).dropCidrCount);
      await waitUntil('node3 converged', async () => Number((await api3.stats.getGlobalStats({})).dropCidrCount) >= total, 300_000);
      const convergeMs = performance.now() - t0;
      log(
        `bus-propagation: fresh node converged on ${formatInt(total)} rules in ${(convergeMs / 1000).toFixed(2)} s: start-up ${(readyMs / 1000).toFixed(2)} s (${formatInt(countAtReady)} rules applied by then), then ${((convergeMs - readyMs) / 1000).toFixed(2)} s (bare read ${(floorRead.ms / 1000).toFixed(2)} s)`,
      );
      figures.push({
        name: `fresh consume-only node converges on ${formatInt(total)} rules from the bus (daemon start -> all applied)`,
        kind: 'latency',
        unit: 'ms',
        couic: summarize([convergeMs]),
        baseline: summarize([floorRead.ms]),
        baselineName: `bare client reading the same stream by sequence (${formatInt(floorRead.messages)} messages, ${(floorRead.bytes / 1048576).toFixed(1)} MiB)`,
      });
      figures.push({
        name: `fresh consume-only node converges on ${formatInt(total)} rules, after its start-up (API ready -> all applied)`,
        kind: 'latency',
        unit: 'ms',
        couic: summarize([convergeMs - readyMs]),
        baseline: summarize([floorRead.ms]),
        baselineName: 'bare client reading the same stream by sequence (as above)',
      });
      notes.push(
        `one nats-server ${nats.url.replace(/:\d+$/, '')} (Debian 2.9, JetStream file store) on loopback; node1 publishes + consumes, node2 and node3 consume only; flush interval 250 ms (default); AddRules every ${sizes.tickMs} ms on node1's Unix socket; visibility = upsert on node2's Watch stream (this process's clock); daemons log at warn`,
        `fresh node: start-up (process start -> API answering) ${formatInt(readyMs)} ms with ${formatInt(countAtReady)} rules already applied by then (the bus consumer starts during start-up), then ${formatInt(convergeMs - readyMs)} ms to all applied; convergence includes the store's journal commits; the stream held ${formatInt(floorRead.messages)} messages (batches of up to ~1 MiB) for ${formatInt(total)} rules`,
      );
      return { scenario: 'bus-propagation', figures, notes, plots };
    } finally {
      for (const stop of stops) await stop().catch(() => undefined);
    }
  });
}

export const busPropagationScenario: Scenario = {
  name: 'bus-propagation',
  run: (quick, options) => runBusPropagation(quick ? QUICK_SIZES : FULL_SIZES, options),
};

if (isMain(import.meta.url)) await runCli([busPropagationScenario], undefined, 'node --import tsx bench/bus-propagation.ts');
