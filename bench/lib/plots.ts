// Renders the scenarios' plots as PNG files with gnuplot (Debian `gnuplot-nox`,
// headless): latency CDFs on a log time axis and scaling curves. Data files and the
// script are written next to the PNGs' temp dir; only the PNGs are kept. Each plot
// has a stable name (`<plot.file>.png`), overwritten by the next run, so the
// repository keeps the latest plot per scenario, not one more per run (the figures
// of every run stay in RESULTS.md, earlier plots in git history).
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Plot, RenderedPlot } from './results.js';

/** At most this many points per CDF line: enough for a smooth curve, small files. */
const CDF_POINTS = 2_000;

export function gnuplotAvailable(): boolean {
  return spawnSync('gnuplot', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Sorted samples as (value, cumulative fraction) pairs, thinned to at most CDF_POINTS. */
export function cdfPoints(values: readonly number[]): [number, number][] {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const step = Math.max(1, Math.floor(n / CDF_POINTS));
  const points: [number, number][] = [];
  for (let i = 0; i < n; i += step) points.push([sorted[i] as number, (i + 1) / n]);
  if (n > 0 && points.at(-1)?.[1] !== 1) points.push([sorted[n - 1] as number, 1]);
  return points;
}

/**
 * Writes (or overwrites) `<plot.file>.png` in `outDir` for each plot; returns the
 * links, relative to `linkBase` (the directory of the results file).
 */
export async function renderPlots(plots: readonly Plot[], outDir: string, linkBase: string): Promise<RenderedPlot[]> {
  if (plots.length === 0) return [];
  await mkdir(outDir, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'couic-plots-'));
  try {
    const rendered: RenderedPlot[] = [];
    for (const plot of plots) {
      const png = join(outDir, `${plot.file}.png`);
      // Rendered aside, then copied over the previous plot: a failed gnuplot run leaves the old one.
      const fresh = join(work, `${plot.file}.png`);
      const script = await writePlotScript(plot, work, fresh);
      const run = spawnSync('gnuplot', [script], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`gnuplot failed for ${plot.file}: ${run.stderr}`);
      await copyFile(fresh, png);
      rendered.push({ title: plot.title, relativePath: relative(linkBase, png) });
    }
    return rendered;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function writePlotScript(plot: Plot, work: string, png: string): Promise<string> {
  const q = (text: string): string => `"${text.replace(/["\\]/g, '\\$&')}"`;
  const header = [
    'set terminal pngcairo size 960,540 enhanced font "sans,11"',
    `set output ${q(png)}`,
    `set title ${q(plot.title)}`,
    'set grid',
    'set key bottom right',
  ];
  const lines: string[] = [];
  const series: { label: string; points: readonly (readonly [number, number])[] }[] =
    plot.kind === 'latency-cdf'
      ? plot.series.map((s) => ({ label: s.label, points: cdfPoints(s.values) }))
      : plot.series.map((s) => ({ label: s.label, points: s.points }));
  for (const [index, { label, points }] of series.entries()) {
    const data = join(work, `${plot.file}-${index}.dat`);
    await writeFile(data, points.map(([x, y]) => `${x} ${y}`).join('\n') + '\n');
    lines.push(`${q(data)} using 1:2 with ${plot.kind === 'latency-cdf' ? 'lines' : 'linespoints'} linewidth 2 title ${q(label)}`);
  }
  const axes =
    plot.kind === 'latency-cdf'
      ? ['set logscale x', 'set xlabel "latency (ms, log scale)"', 'set ylabel "fraction of calls"', 'set yrange [0:1]']
      : ['set logscale x 2', `set xlabel ${q(plot.xLabel)}`, `set ylabel ${q(plot.yLabel)}`, 'set yrange [0:*]'];
  const script = join(work, `${plot.file}.gp`);
  await writeFile(script, [...header, ...axes, `plot ${lines.join(', \\\n     ')}`, ''].join('\n'));
  return script;
}
