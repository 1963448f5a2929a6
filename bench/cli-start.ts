// Scenario "cli-start": how long one `couicctl drop add 1.1.1.1/32 -e 1m` takes against a
// running daemon (Unix socket), wall time and CPU time (user + system), beside a bare
// `node -e 0` in the same run, and beside the unbundled tsc output (`node
// dist/cli/main.js`: what couicctl ran before it became one bundle with a V8 code
// cache, scripts/bundle-cli.js). Runs are interleaved round by round; each is timed
// by bash's `time` (getrusage of the child: millisecond resolution, no bash start-up).
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type RunOptions, type Scenario } from './lib/cli.js';
import { startDaemon } from './lib/daemon.js';
import { isMain } from './lib/is-main.js';
import { REPO_ROOT } from './lib/paths.js';
import type { Figure, ScenarioResult } from './lib/results.js';
import { summarize } from './lib/stats.js';
import { withTempDir } from './lib/temp-dir.js';

interface Timing {
  wallMs: number;
  cpuMs: number;
}

const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/** One run of `argv` (stdout/stderr discarded), timed by bash. */
export function timeCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Timing {
  const script = `TIMEFORMAT='%3R %3U %3S'; time ${argv.map(quote).join(' ')} >/dev/null 2>&1`;
  const result = spawnSync('bash', ['-c', script], { env, encoding: 'utf8' });
  const match = /(\d+\.\d+) (\d+\.\d+) (\d+\.\d+)\s*$/.exec(result.stderr);
  if (result.status !== 0 || match === null) throw new Error(`timing ${argv.join(' ')} failed: ${result.stderr}`);
  return { wallMs: Number(match[1]) * 1000, cpuMs: (Number(match[2]) + Number(match[3])) * 1000 };
}

export async function runCliStart(rounds: number, options: RunOptions = {}): Promise<ScenarioResult> {
  return withTempDir('couic-bench-cli-', async (dir) => {
    const daemon = await startDaemon(dir, { logLevel: options.logLevel ?? 'warn' });
    try {
      const config = join(dir, 'couicctl.toml');
      await writeFile(config, `socket = ${JSON.stringify(daemon.socketPath)}\ntoken = ${JSON.stringify(daemon.token)}\n`);
      const env = { ...process.env, NODE_OPTIONS: '' };
      const node = process.execPath;
      const command = ['-c', config, 'drop', 'add', '1.1.1.1/32', '-e', '1m'];
      const variants = {
        bare: [node, '-e', '0'],
        couicctl: [node, join(REPO_ROOT, 'bin', 'couicctl.js'), ...command],
        unbundled: [node, join(REPO_ROOT, 'dist', 'cli', 'main.js'), ...command],
        version: [node, join(REPO_ROOT, 'bin', 'couicctl.js'), '--version'],
      } as const;
      const timings: Record<keyof typeof variants, Timing[]> = { bare: [], couicctl: [], unbundled: [], version: [] };
      // One untimed warm-up of each (page cache, code cache file).
      for (const argv of Object.values(variants)) timeCommand(argv, env);
      for (let round = 0; round < rounds; round++) {
        for (const [name, argv] of Object.entries(variants) as [keyof typeof variants, readonly string[]][]) {
          timings[name].push(timeCommand(argv, env));
        }
      }
      const wall = (name: keyof typeof variants) => summarize(timings[name].map((t) => t.wallMs));
      const cpu = (name: keyof typeof variants) => summarize(timings[name].map((t) => t.cpuMs));
      const bareName = '`node -e 0` (same machine, same rounds)';
      const figures: Figure[] = [
        { name: 'couicctl drop add, wall', kind: 'latency', unit: 'ms', couic: wall('couicctl'), baseline: wall('bare'), baselineName: bareName },
        { name: 'couicctl drop add, CPU (user+sys)', kind: 'latency', unit: 'ms', couic: cpu('couicctl'), baseline: cpu('bare'), baselineName: bareName },
        { name: 'couicctl --version (no daemon call), wall', kind: 'latency', unit: 'ms', couic: wall('version'), baseline: wall('bare'), baselineName: bareName },
        { name: 'unbundled tsc output (before), drop add, wall', kind: 'latency', unit: 'ms', couic: wall('unbundled'), baseline: wall('bare'), baselineName: bareName },
        { name: 'unbundled tsc output (before), drop add, CPU', kind: 'latency', unit: 'ms', couic: cpu('unbundled'), baseline: cpu('bare'), baselineName: bareName },
      ];
      return {
        scenario: 'cli-start',
        figures,
        notes: [
          `${rounds} interleaved rounds of: node -e 0, couicctl drop add 1.1.1.1/32 -e 1m (bin/couicctl.js: one CommonJS bundle run through vm.Script with a V8 code cache), couicctl --version, the same drop add through dist/cli/main.js (tsc's ES modules, no bundle, no cache); against one daemon on a Unix socket (userspace data plane, log level warn)`,
          'target: couicctl drop add <= 1.5x node -e 0 (wall); Node 20 has no module.enableCompileCache (22.1+), hence the hand-made code cache',
          'the bundle also loads string-width only for --help and drops yargs\' help rendering after each command start (scripts/bundle-cli.js); tried without gain: minified bundle, a CommonJS launcher; not possible on Node 20: a user-land startup snapshot (node:http2, needed by grpc-js, cannot be snapshotted)',
          'on a loaded machine wall times follow the load (see the baseline); CPU time is the steadier figure',
        ],
      };
    } finally {
      await daemon.stop();
    }
  });
}

export const cliStartScenario: Scenario = {
  name: 'cli-start',
  run: (quick, options) => runCliStart(quick ? 3 : 30, options),
};

if (isMain(import.meta.url)) await runCli([cliStartScenario], undefined, 'node --import tsx bench/cli-start.ts');
