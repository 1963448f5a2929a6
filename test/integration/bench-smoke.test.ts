// Smoke test of the benchmark scripts with tiny sizes, so they cannot rot: each
// scenario starts its real servers, yields positive finite figures, and renders a
// well-formed results section. No timing assertions. Needs the daemon built (dist/).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { runApiInsert } from '../../bench/api-insert.js';
import { REPO_ROOT } from '../../bench/lib/paths.js';
import { machineInfo } from '../../bench/lib/machine.js';
import { runMemory } from '../../bench/memory.js';
import { runScaling } from '../../bench/scaling.js';
import { runHostileLoad } from '../../bench/hostile-load.js';
import { runXdp } from '../../bench/xdp.js';
import { DEFAULT_OBJECT_PATH } from '../../src/dataplane/xdp/xdp-dataplane.js';
import { xdpSkipReason } from '../helpers/netns.js';
import { appendSection, ratioOf, renderSection, type ScenarioResult } from '../../bench/lib/results.js';

// Needs root and BPF: skipped (with the reason printed) where they are missing; CI has both.
// Decided before any test is declared (ava wants declarations synchronous after that).
const xdpSkip = await xdpSkipReason(DEFAULT_OBJECT_PATH);
if (xdpSkip !== undefined) console.log(`bench xdp smoke test skipped: ${xdpSkip}`);

const results: ScenarioResult[] = [];

function checkFigures(t: import('ava').ExecutionContext, result: ScenarioResult, expected: number): void {
  t.is(result.figures.length, expected);
  for (const figure of result.figures) {
    for (const side of [figure.couic, figure.baseline]) {
      t.true(side.n > 0, `${figure.name}: no samples`);
      t.true(Number.isFinite(side.median) && side.median > 0, `${figure.name}: median ${side.median}`);
      t.true(side.min <= side.median && side.median <= side.max, `${figure.name}: min/median/max out of order`);
    }
    t.true(Number.isFinite(ratioOf(figure)) && ratioOf(figure) > 0, `${figure.name}: ratio`);
  }
}

test.serial('api-insert runs with tiny sizes and measures both couic and the echo', async (t) => {
  const result = await runApiInsert({
    transports: ['unix', 'tls'],
    batchRules: 300,
    chunkedRules: 50,
    chunkRules: 20,
    batchRuns: 1,
    single: [
      { inFlight: 1, calls: 5 },
      { inFlight: 4, calls: 20 },
    ],
    singleRuns: 2,
    pauseMs: 0,
  });
  t.is(result.scenario, 'api-insert');
  // One big-batch figure per family; per transport: 1,000-rule calls, then throughput + latency per concurrency.
  checkFigures(t, result, 2 + 2 * 5);
  const latency = result.figures.find((f) => f.kind === 'latency' && f.name.includes('4 in flight') && f.name.includes('TLS'));
  t.is(latency?.couic.n, 2 * 20);
  t.is(result.plots?.length, 4, 'a latency CDF per transport and concurrency');
  results.push(result);
});

test.serial('memory runs with tiny sizes and reads the RSS of the daemon', async (t) => {
  const result = await runMemory({ rulesPerFamily: 400, ignoreRules: 100, batchRules: 150, runs: 1, settleMs: 0 });
  t.is(result.scenario, 'memory');
  checkFigures(t, result, 2);
  results.push(result);
});

test.serial('hostile-load runs with tiny sizes: health checks with and without the hostile client (its own process)', async (t) => {
  const result = await runHostileLoad({ rulesPerFamily: 200, ignoreRules: 50, taggedRules: 20, batchRules: 100, checksPerPhase: 20, rounds: 1 });
  t.is(result.scenario, 'hostile-load');
  checkFigures(t, result, 2);
  // The attacker really ran: it made calls of every kind.
  t.regex(result.notes.join('\n'), /calls made: [1-9][\d,]* list, [1-9][\d,]* check, [1-9][\d,]* watch, [1-9][\d,]* garbage/);
  results.push(result);
});

test.serial('scaling runs with tiny sizes at 1x/4x/16x and yields its curves', async (t) => {
  const result = await runScaling({ factors: [1, 4, 16], baseRules: 20, runRules: 60, chunkRules: 20, singleCalls: 10, runs: 1, pauseMs: 0 });
  t.is(result.scenario, 'scaling');
  // Per factor: throughput + latency with rules held, then throughput with concurrent clients.
  checkFigures(t, result, 3 * 3);
  t.deepEqual(result.plots?.map((p) => p.kind === 'scaling' && p.series.map((s) => s.points.map(([x]) => x))), [
    [[1, 4, 16], [1, 4, 16]],
    [[1, 4, 16], [1, 4, 16]],
    [[1, 4, 16], [1, 4, 16]],
  ]);
  results.push(result);
});

test.serial('the results section is a well-formed markdown table, appended to the file', async (t) => {
  t.is(results.length, 4, 'the scenario tests above must pass first');
  const section = renderSection({ machine: machineInfo(REPO_ROOT), mode: 'quick', command: 'npm run bench -- --quick', results });
  const lines = section.split('\n');
  t.regex(lines[0] ?? '', /^## \d{4}-\d\d-\d\d \d\d:\d\d UTC · \S+ · quick$/);
  t.regex(section, /Machine: \d+ cores .* RAM, .*Node v\d+/);
  const header = lines.findIndex((l) => l.startsWith('| figure | ratio'));
  t.true(header > 0);
  const rows = lines.slice(header + 2).filter((l) => l.startsWith('| '));
  t.is(rows.length, results.flatMap((r) => r.figures).length);
  const columns = (lines[header] ?? '').split('|').length;
  for (const row of rows) {
    t.is(row.split('|').length, columns, row);
    // The ratio comes first after the figure's name.
    t.regex(row.split('|')[2] ?? '', /^ \*\*\d+\.\d\dx\*\* $/);
  }

  const dir = await mkdtemp(join(tmpdir(), 'couic-bench-test-'));
  try {
    const file = join(dir, 'RESULTS.md');
    await appendSection(file, section);
    await appendSection(file, section);
    const text = await readFile(file, 'utf8');
    t.true(text.startsWith('# couic benchmark results'));
    t.is(text.split(lines[0] ?? '').length - 1, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

(xdpSkip === undefined ? test.serial : test.skip)('xdp runs with tiny maps: ns/packet beside the trivial program, map load beside bpftool', async (t) => {
  const result = await runXdp({ dropPerFamily: 300, ignoreV4: 50, repeat: 1_000, runs: 1, loadEntries: 300, loadRuns: 1 });
  t.is(result.scenario, 'xdp');
  t.true(result.figures.length >= 4);
  for (const figure of result.figures) {
    t.true(Number.isFinite(ratioOf(figure)) && ratioOf(figure) > 0, `${figure.name}: ratio`);
  }
});
