// What the figures were measured on: they mean little without the machine, the
// runtime and the commit beside them.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';

export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryBytes: number;
  readonly kernel: string;
  readonly node: string;
  /** Short commit hash, with "-dirty" when the tree has uncommitted changes. */
  readonly commit: string;
  /** ISO 8601, UTC. */
  readonly date: string;
  /** 1, 5 and 15 minute load averages when the run started: other work skews figures. */
  readonly loadAverage: readonly [number, number, number];
}

export function machineInfo(repoRoot: string, now: Date = new Date()): MachineInfo {
  const cpuList = cpus();
  return {
    cores: cpuList.length,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    kernel: `${osType()} ${release()}`,
    node: process.version,
    commit: gitCommit(repoRoot),
    date: now.toISOString(),
    loadAverage: loadavg() as [number, number, number],
  };
}

function gitCommit(repoRoot: string): string {
  try {
    const head = git(repoRoot, ['rev-parse', '--short', 'HEAD']);
    const dirty = git(repoRoot, ['status', '--porcelain', '--untracked-files=no']) !== '';
    return dirty ? `${head}-dirty` : head;
  } catch {
    return 'unknown';
  }
}

function git(cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}
