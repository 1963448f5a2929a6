// Scenario "scaling": how the cost of absorbing rules grows with the work, at 1x, 4x
// and 16x: (a) the rules the daemon already holds (AddRules calls of 1,000 rules, and
// single AddRule latency, measured with the store preloaded to 1x/4x/16x a base size);
// (b) concurrent clients (1, 4, 16 clients each sending 1,000-rule calls). The echo
// baseline takes the same calls in the same run; it holds no state, so in (a) its
// figures show the machine's drift and the ratio shows couic's own growth.
//
// Run alone: `node --import tsx bench/scaling.ts [--quick] [--record]`.
import { setTimeout as sleep } from 'node:timers/promises';
import { runSingles } from './api-insert.js';
import { runCli, type RunOptions, type Scenario } from './lib/cli.js';
import { startDaemon } from './lib/daemon.js';
import { startEcho } from './lib/echo.js';
import { isMain } from './lib/is-main.js';
import type { RuleSpec } from '../src/generated/couic/v1/entry.js';
import type { Figure, Plot, ScenarioResult } from './lib/results.js';
import { openRulesClient, type OpenClient, type RulesClient } from './lib/rules-client.js';
import { RuleSpecSource } from './lib/rule-specs.js';
import { summarize, type Summary } from './lib/stats.js';
import { withTempDir } from './lib/temp-dir.js';

export interface ScalingSizes {
  readonly factors: readonly number[];
  /** Rules held at 1x (IPv4 drop rules; 16x must stay within the 262,144 map). */
  readonly baseRules: number;
  /** Rules per measured run, sent as calls of `chunkRules`. */
  readonly runRules: number;
  readonly chunkRules: number;
  /** Single-rule calls per latency run (64 in flight). */
  readonly singleCalls: number;
  readonly runs: number;
  readonly pauseMs: number;
}

export const FULL_SIZES: ScalingSizes = { factors: [1, 4, 16], baseRules: 15_000, runRules: 20_000, chunkRules: 1_000, singleCalls: 2_000, runs: 3, pauseMs: 300 };
export const QUICK_SIZES: ScalingSizes = { factors: [1, 4, 16], baseRules: 200, runRules: 2_000, chunkRules: 500, singleCalls: 200, runs: 2, pauseMs: 20 };

const BASELINE = 'bare grpc-js echo, same calls, Unix socket';

interface Pair {
  readonly couic: RulesClient;
  readonly echo: RulesClient;
}

export async function runScaling(sizes: ScalingSizes, options: RunOptions = {}): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  return withTempDir('couic-bench-', async (dir) => {
    const [daemon, echo] = await Promise.all([startDaemon(dir, options.logLevel !== undefined ? { logLevel: options.logLevel } : {}), startEcho(dir)]);
    const opened: OpenClient[] = [];
    const open = (): Pair => {
      const couic = openRulesClient(daemon.unix, daemon.token);
      const baseline = openRulesClient(echo.unix, echo.token);
      opened.push(couic, baseline);
      return { couic: couic.rules, echo: baseline.rules };
    };
    try {
      const specs = new RuleSpecSource('scaling');
      const main = open();
      const figures: Figure[] = [];
      const heldCurve: Record<'couic' | 'echo', [number, number][]> = { couic: [], echo: [] };
      const p99Curve: Record<'couic' | 'echo', [number, number][]> = { couic: [], echo: [] };
      const clientsCurve: Record<'couic' | 'echo', [number, number][]> = { couic: [], echo: [] };
      // JIT and connection warm-up on both sides, not measured.
      const warm = specs.take('v4', sizes.chunkRules * 2);
      for (const side of ['couic', 'echo'] as const) await sendInCalls([main[side]], warm, sizes.chunkRules);
      await main.couic.deleteRules({ keys: warm.map((r) => ({ policy: r.policy, cidr: r.cidr })) });

      // (a) State held: grow the store to factor x baseRules, then measure.
      let held = 0;
      for (const factor of sizes.factors) {
        const target = factor * sizes.baseRules;
        const preload = specs.take('v4', target - held);
        for (let i = 0; i < preload.length; i += 10_000) await main.couic.addRules({ rules: preload.slice(i, i + 10_000) });
        held = target;
        await sleep(sizes.pauseMs);
        const rates = { couic: [] as number[], echo: [] as number[] };
        const latencies = { couic: [] as number[], echo: [] as number[] };
        for (let run = 0; run < sizes.runs; run++) {
          const rules = specs.take('v4', sizes.runRules);
          const singles = specs.take('v4', sizes.singleCalls);
          for (const side of run % 2 === 0 ? (['echo', 'couic'] as const) : (['couic', 'echo'] as const)) {
            rates[side].push(await sendInCalls([main[side]], rules, sizes.chunkRules));
            const { latenciesMs } = await runSingles({ name: side, rules: main[side] }, singles, 64);
            for (const ms of latenciesMs) latencies[side].push(ms);
          }
          // Back to `target` rules held for the next run.
          const keys = [...rules, ...singles].map((r) => ({ policy: r.policy, cidr: r.cidr }));
          for (let i = 0; i < keys.length; i += 10_000) await main.couic.deleteRules({ keys: keys.slice(i, i + 10_000) });
          await sleep(sizes.pauseMs);
        }
        const heldText = `${factor}x: ${target.toLocaleString('en-US')} rules held`;
        const couicRate = summarize(rates.couic);
        const echoRate = summarize(rates.echo);
        figures.push(throughput(`AddRules, calls of ${sizes.chunkRules.toLocaleString('en-US')} rules, ${heldText}`, couicRate, echoRate));
        const couicLatency = summarize(latencies.couic);
        const echoLatency = summarize(latencies.echo);
        figures.push({ name: `AddRule latency, 64 in flight, ${heldText}`, kind: 'latency', unit: 'ms', couic: couicLatency, baseline: echoLatency, baselineName: BASELINE });
        heldCurve.couic.push([factor, couicRate.median]);
        heldCurve.echo.push([factor, echoRate.median]);
        p99Curve.couic.push([factor, couicLatency.p99]);
        p99Curve.echo.push([factor, echoLatency.p99]);
        log(`scaling: ${heldText}: couic ${Math.round(couicRate.median)} rules/s, echo ${Math.round(echoRate.median)} rules/s`);
      }

      // (b) Concurrent clients, each on its own channel.
      for (const factor of sizes.factors) {
        const pairs = Array.from({ length: factor }, open);
        const rates = { couic: [] as number[], echo: [] as number[] };
        for (let run = 0; run < sizes.runs; run++) {
          const rules = specs.take('v4', sizes.runRules);
          for (const side of run % 2 === 0 ? (['echo', 'couic'] as const) : (['couic', 'echo'] as const)) {
            rates[side].push(await sendInCalls(pairs.map((p) => p[side]), rules, sizes.chunkRules));
          }
          const keys = rules.map((r) => ({ policy: r.policy, cidr: r.cidr }));
          for (let i = 0; i < keys.length; i += 10_000) await main.couic.deleteRules({ keys: keys.slice(i, i + 10_000) });
          await sleep(sizes.pauseMs);
        }
        const couicRate = summarize(rates.couic);
        const echoRate = summarize(rates.echo);
        figures.push(throughput(`AddRules, calls of ${sizes.chunkRules.toLocaleString('en-US')} rules, ${factor}x: ${factor} concurrent client${factor > 1 ? 's' : ''}`, couicRate, echoRate));
        clientsCurve.couic.push([factor, couicRate.median]);
        clientsCurve.echo.push([factor, echoRate.median]);
        log(`scaling: ${factor} clients: couic ${Math.round(couicRate.median)} rules/s, echo ${Math.round(echoRate.median)} rules/s`);
      }

      const curve = (file: string, title: string, xLabel: string, yLabel: string, data: Record<'couic' | 'echo', [number, number][]>): Plot => ({
        kind: 'scaling',
        file,
        title,
        xLabel,
        yLabel,
        series: [
          { label: 'couic', points: data.couic },
          { label: 'grpc-js echo', points: data.echo },
        ],
      });
      return {
        scenario: 'scaling',
        figures,
        plots: [
          curve('scaling-rules-held', `AddRules throughput vs rules held (1x = ${sizes.baseRules.toLocaleString('en-US')})`, 'load factor (rules held)', 'rules/s', heldCurve),
          curve('scaling-latency-held', 'AddRule p99 latency (64 in flight) vs rules held', 'load factor (rules held)', 'p99 latency (ms)', p99Curve),
          curve('scaling-clients', 'AddRules throughput vs concurrent clients', 'load factor (concurrent clients)', 'rules/s (all clients)', clientsCurve),
        ],
        notes: [
          `1x/4x/16x = ${sizes.factors.map((f) => (f * sizes.baseRules).toLocaleString('en-US')).join(' / ')} IPv4 rules held, and 1/4/16 concurrent clients; ` +
            `each run sends ${sizes.runRules.toLocaleString('en-US')} new rules in calls of ${sizes.chunkRules.toLocaleString('en-US')} (split across the clients) and ${sizes.singleCalls.toLocaleString('en-US')} single AddRule calls, deleted again afterwards (untimed)`,
        ],
      };
    } finally {
      for (const client of opened) client.close();
      await Promise.all([daemon.stop(), echo.stop()]);
    }
  });
}

function throughput(name: string, couic: Summary, baseline: Summary): Figure {
  return { name, kind: 'throughput', unit: 'rules/s', couic, baseline, baselineName: BASELINE };
}

/** Sends `rules` in calls of `chunk`, spread round-robin over `clients` working concurrently; rules/s. */
async function sendInCalls(clients: readonly RulesClient[], rules: readonly RuleSpec[], chunk: number): Promise<number> {
  const calls: (typeof rules)[] = [];
  for (let i = 0; i < rules.length; i += chunk) calls.push(rules.slice(i, i + chunk));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      for (;;) {
        const call = calls[next++];
        if (call === undefined) return;
        await client.addRules({ rules: [...call] });
      }
    }),
  );
  return rules.length / ((performance.now() - started) / 1000);
}

export const scalingScenario: Scenario = {
  name: 'scaling',
  run: (quick, options) => runScaling(quick ? QUICK_SIZES : FULL_SIZES, options),
};

if (isMain(import.meta.url)) await runCli([scalingScenario], undefined, 'node --import tsx bench/scaling.ts');
