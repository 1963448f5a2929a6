// Scenario "restart": a daemon holding a full load of rules (262,144 IPv4 + 262,144 IPv6
// drop rules and 65,536 IPv4 ignore rules, loaded through AddRules) is killed with
// SIGKILL and started again on the same working dir: time from the process start to
// the first answered API call, beside the same daemon's start with empty state in the
// same run; then every rule is checked to be back (count by listing), and the RSS after
// the restart is read. Fresh working dir per run.
//
// Run alone: `node --import tsx bench/restart.ts [--quick] [--record]`.
import { setTimeout as sleep } from 'node:timers/promises';
import { Policy } from '../src/generated/couic/v1/entry.js';
import { runCli, type RunOptions, type Scenario } from './lib/cli.js';
import { startDaemon, type BenchDaemon } from './lib/daemon.js';
import { isMain } from './lib/is-main.js';
import { readProcessMemory } from './lib/process-memory.js';
import { formatInt, type ScenarioResult } from './lib/results.js';
import { openRulesClient } from './lib/rules-client.js';
import { RuleSpecSource, type Family } from './lib/rule-specs.js';
import { summarize } from './lib/stats.js';
import { withTempDir } from './lib/temp-dir.js';

export interface RestartSizes {
  readonly rulesPerFamily: number;
  readonly ignoreRules: number;
  readonly batchRules: number;
  readonly runs: number;
  /** Wait after loading, so the last journal flush and snapshot have started or finished (the kill comes anyway). */
  readonly settleMs: number;
}

export const FULL_SIZES: RestartSizes = { rulesPerFamily: 262_144, ignoreRules: 65_536, batchRules: 65_536, runs: 2, settleMs: 500 };
export const QUICK_SIZES: RestartSizes = { rulesPerFamily: 5_000, ignoreRules: 1_000, batchRules: 2_500, runs: 1, settleMs: 100 };

interface RestartRun {
  readonly emptyStartMs: number;
  readonly restartMs: number;
  readonly listed: number;
  readonly rssAfterRestart: number;
  readonly rssLoaded: number;
}

export async function runRestart(sizes: RestartSizes, options: RunOptions = {}): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  const total = sizes.rulesPerFamily * 2 + sizes.ignoreRules;
  const runs: RestartRun[] = [];
  for (let run = 0; run < sizes.runs; run++) {
    const result = await withTempDir('couic-bench-', (dir) => measureOnce(dir, sizes, options));
    log(
      `restart: run ${run + 1}/${sizes.runs}: empty start ${result.emptyStartMs.toFixed(0)} ms, restart with ${formatInt(total)} rules ` +
        `${result.restartMs.toFixed(0)} ms, ${formatInt(result.listed)} listed after it`,
    );
    if (result.listed !== total) throw new Error(`restart: ${result.listed} rules listed after the restart, ${total} expected`);
    runs.push(result);
  }
  const rules = `${formatInt(sizes.rulesPerFamily)} IPv4 + ${formatInt(sizes.rulesPerFamily)} IPv6 drop rules and ${formatInt(sizes.ignoreRules)} ignore rules`;
  const mib = (b: number): string => (b / 2 ** 20).toFixed(0);
  return {
    scenario: 'restart',
    figures: [
      {
        name: `kill -9, then start to the first answered API call, holding ${rules}`,
        kind: 'latency',
        unit: 'ms',
        couic: summarize(runs.map((r) => r.restartMs)),
        baseline: summarize(runs.map((r) => r.emptyStartMs)),
        baselineName: 'same daemon, start with empty state, same run',
      },
    ],
    notes: [
      `start = spawn of \`node bin/couic.js\` to the first answered CheckAddress (polled every 50 ms, as for every bench daemon); every rule listed back after the restart (${formatInt(total)})`,
      `RSS loaded before the kill ${runs.map((r) => mib(r.rssLoaded)).join(' / ')} MiB, after the restart ${runs.map((r) => mib(r.rssAfterRestart)).join(' / ')} MiB (per run)`,
    ],
  };
}

async function measureOnce(dir: string, sizes: RestartSizes, options: RunOptions): Promise<RestartRun> {
  const daemonOptions = {
    ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
    ...(options.cpuProfDir !== undefined ? { cpuProfDir: options.cpuProfDir } : {}),
  };
  let started = performance.now();
  const first = await startDaemon(dir, daemonOptions);
  const emptyStartMs = performance.now() - started;
  let rssLoaded = 0;
  const client = openRulesClient(first.unix, first.token);
  try {
    const specs = new RuleSpecSource();
    const loads: [Family, number, Policy][] = [
      ['v4', sizes.rulesPerFamily, Policy.POLICY_DROP],
      ['v6', sizes.rulesPerFamily, Policy.POLICY_DROP],
      ['v4', sizes.ignoreRules, Policy.POLICY_IGNORE],
    ];
    for (const [family, count, policy] of loads) {
      for (let done = 0; done < count; done += sizes.batchRules) {
        const rules = specs.take(family, Math.min(sizes.batchRules, count - done), policy);
        const answer = await client.rules.addRules({ rules });
        if (answer.added !== rules.length) throw new Error(`AddRules added ${answer.added} of ${rules.length}`);
      }
    }
    await sleep(sizes.settleMs);
    rssLoaded = (await readProcessMemory(first.pid)).rssBytes;
  } finally {
    client.close();
  }
  first.child.process.kill('SIGKILL');
  await first.stop(); // waits for the exit
  started = performance.now();
  const second: BenchDaemon = await startDaemon(dir, daemonOptions);
  const restartMs = performance.now() - started;
  const again = openRulesClient(second.unix, second.token);
  try {
    let listed = 0;
    for await (const chunk of again.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: false })) listed += chunk.entries.length;
    const rssAfterRestart = (await readProcessMemory(second.pid)).rssBytes;
    return { emptyStartMs, restartMs, listed, rssAfterRestart, rssLoaded };
  } finally {
    again.close();
    await second.stop();
  }
}

export const restartScenario: Scenario = {
  name: 'restart',
  run: (quick, options) => runRestart(quick ? QUICK_SIZES : FULL_SIZES, options),
};

if (isMain(import.meta.url)) await runCli([restartScenario], undefined, 'node --import tsx bench/restart.ts');
