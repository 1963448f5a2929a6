// Scenario "hostile-load": health-check latency of a normal client while a hostile
// client loops the worst inputs of issue 14 (a tag pattern that makes a backtracking
// matcher explode and matches nothing, so every ListRules walks every rule; a
// 100,000-character address; Watch streams with hostile patterns opened and
// dropped; undecodable bodies), against the same health checks without the hostile
// client: same daemon, same run, phases interleaved. The daemon holds the rated
// load (262,144 IPv4 + 262,144 IPv6 drop rules, 65,536 ignore rules), some tagged
// with 64 "a"s, the tag the pattern is worst against.
//
// Run alone: `node --import tsx bench/hostile-load.ts [--quick] [--record]`. The
// hostile client runs as a child process of this script (`--attacker`).
import { Client as GrpcClient, credentials as grpcCredentials, Metadata as GrpcMetadata } from '@grpc/grpc-js';
import { createClient, Metadata } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Policy } from '../src/generated/couic/v1/entry.js';
import { ReplicationServiceDefinition } from '../src/generated/couic/v1/replication.js';
import { spawnNode, type Child } from './lib/child-process.js';
import { runCli, type RunOptions, type Scenario } from './lib/cli.js';
import { startDaemon, type BenchDaemon } from './lib/daemon.js';
import { openChannel } from './lib/endpoint.js';
import { isMain } from './lib/is-main.js';
import { REPO_ROOT } from './lib/paths.js';
import { formatInt, type ScenarioResult } from './lib/results.js';
import { openRulesClient, type RulesClient } from './lib/rules-client.js';
import { RuleSpecSource, type Family } from './lib/rule-specs.js';
import { summarize } from './lib/stats.js';
import { withTempDir } from './lib/temp-dir.js';

export interface HostileSizes {
  readonly rulesPerFamily: number;
  readonly ignoreRules: number;
  readonly taggedRules: number;
  readonly batchRules: number;
  /** Health checks per phase (one at a time, HEALTH_GAP_MS apart). */
  readonly checksPerPhase: number;
  /** Phases of each kind, interleaved quiet / hostile. */
  readonly rounds: number;
}

export const FULL_SIZES: HostileSizes = { rulesPerFamily: 262_144, ignoreRules: 65_536, taggedRules: 1_000, batchRules: 65_536, checksPerPhase: 300, rounds: 2 };
export const QUICK_SIZES: HostileSizes = { rulesPerFamily: 5_000, ignoreRules: 1_000, taggedRules: 100, batchRules: 2_500, checksPerPhase: 100, rounds: 1 };

const HEALTH_GAP_MS = 5;
const PATHOLOGICAL = '*a*a*a*a*a*a*a*a*a*a*a*a*b';
const LONG_ADDRESS = `1:${'1:'.repeat(50_000)}`.slice(0, 100_000);

export async function runHostileLoad(sizes: HostileSizes, options: RunOptions = {}): Promise<ScenarioResult> {
  return withTempDir('couic-bench-', async (dir) => {
    const daemon = await startDaemon(dir, { ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : { logLevel: 'warn' }) });
    const loader = openRulesClient(daemon.unix, daemon.token);
    try {
      await load(loader.rules, sizes);
      const quiet: number[] = [];
      const hostile: number[] = [];
      const hostileCalls = { list: 0, check: 0, watch: 0, garbage: 0, refused: 0 };
      for (let round = 0; round < sizes.rounds; round++) {
        for (const sample of await healthPhase(daemon, sizes.checksPerPhase)) quiet.push(sample);
        options.log?.(`hostile-load: round ${round + 1}/${sizes.rounds}: quiet phase done`);
        // The hostile client is its own process: its work must not slow the measuring client.
        const countsFile = join(dir, `attacker-${round}.json`);
        const attacker = spawnNode(['--import', 'tsx', SELF, ATTACKER_FLAG, daemon.socketPath, daemon.token, countsFile], join(dir, `attacker-${round}.log`), REPO_ROOT);
        await waitForFile(`${countsFile}.started`, attacker);
        for (const sample of await healthPhase(daemon, sizes.checksPerPhase)) hostile.push(sample);
        await attacker.stop();
        const counts = JSON.parse(await readFile(countsFile, 'utf8')) as typeof hostileCalls;
        for (const key of Object.keys(hostileCalls) as (keyof typeof hostileCalls)[]) hostileCalls[key] += counts[key];
        options.log?.(`hostile-load: round ${round + 1}/${sizes.rounds}: hostile phase done`);
      }
      const total = sizes.rulesPerFamily * 2 + sizes.ignoreRules;
      const p = (values: number[], q: number): number => {
        const sorted = [...values].sort((a, b) => a - b);
        return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
      };
      const perPhase = (values: number[]): number[] => {
        const out: number[] = [];
        for (let i = 0; i < values.length; i += sizes.checksPerPhase) out.push(p(values.slice(i, i + sizes.checksPerPhase), 0.99));
        return out;
      };
      return {
        scenario: 'hostile-load',
        figures: [
          {
            name: 'Health/Check p99 latency while a hostile client loops the worst inputs (Unix socket)',
            kind: 'latency',
            unit: 'ms',
            couic: summarize(perPhase(hostile)),
            baseline: summarize(perPhase(quiet)),
            baselineName: 'same health checks, same daemon, no hostile client (phases interleaved)',
          },
          {
            name: 'Health/Check p50 latency, same phases',
            kind: 'latency',
            unit: 'ms',
            couic: summarize([p(hostile, 0.5)]),
            baseline: summarize([p(quiet, 0.5)]),
            baselineName: 'same, no hostile client',
          },
        ],
        notes: [
          `daemon holding ${formatInt(total)} rules (${formatInt(sizes.rulesPerFamily)} IPv4 + ${formatInt(sizes.rulesPerFamily)} IPv6 drop, ${formatInt(sizes.ignoreRules)} ignore; ${formatInt(sizes.taggedRules)} of them tagged with 64 "a"s); daemon log level warn`,
          `normal client: ${formatInt(sizes.checksPerPhase)} Health/Check calls per phase, one at a time, ${HEALTH_GAP_MS} ms apart, on its own channel; ${sizes.rounds} quiet and ${sizes.rounds} hostile phases interleaved; the figure is the median over phases of each phase's p99 (max over all hostile checks: ${p(hostile, 1).toFixed(1)} ms, quiet: ${p(quiet, 1).toFixed(1)} ms)`,
          `hostile client (own channels, in a loop, 4 calls in flight): ListRules with "${PATHOLOGICAL}" (matches nothing: every call walks all rules), CheckAddress with a 100,000-character address, Watch with that pattern opened and dropped after its first message, random bytes to RulesService/AddRule and Health/Check; calls made: ${formatInt(hostileCalls.list)} list, ${formatInt(hostileCalls.check)} check, ${formatInt(hostileCalls.watch)} watch, ${formatInt(hostileCalls.garbage)} garbage (${formatInt(hostileCalls.refused)} refused as expected)`,
        ],
      };
    } finally {
      loader.close();
      await daemon.stop();
    }
  });
}

async function load(rules: RulesClient, sizes: HostileSizes): Promise<void> {
  const specs = new RuleSpecSource();
  const loads: [Family, number, Policy][] = [
    ['v4', sizes.rulesPerFamily - sizes.taggedRules, Policy.POLICY_DROP],
    ['v6', sizes.rulesPerFamily, Policy.POLICY_DROP],
    ['v4', sizes.ignoreRules, Policy.POLICY_IGNORE],
  ];
  for (const [family, count, policy] of loads) {
    for (let done = 0; done < count; done += sizes.batchRules) {
      await rules.addRules({ rules: specs.take(family, Math.min(sizes.batchRules, count - done), policy) });
    }
  }
  const tagged = specs.take('v4', sizes.taggedRules).map((spec) => ({ ...spec, tag: 'a'.repeat(64) }));
  await rules.addRules({ rules: tagged });
}

async function healthPhase(daemon: BenchDaemon, checks: number): Promise<number[]> {
  const channel = openChannel(daemon.unix);
  const health = createClient(HealthDefinition, channel);
  const samples: number[] = [];
  try {
    for (let i = 0; i < checks; i++) {
      const started = performance.now();
      const answer = await health.check({ service: '' });
      samples.push(performance.now() - started);
      if (answer.status !== 1) throw new Error(`health answered ${answer.status}`);
      await sleep(HEALTH_GAP_MS);
    }
  } finally {
    channel.close();
  }
  return samples;
}

type AttackCounts = { list: number; check: number; watch: number; garbage: number; refused: number };

async function attack(socketPath: string, token: string, signal: AbortSignal, calls: AttackCounts): Promise<void> {
  const endpoint = { transport: 'unix', socketPath } as const;
  const hostile = openRulesClient(endpoint, token);
  const watchChannel = openChannel(endpoint);
  const replication = createClient(ReplicationServiceDefinition, watchChannel);
  const raw = new GrpcClient(`unix:${socketPath}`, grpcCredentials.createInsecure());
  const metadata = new GrpcMetadata();
  metadata.set('authorization', `Bearer ${token}`);
  const refused = (): void => {
    calls.refused++;
  };
  const loops: (() => Promise<unknown>)[] = [
    async () => {
      calls.list++;
      for await (const _ of hostile.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [PATHOLOGICAL], includeSets: true })) void _;
    },
    async () => {
      calls.check++;
      await hostile.rules.checkAddress({ address: LONG_ADDRESS }).catch(refused);
    },
    async () => {
      calls.watch++;
      const stop = new AbortController();
      try {
        for await (const _ of replication.watch({ policy: Policy.POLICY_UNSPECIFIED, tags: [PATHOLOGICAL], cursor: '' }, { metadata: Metadata({ authorization: `Bearer ${token}` }), signal: stop.signal })) break;
      } catch {
        refused();
      } finally {
        stop.abort();
      }
    },
    async () => {
      calls.garbage++;
      const body = Buffer.from(Array.from({ length: 64 }, () => Math.floor(Math.random() * 256)));
      const path = calls.garbage % 2 === 0 ? '/couic.v1.RulesService/AddRule' : '/grpc.health.v1.Health/Check';
      await new Promise<void>((resolve) => {
        raw.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, metadata, { deadline: Date.now() + 5_000 }, (error) => {
          if (error !== null) refused();
          resolve();
        });
      });
    },
  ];
  try {
    await Promise.all(
      loops.map(async (once) => {
        while (!signal.aborted) await once();
      }),
    );
  } finally {
    hostile.close();
    watchChannel.close();
    raw.close();
  }
}

export const hostileLoadScenario: Scenario = {
  name: 'hostile-load',
  run: (quick, options) => runHostileLoad(quick ? QUICK_SIZES : FULL_SIZES, options),
};

const SELF = fileURLToPath(import.meta.url);
const ATTACKER_FLAG = '--attacker';

async function waitForFile(path: string, child: Child): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await access(path).then(() => true, () => false)) return;
    if (child.exited() !== undefined) throw new Error(`the attacker exited: ${child.tail()}`);
    await sleep(100);
  }
  throw new Error('the attacker did not start within 60 s');
}

/** The attacker process: loops until SIGTERM, then writes its counts. */
async function runAttacker(socketPath: string, token: string, countsFile: string): Promise<void> {
  const stop = new AbortController();
  const calls: AttackCounts = { list: 0, check: 0, watch: 0, garbage: 0, refused: 0 };
  process.once('SIGTERM', () => stop.abort());
  const running = attack(socketPath, token, stop.signal, calls);
  await writeFile(`${countsFile}.started`, '');
  await running;
  await writeFile(countsFile, JSON.stringify(calls));
  process.exit(0);
}

if (isMain(import.meta.url)) {
  const at = process.argv.indexOf(ATTACKER_FLAG);
  if (at >= 0) {
    const [socketPath = '', token = '', countsFile = ''] = process.argv.slice(at + 1);
    await runAttacker(socketPath, token, countsFile);
  } else {
    await runCli([hostileLoadScenario], undefined, 'node --import tsx bench/hostile-load.ts');
  }
}
