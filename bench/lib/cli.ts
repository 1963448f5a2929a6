// Command line shared by `bench/run-all.ts` and each scenario script: runs scenarios,
// renders one dated section and writes it. Full runs append to bench/RESULTS.md;
// quick runs go to a scratch file unless --record is given.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { machineInfo } from './machine.js';
import { PLOTS_DIR, REPO_ROOT, RESULTS_FILE } from './paths.js';
import { gnuplotAvailable, renderPlots } from './plots.js';
import { appendSection, renderSection, type RenderedPlot, type ScenarioResult } from './results.js';

export interface RunOptions {
  /** Progress lines (stderr by default in the CLI). */
  readonly log?: (line: string) => void;
  /** Daemon log level (default: the shipped default, "info"). */
  readonly logLevel?: string;
  /** Write V8 CPU profiles of the daemons into this directory. */
  readonly cpuProfDir?: string;
}

export interface Scenario {
  readonly name: string;
  run(quick: boolean, options: RunOptions): Promise<ScenarioResult>;
}

const USAGE = `usage: npm run bench -- [--quick] [--record] [--out FILE] [--only NAME[,NAME]] [--log-level LEVEL] [--cpu-prof DIR]
  --quick       tiny sizes (well under a minute); written to a scratch file unless --record
  --record      append the section to bench/RESULTS.md even in quick mode
  --out FILE    append the section to FILE instead
  --only NAMES  run only these scenarios
  --log-level   daemon log level (default info, the shipped default)
  --cpu-prof    write the daemons' V8 CPU profiles into DIR (summarise with bench/profile-summary.ts)`;

export async function runCli(
  scenarios: readonly Scenario[],
  argv: readonly string[] = process.argv.slice(2),
  commandName = 'npm run bench',
): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean', default: false },
        record: { type: 'boolean', default: false },
        out: { type: 'string' },
        only: { type: 'string' },
        'log-level': { type: 'string' },
        'cpu-prof': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\nscenarios: ${scenarios.map((s) => s.name).join(', ')}\n`);
    return;
  }
  const wanted = values.only?.split(',').map((n) => n.trim());
  const unknown = wanted?.filter((n) => !scenarios.some((s) => s.name === n)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const selected = scenarios.filter((s) => wanted === undefined || wanted.includes(s.name));
  const options: RunOptions = {
    log: (line) => process.stderr.write(`${line}\n`),
    ...(values['log-level'] !== undefined ? { logLevel: values['log-level'] } : {}),
    ...(values['cpu-prof'] !== undefined ? { cpuProfDir: values['cpu-prof'] } : {}),
  };

  const machine = machineInfo(REPO_ROOT);
  const results: ScenarioResult[] = [];
  for (const scenario of selected) {
    process.stderr.write(`bench: ${scenario.name}${values.quick ? ' (quick)' : ''}\n`);
    results.push(await scenario.run(values.quick, options));
  }
  const target = values.out ?? (!values.quick || values.record ? RESULTS_FILE : undefined);
  const scratchDir = target === undefined ? await mkdtemp(join(tmpdir(), 'couic-bench-results-')) : undefined;
  const resultsDir = target !== undefined ? dirname(target) : (scratchDir as string);
  const allPlots = results.flatMap((r) => r.plots ?? []);
  let plots: RenderedPlot[] = [];
  let plotNote: string | undefined;
  if (allPlots.length > 0) {
    if (gnuplotAvailable()) {
      // Recorded runs keep their PNGs in bench/plots/; scratch runs next to the scratch section.
      const outDir = target === RESULTS_FILE ? PLOTS_DIR : join(resultsDir, 'plots');
      plots = await renderPlots(allPlots, outDir, resultsDir);
    } else {
      plotNote = 'not rendered: gnuplot is not installed (`apt-get install gnuplot-nox`)';
    }
  }
  const section = renderSection({
    machine,
    mode: values.quick ? 'quick' : 'full',
    command: [commandName, ...(argv.length > 0 ? (commandName.startsWith('npm') ? ['--', ...argv] : argv) : [])].join(' '),
    results,
    loadAtEnd: loadavg()[0] ?? 0,
    plots,
    ...(plotNote !== undefined ? { plotNote } : {}),
  });
  process.stdout.write(`\n${section}`);

  if (target !== undefined) {
    await appendSection(target, section);
    process.stderr.write(`bench: appended to ${target}\n`);
  } else {
    const scratch = join(resultsDir, 'RESULTS.md');
    await writeFile(scratch, section);
    process.stderr.write(`bench: quick run, not recorded (use --record); section written to ${scratch}\n`);
  }
}
