// Server processes of a benchmark (daemons, echo): the handle the scenarios get, and a
// hook that kills them if the benchmark process itself exits first, so no run leaves
// a server behind. Starting and stopping them is the test kit's (test/helpers/).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { stopChild } from '../../test/helpers/child.js';
import { exitInfo, type ExitInfo } from '../../test/helpers/daemon.js';

/** SIGTERM, then this long before SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;

export type { ExitInfo };

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  exited(): ExitInfo | undefined;
  /** Last lines of what it printed (or logged). */
  tail(lines?: number): string;
  /** SIGTERM, then SIGKILL if it has not exited within the timeout. */
  stop(): Promise<ExitInfo>;
}

export function benchChild(process: ChildProcess, tail: (lines: number) => string, stop: () => Promise<ExitInfo>): Child {
  killOnExit(process);
  return { process, pid: process.pid ?? 0, exited: () => exitInfo(process), tail: (lines = 30) => tail(lines), stop };
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killOnExit(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  if (exitInfo(child) !== undefined) return;
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Starts `node <args>` (a helper process of a scenario) with its output appended to `logFile`. */
export function spawnNode(args: readonly string[], logFile: string, cwd: string): Child {
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const tail = (lines: number): string => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  return benchChild(child, tail, () => stopChild(child, 'SIGTERM', STOP_TIMEOUT_MS));
}
