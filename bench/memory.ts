// Scenario "memory": resident memory (RSS) of a daemon holding a full load of rules
// (262,144 IPv4 + 262,144 IPv6 drop rules, the per-family capacity, and 65,536 IPv4
// ignore rules), beside the same daemon's idle RSS just before loading. Fresh daemon per run.
//
// Run alone: `node --import tsx bench/memory.ts [--quick] [--record]`.
import { setTimeout as sleep } from 'node:timers/promises';
import { Policy } from '../src/generated/couic/v1/entry.js';
import { runCli, type RunOptions, type Scenario } from './lib/cli.js';
import { startDaemon } from './lib/daemon.js';
import { isMain } from './lib/is-main.js';
import { readProcessMemory } from './lib/process-memory.js';
import { formatInt, type ScenarioResult } from './lib/results.js';
import { openRulesClient } from './lib/rules-client.js';
import { RuleSpecSource, type Family } from './lib/rule-specs.js';
import { summarize } from './lib/stats.js';
import { withTempDir } from './lib/temp-dir.js';

export interface MemorySizes {
  /** Drop rules per address family. */
  readonly rulesPerFamily: number;
  /** IPv4 ignore rules, loaded after the drop rules. */
  readonly ignoreRules: number;
  readonly batchRules: number;
  readonly runs: number;
  /** Wait before each reading, so start-up work and the last snapshot have finished. */
  readonly settleMs: number;
}

export const FULL_SIZES: MemorySizes = { rulesPerFamily: 262_144, ignoreRules: 65_536, batchRules: 65_536, runs: 3, settleMs: 2_000 };
export const QUICK_SIZES: MemorySizes = { rulesPerFamily: 5_000, ignoreRules: 1_000, batchRules: 2_500, runs: 1, settleMs: 200 };

interface MemoryRun {
  readonly idle: number;
  readonly loaded: number;
  readonly peak: number;
  readonly loadSeconds: number;
}

export async function runMemory(sizes: MemorySizes, options: RunOptions = {}): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  const runs: MemoryRun[] = [];
  for (let run = 0; run < sizes.runs; run++) {
    const result = await withTempDir('couic-bench-', (dir) => measureOnce(dir, sizes, options));
    log(
      `memory: run ${run + 1}/${sizes.runs}: idle ${mib(result.idle)} MiB, loaded ${mib(result.loaded)} MiB, peak ${mib(result.peak)} MiB, ` +
        `load ${result.loadSeconds.toFixed(1)} s`,
    );
    runs.push(result);
  }
  const total = sizes.rulesPerFamily * 2 + sizes.ignoreRules;
  const idle = summarize(runs.map((r) => r.idle));
  const loaded = summarize(runs.map((r) => r.loaded));
  const perRule = summarize(runs.map((r) => (r.loaded - r.idle) / total));
  const loadRate = summarize(runs.map((r) => total / r.loadSeconds));
  const rules = `${formatInt(sizes.rulesPerFamily)} IPv4 + ${formatInt(sizes.rulesPerFamily)} IPv6 drop rules and ${formatInt(sizes.ignoreRules)} ignore rules`;
  return {
    scenario: 'memory',
    figures: [
      { name: `RSS holding ${rules}`, kind: 'memory', unit: 'MiB', couic: loaded, baseline: idle, baselineName: 'same daemon, idle, before loading' },
      { name: `peak RSS (VmHWM) while loading them`, kind: 'memory', unit: 'MiB', couic: summarize(runs.map((r) => r.peak)), baseline: idle, baselineName: 'same daemon, idle, before loading' },
    ],
    notes: [
      `about ${formatInt(perRule.median)} bytes of RSS per rule ((loaded − idle) / ${formatInt(total)}; ${formatInt(perRule.min)}–${formatInt(perRule.max)} over runs)`,
      `loaded with AddRules batches of ${formatInt(sizes.batchRules)} (tag, 1 h expiry) in ${formatInt(loadRate.median)} rules/s; RSS read from /proc/<pid>/status ${sizes.settleMs} ms after the last batch`,
    ],
  };
}

async function measureOnce(dir: string, sizes: MemorySizes, options: RunOptions): Promise<MemoryRun> {
  const daemon = await startDaemon(dir, {
    ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
    ...(options.cpuProfDir !== undefined ? { cpuProfDir: options.cpuProfDir } : {}),
  });
  const client = openRulesClient(daemon.unix, daemon.token);
  try {
    await sleep(sizes.settleMs);
    const idle = (await readProcessMemory(daemon.pid)).rssBytes;
    const specs = new RuleSpecSource();
    const started = performance.now();
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
    const loadSeconds = (performance.now() - started) / 1000;
    await sleep(sizes.settleMs);
    const after = await readProcessMemory(daemon.pid);
    return { idle, loaded: after.rssBytes, peak: after.peakRssBytes, loadSeconds };
  } finally {
    client.close();
    await daemon.stop();
  }
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

export const memoryScenario: Scenario = {
  name: 'memory',
  run: (quick, options) => runMemory(quick ? QUICK_SIZES : FULL_SIZES, options),
};

if (isMain(import.meta.url)) await runCli([memoryScenario], undefined, 'node --import tsx bench/memory.ts');
