// Scenario "api-insert": how fast the daemon absorbs rules through its gRPC API: one
// AddRules call of a big batch (Unix socket), then on the Unix socket and on TLS over
// loopback TCP: AddRules calls of 1,000 rules back to back, and single-rule AddRule
// calls with 1 and with 64 in flight. Each figure is measured beside a bare grpc-js
// echo of the same messages on the same kind of endpoint, in the same run, interleaved.
//
// Run alone: `node --import tsx bench/api-insert.ts [--quick] [--record]`.
import { setTimeout as sleep } from 'node:timers/promises';
import { DAEMON_DEFAULTS } from '../src/config/daemon-options.js';
import type { RuleSpec } from '../src/generated/couic/v1/entry.js';
import { makeBenchCerts } from './lib/bench-certs.js';
import { runCli, type RunOptions, type Scenario } from './lib/cli.js';
import { startDaemon } from './lib/daemon.js';
import { startEcho } from './lib/echo.js';
import { describeTransport, type Endpoint, type Transport } from './lib/endpoint.js';
import { isMain } from './lib/is-main.js';
import type { Figure, Plot, ScenarioResult } from './lib/results.js';
import { openRulesClient, type RulesClient } from './lib/rules-client.js';
import { RuleSpecSource, type Family } from './lib/rule-specs.js';
import { summarize } from './lib/stats.js';
import { withTempDir } from './lib/temp-dir.js';

export interface ApiInsertSizes {
  /** Endpoints measured with 1,000-rule batches and single-rule calls. */
  readonly transports: readonly Transport[];
  /** Rules in the one AddRules call (Unix socket). */
  readonly batchRules: number;
  /** Rules per run sent as AddRules calls of `chunkRules` each, one call after the other. */
  readonly chunkedRules: number;
  readonly chunkRules: number;
  /** Runs per address family. */
  readonly batchRuns: number;
  /** Single-rule runs: AddRule calls per run at each concurrency. */
  readonly single: readonly { readonly inFlight: number; readonly calls: number }[];
  readonly singleRuns: number;
  /** Pause between runs so background work (journal flush, snapshot) of one run does not land in the next. */
  readonly pauseMs: number;
}

// One call in flight waits for a journal group commit (write + fsync) per call, so
// it gets fewer calls to keep the full run within minutes.
export const FULL_SIZES: ApiInsertSizes = {
  transports: ['unix', 'tls'],
  batchRules: 100_000,
  chunkedRules: 50_000,
  chunkRules: 1_000,
  batchRuns: 3,
  single: [
    { inFlight: 1, calls: 1_000 },
    { inFlight: 64, calls: 5_000 },
  ],
  singleRuns: 3,
  pauseMs: 500,
};
export const QUICK_SIZES: ApiInsertSizes = {
  transports: ['unix', 'tls'],
  batchRules: 2_000,
  chunkedRules: 2_000,
  chunkRules: 1_000,
  batchRuns: 3,
  single: [
    { inFlight: 1, calls: 100 },
    { inFlight: 64, calls: 200 },
  ],
  singleRuns: 3,
  pauseMs: 50,
};

const baselineOn = (transport: Transport): string => `bare grpc-js echo, same messages, ${describeTransport(transport)}`;

export interface Side {
  readonly name: 'couic' | 'echo';
  readonly rules: RulesClient;
}

export async function runApiInsert(sizes: ApiInsertSizes, options: RunOptions = {}): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  return withTempDir('couic-bench-', async (dir) => {
    const certs = sizes.transports.includes('tls') ? await makeBenchCerts(dir) : undefined;
    const [daemon, echo] = await Promise.all([
      startDaemon(dir, {
        ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
        ...(options.cpuProfDir !== undefined ? { cpuProfDir: options.cpuProfDir } : {}),
        ...(certs !== undefined ? { tls: certs } : {}),
      }),
      startEcho(dir, certs),
    ]);
    const clients: { close(): void }[] = [];
    const sidesOn = (transport: Transport): [Side, Side] => {
      const endpointOf = (server: { unix: Endpoint; tls?: Endpoint }): Endpoint => {
        const endpoint = transport === 'unix' ? server.unix : server.tls;
        if (endpoint === undefined) throw new Error(`no ${transport} endpoint`);
        return endpoint;
      };
      const couicClient = openRulesClient(endpointOf(daemon), daemon.token);
      const echoClient = openRulesClient(endpointOf(echo), echo.token);
      clients.push(couicClient, echoClient);
      return [
        { name: 'couic', rules: couicClient.rules },
        { name: 'echo', rules: echoClient.rules },
      ];
    };
    try {
      const specs = new RuleSpecSource();
      const figures: Figure[] = [];
      const plots: Plot[] = [];
      log(`api-insert: daemon pid ${daemon.pid}, echo pid ${echo.pid}`);

      const [couic, baseline] = sidesOn('unix');
      await warmUp([couic, baseline], specs);
      const batch = await measureBatches(couic, baseline, specs, sizes, log);
      for (const family of ['v4', 'v6'] as const) {
        figures.push({
          name: `AddRules, 1 call of ${sizes.batchRules.toLocaleString('en-US')} ${family === 'v4' ? 'IPv4 /32' : 'IPv6 /128'} rules, Unix socket`,
          kind: 'throughput',
          unit: 'rules/s',
          couic: summarize(batch[family].couic),
          baseline: summarize(batch[family].echo),
          baselineName: baselineOn('unix'),
        });
      }

      for (const transport of sizes.transports) {
        const where = describeTransport(transport);
        const [couicSide, echoSide] = transport === 'unix' ? [couic, baseline] : sidesOn(transport);
        if (transport !== 'unix') await warmUp([couicSide, echoSide], specs);
        const chunked = await measureChunked(couicSide, echoSide, specs, sizes, transport, log);
        figures.push({
          name: `AddRules, calls of ${sizes.chunkRules.toLocaleString('en-US')} IPv4 rules back to back (${sizes.chunkedRules.toLocaleString('en-US')} per run), ${where}`,
          kind: 'throughput',
          unit: 'rules/s',
          couic: summarize(chunked.couic),
          baseline: summarize(chunked.echo),
          baselineName: baselineOn(transport),
        });
        for (const { inFlight, calls: count } of sizes.single) {
          const single = await measureSingles(couicSide, echoSide, specs, count, sizes, inFlight, log);
          const calls = count.toLocaleString('en-US');
          figures.push({
            name: `AddRule, 1 rule per call, ${inFlight} in flight (${calls} calls per run), ${where}`,
            kind: 'throughput',
            unit: 'rules/s',
            couic: summarize(single.couicRates),
            baseline: summarize(single.echoRates),
            baselineName: baselineOn(transport),
          });
          figures.push({
            name: `AddRule latency, ${inFlight} in flight, ${where}`,
            kind: 'latency',
            unit: 'ms',
            couic: summarize(single.couicLatencies),
            baseline: summarize(single.echoLatencies),
            baselineName: baselineOn(transport),
          });
          plots.push({
            kind: 'latency-cdf',
            file: `api-insert-latency-${transport}-${inFlight}`,
            title: `AddRule latency, ${inFlight} in flight, ${where}`,
            series: [
              { label: 'couic', values: single.couicLatencies },
              { label: 'grpc-js echo', values: single.echoLatencies },
            ],
          });
        }
      }
      return {
        scenario: 'api-insert',
        figures,
        plots,
        notes: [
          `daemon with default settings (userspace data plane, logging level ${options.logLevel ?? DAEMON_DEFAULTS.logLevel} to a file, ` +
            `journal group commit ${DAEMON_DEFAULTS.flushIntervalMs} ms with fsync, snapshot every ${DAEMON_DEFAULTS.snapshotEvery.toLocaleString('en-US')} records); ` +
            'rules are distinct /32 (IPv4) and /128 (IPv6) drop rules expiring in 1 h; a call counts when its response (after the journal fsync) is back',
          'TLS: the daemon\'s `[server] listen` with a server certificate from a throwaway CA (no client certificate), and the echo with the same certificate; both on 127.0.0.1',
          `each big-batch run is deleted again (untimed) before the next; couic and echo runs alternate order; the client, the daemon and the echo are 3 processes sharing the machine above`,
        ],
      };
    } finally {
      for (const client of clients) client.close();
      await Promise.all([daemon.stop(), echo.stop()]);
    }
  });
}

/** JIT and connection warm-up on both sides, not measured. */
async function warmUp(sides: readonly Side[], specs: RuleSpecSource): Promise<void> {
  for (const side of sides) {
    await side.rules.addRules({ rules: specs.take('v4', 1_000) });
    await runSingles(side, specs.take('v4', 200), 8);
  }
}

type BatchRates = Record<Family, { couic: number[]; echo: number[] }>;

async function measureBatches(couic: Side, echo: Side, specs: RuleSpecSource, sizes: ApiInsertSizes, log: (line: string) => void): Promise<BatchRates> {
  const rates: BatchRates = { v4: { couic: [], echo: [] }, v6: { couic: [], echo: [] } };
  for (let run = 0; run < sizes.batchRuns; run++) {
    for (const family of ['v4', 'v6'] as const) {
      const rules = specs.take(family, sizes.batchRules);
      const order = run % 2 === 0 ? [echo, couic] : [couic, echo];
      for (const side of order) {
        const started = performance.now();
        const answer = await side.rules.addRules({ rules });
        const seconds = (performance.now() - started) / 1000;
        if (answer.added !== rules.length) throw new Error(`${side.name}: AddRules added ${answer.added} of ${rules.length}`);
        rates[family][side.name].push(rules.length / seconds);
        log(`api-insert: batch run ${run + 1}/${sizes.batchRuns} ${family} ${side.name}: ${Math.round(rules.length / seconds)} rules/s (${(seconds * 1000).toFixed(0)} ms)`);
        await sleep(sizes.pauseMs);
      }
      // Back to the same store size for the next run; also stays far from the per-family cap.
      const deleted = await couic.rules.deleteRules({ keys: rules.map((r) => ({ policy: r.policy, cidr: r.cidr })) });
      if (deleted.deleted !== rules.length) throw new Error(`couic: DeleteRules deleted ${deleted.deleted} of ${rules.length}`);
      await sleep(sizes.pauseMs);
    }
  }
  return rates;
}

/** Rules/s of `chunkedRules` rules sent as sequential AddRules calls of `chunkRules`. */
async function measureChunked(
  couic: Side,
  echo: Side,
  specs: RuleSpecSource,
  sizes: ApiInsertSizes,
  transport: Transport,
  log: (line: string) => void,
): Promise<{ couic: number[]; echo: number[] }> {
  const rates = { couic: [] as number[], echo: [] as number[] };
  for (let run = 0; run < sizes.batchRuns; run++) {
    const rules = specs.take('v4', sizes.chunkedRules);
    const order = run % 2 === 0 ? [echo, couic] : [couic, echo];
    for (const side of order) {
      const started = performance.now();
      for (let offset = 0; offset < rules.length; offset += sizes.chunkRules) {
        await side.rules.addRules({ rules: rules.slice(offset, offset + sizes.chunkRules) });
      }
      const seconds = (performance.now() - started) / 1000;
      rates[side.name].push(rules.length / seconds);
      log(`api-insert: ${transport} calls of ${sizes.chunkRules}, run ${run + 1}/${sizes.batchRuns} ${side.name}: ${Math.round(rules.length / seconds)} rules/s`);
      await sleep(sizes.pauseMs);
    }
    await couic.rules.deleteRules({ keys: rules.map((r) => ({ policy: r.policy, cidr: r.cidr })) });
    await sleep(sizes.pauseMs);
  }
  return rates;
}

interface SingleRuns {
  readonly couicRates: number[];
  readonly echoRates: number[];
  readonly couicLatencies: number[];
  readonly echoLatencies: number[];
}

async function measureSingles(
  couic: Side,
  echo: Side,
  specs: RuleSpecSource,
  calls: number,
  sizes: ApiInsertSizes,
  inFlight: number,
  log: (line: string) => void,
): Promise<SingleRuns> {
  const out: SingleRuns = { couicRates: [], echoRates: [], couicLatencies: [], echoLatencies: [] };
  for (let run = 0; run < sizes.singleRuns; run++) {
    const rules = specs.take('v4', calls);
    const order = run % 2 === 0 ? [echo, couic] : [couic, echo];
    for (const side of order) {
      const { seconds, latenciesMs } = await runSingles(side, rules, inFlight);
      const rate = rules.length / seconds;
      (side.name === 'couic' ? out.couicRates : out.echoRates).push(rate);
      const pool = side.name === 'couic' ? out.couicLatencies : out.echoLatencies;
      for (const ms of latenciesMs) pool.push(ms);
      log(`api-insert: single run ${run + 1}/${sizes.singleRuns}, ${inFlight} in flight, ${side.name}: ${Math.round(rate)} rules/s`);
      await sleep(sizes.pauseMs);
    }
  }
  return out;
}

/** `rules.length` AddRule calls, `inFlight` at a time; per-call latencies in ms. */
export async function runSingles(side: Side, rules: readonly RuleSpec[], inFlight: number): Promise<{ seconds: number; latenciesMs: Float64Array }> {
  const latenciesMs = new Float64Array(rules.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++;
      const rule = rules[index];
      if (rule === undefined) return;
      const started = performance.now();
      await side.rules.addRule({ rule });
      latenciesMs[index] = performance.now() - started;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(inFlight, rules.length) }, worker));
  return { seconds: (performance.now() - started) / 1000, latenciesMs };
}

export const apiInsertScenario: Scenario = {
  name: 'api-insert',
  run: (quick, options) => runApiInsert(quick ? QUICK_SIZES : FULL_SIZES, options),
};

if (isMain(import.meta.url)) await runCli([apiInsertScenario], undefined, 'node --import tsx bench/api-insert.ts');
