// The benchmarks' pure helpers (no daemon): CDF thinning, plot rendering with stable
// names (gnuplot when installed), summaries. The scenario smoke tests, which start
// daemons, are in test/integration/bench-smoke.test.ts.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Plot } from '../../../bench/lib/results.js';
import { summarize } from '../../../bench/lib/stats.js';
import { cdfPoints, gnuplotAvailable, renderPlots } from '../../../bench/lib/plots.js';

test('plots: CDF points are sorted, end at 1 and stay small; gnuplot renders a PNG when installed, overwritten by the next run', async (t) => {
  const values = Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 10_000);
  const points = cdfPoints(values);
  t.true(points.length <= 2_001);
  t.deepEqual(points.at(-1), [9_999, 1]);
  for (let i = 1; i < points.length; i++) t.true(points[i]![0] >= points[i - 1]![0] && points[i]![1] > points[i - 1]![1]);
  if (!gnuplotAvailable()) {
    t.log('gnuplot not installed: PNG rendering not exercised');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'couic-plot-test-'));
  try {
    const plots = (cdfValues: readonly number[]): Plot[] => [
      { kind: 'latency-cdf', file: 'cdf', title: 'cdf', series: [{ label: 'a', values: cdfValues }] },
      { kind: 'scaling', file: 'scale', title: 'scale', xLabel: 'x', yLabel: 'y', series: [{ label: 'a', points: [[1, 2], [4, 3], [16, 5]] }] },
    ];
    const rendered = await renderPlots(plots(values), join(dir, 'plots'), dir);
    t.deepEqual(rendered.map((r) => r.relativePath), ['plots/cdf.png', 'plots/scale.png']);
    const png = await readFile(join(dir, 'plots', 'cdf.png'));
    t.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG file');
    // A second run replaces the plots under the same names: the folder does not grow.
    const again = await renderPlots(plots(values.map((v) => v * 3)), join(dir, 'plots'), dir);
    t.deepEqual(again.map((r) => r.relativePath), ['plots/cdf.png', 'plots/scale.png']);
    t.deepEqual((await readdir(join(dir, 'plots'))).sort(), ['cdf.png', 'scale.png']);
    t.false(png.equals(await readFile(join(dir, 'plots', 'cdf.png'))), 'the new plot replaced the old one');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('summarize: median, nearest-rank percentiles and range', (t) => {
  t.deepEqual(summarize([5, 1, 3]), { n: 3, median: 3, p50: 3, p99: 5, min: 1, max: 5 });
  const even = summarize([4, 1, 3, 2]);
  t.is(even.median, 2.5);
  t.is(even.p50, 2);
  const hundred = summarize(Array.from({ length: 100 }, (_, i) => 100 - i));
  t.is(hundred.p99, 99);
  t.is(hundred.max, 100);
  t.throws(() => summarize([]), { instanceOf: RangeError });
});
