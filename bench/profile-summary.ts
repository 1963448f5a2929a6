// Where a daemon's time went: reads a V8 .cpuprofile (from `--cpu-prof DIR`) and
// prints self time by function and by source file/package, largest first.
//
// `node --import tsx bench/profile-summary.ts FILE.cpuprofile [TOP]`
import { readFile } from 'node:fs/promises';
import { isMain } from './lib/is-main.js';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly byFunction: readonly [string, number][];
  readonly byFile: readonly [string, number][];
  /** Time with the function anywhere on the stack (counted once per sample). */
  readonly inclusive: readonly [string, number][];
}

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const frames = new Map<number, CallFrame>();
  const parents = new Map<number, number>();
  for (const node of profile.nodes) {
    frames.set(node.id, node.callFrame);
    for (const child of node.children ?? []) parents.set(child, node.id);
  }
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, index) => {
    const us = profile.timeDeltas[index] ?? 0;
    totalUs += us;
    const frame = frames.get(id);
    if (frame === undefined) return;
    const file = fileOf(frame.url);
    const fn = functionKey(frame);
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const onStack = frames.get(at);
      if (onStack !== undefined) seen.add(functionKey(onStack));
    }
    for (const key of seen) inclusive.set(key, (inclusive.get(key) ?? 0) + us);
  });
  const sorted = (map: Map<string, number>): [string, number][] =>
    [...map.entries()].map(([k, us]): [string, number] => [k, us / 1000]).sort((a, b) => b[1] - a[1]);
  return { totalMs: totalUs / 1000, byFunction: sorted(byFunction), byFile: sorted(byFile), inclusive: sorted(inclusive) };
}

function functionKey(frame: CallFrame): string {
  const file = fileOf(frame.url);
  return `${frame.functionName === '' ? '(anonymous)' : frame.functionName} ${file}${frame.url === '' ? '' : `:${frame.lineNumber + 1}`}`;
}

/** node_modules/<pkg>, dist/<path> or node:<module>; '(vm)' for frames without a file. */
function fileOf(url: string): string {
  if (url === '') return '(vm)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1] !== undefined) return pkg[1];
  const own = /\/(dist|src|bench)\/(.*)$/.exec(url);
  if (own !== null) return `${own[1]}/${own[2]}`;
  return url.replace(/^file:\/\//, '');
}

async function main(): Promise<void> {
  const [file, topText] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: profile-summary.ts FILE.cpuprofile [TOP]');
  const top = Number(topText ?? 25);
  const summary = summarizeProfile(JSON.parse(await readFile(file, 'utf8')) as CpuProfile);
  const pct = (ms: number): string => `${((100 * ms) / summary.totalMs).toFixed(1).padStart(5)}%`;
  process.stdout.write(`total ${summary.totalMs.toFixed(0)} ms sampled\n\nself time by file/package:\n`);
  for (const [name, ms] of summary.byFile.slice(0, top)) process.stdout.write(`${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${name}\n`);
  process.stdout.write('\nself time by function:\n');
  for (const [name, ms] of summary.byFunction.slice(0, top)) process.stdout.write(`${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${name}\n`);
  process.stdout.write('\ninclusive time (own code, function anywhere on the stack):\n');
  const own = summary.inclusive.filter(([name]) => / (dist|src)\//.test(name));
  for (const [name, ms] of own.slice(0, top)) process.stdout.write(`${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${name}\n`);
}

if (isMain(import.meta.url)) await main();
