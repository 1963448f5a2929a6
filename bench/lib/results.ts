// The results table: each figure beside its baseline measured in the same run, the
// ratio first, then median and spread; rendered as one dated markdown section that
// is appended to bench/RESULTS.md (or a scratch file for quick runs).
import { access, appendFile, writeFile } from 'node:fs/promises';
import type { MachineInfo } from './machine.js';
import type { Summary } from './stats.js';

/**
 * throughput: runs' rates, median (min-max), higher is better.
 * latency: per-call times pooled over runs, shown as p50/p99/max; ratio on p50.
 * memory: bytes per run, median (min-max); ratio against the idle baseline.
 */
export type FigureKind = 'throughput' | 'latency' | 'memory';

export interface Figure {
  readonly name: string;
  readonly kind: FigureKind;
  /** For throughput, e.g. "rules/s"; latency is in ms and memory in MiB. */
  readonly unit: string;
  readonly couic: Summary;
  readonly baseline: Summary;
  /** What the baseline is, e.g. "grpc-js echo, same messages, Unix socket". */
  readonly baselineName: string;
}

/** Latency distribution: one CDF line per series of raw samples (ms). */
export interface LatencyCdfPlot {
  readonly kind: 'latency-cdf';
  /** File stem under bench/plots/ (stable: the next run overwrites it). */
  readonly file: string;
  readonly title: string;
  readonly series: readonly { readonly label: string; readonly values: readonly number[] }[];
}

/** How a figure grows with the load: y against x, one line per series. */
export interface ScalingPlot {
  readonly kind: 'scaling';
  readonly file: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly { readonly label: string; readonly points: readonly (readonly [number, number])[] }[];
}

export type Plot = LatencyCdfPlot | ScalingPlot;

export interface ScenarioResult {
  readonly scenario: string;
  readonly figures: readonly Figure[];
  /** Free-form observations (settings used, derived figures). */
  readonly notes: readonly string[];
  /** Raw data for PNG plots (rendered by lib/plots.ts when gnuplot is there). */
  readonly plots?: readonly Plot[];
}

/** A rendered plot, linked from the section by a path relative to the results file. */
export interface RenderedPlot {
  readonly title: string;
  readonly relativePath: string;
}

export interface SectionInput {
  readonly machine: MachineInfo;
  readonly mode: 'full' | 'quick';
  readonly command: string;
  readonly results: readonly ScenarioResult[];
  /** 1-minute load average when the last scenario finished. */
  readonly loadAtEnd?: number;
  readonly plots?: readonly RenderedPlot[];
  /** Why plots are missing, when they are. */
  readonly plotNote?: string;
}

/** couic / baseline on the figure's headline statistic. */
export function ratioOf(figure: Figure): number {
  const pick = (s: Summary): number => (figure.kind === 'latency' ? s.p50 : s.median);
  const base = pick(figure.baseline);
  return base === 0 ? Number.NaN : pick(figure.couic) / base;
}

export function renderSection(input: SectionInput): string {
  const { machine } = input;
  const date = machine.date.replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
  const lines = [
    `## ${date} · ${machine.commit} · ${input.mode}`,
    '',
    `Machine: ${machine.cores} cores (${machine.cpuModel}), ${formatGiB(machine.memoryBytes)} RAM, ${machine.kernel}, Node ${machine.node}. ` +
      `Load average at start ${machine.loadAverage.map((l) => l.toFixed(2)).join(' / ')}` +
      `${input.loadAtEnd !== undefined ? `, 1-min at end ${input.loadAtEnd.toFixed(2)}` : ''}. Command: \`${input.command}\`.`,
    '',
    '| figure | ratio couic / baseline | couic | baseline (same run) | baseline is | runs |',
    '|---|---:|---|---|---|---:|',
  ];
  for (const result of input.results) {
    for (const figure of result.figures) {
      lines.push(
        `| ${figure.name} | ${formatRatio(ratioOf(figure))} | ${formatCell(figure, figure.couic)} | ${formatCell(figure, figure.baseline)} | ${figure.baselineName} | ${runsOf(figure)} |`,
      );
    }
  }
  const notes = input.results.flatMap((r) => r.notes.map((note) => `- ${r.scenario}: ${note}`));
  if (notes.length > 0) lines.push('', ...notes);
  if (input.plots !== undefined && input.plots.length > 0) {
    lines.push('', `Plots: ${input.plots.map((p) => `[${p.title}](${p.relativePath})`).join(' · ')}`);
  }
  if (input.plotNote !== undefined) lines.push('', `Plots: ${input.plotNote}`);
  return `${lines.join('\n')}\n`;
}

const RESULTS_HEADER = `# couic benchmark results

Appended by \`npm run bench\` (see README.md in this folder). Newest section last.
Ratios are couic / baseline on the median (on p50 for latencies); spreads are min–max over runs.
`;

export async function appendSection(file: string, section: string): Promise<void> {
  const exists = await access(file).then(
    () => true,
    () => false,
  );
  if (!exists) await writeFile(file, RESULTS_HEADER);
  await appendFile(file, `\n${section}`);
}

function runsOf(figure: Figure): string {
  return figure.kind === 'latency' ? `${figure.couic.n} calls` : String(figure.couic.n);
}

function formatCell(figure: Figure, s: Summary): string {
  switch (figure.kind) {
    case 'throughput':
      return `${formatInt(s.median)} ${figure.unit} (${formatInt(s.min)}–${formatInt(s.max)})`;
    case 'latency':
      return `p50 ${formatMs(s.p50)}, p99 ${formatMs(s.p99)}, max ${formatMs(s.max)} ${figure.unit}`;
    case 'memory':
      return `${formatMiB(s.median)} MiB (${formatMiB(s.min)}–${formatMiB(s.max)})`;
  }
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `**${ratio.toFixed(2)}x**` : 'n/a';
}

export function formatInt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function formatMs(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

export function formatMiB(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

function formatGiB(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}
