// Child processes of a benchmark (daemons, echo servers): started with their output
// in a log file, stopped with SIGTERM (SIGKILL after a bounded wait), and killed
// if the benchmark itself dies first, so no run leaves a server behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

const STOP_TIMEOUT_MS = 10_000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  exited(): ExitInfo | undefined;
  /** Last lines of what it printed. */
  tail(lines?: number): string;
  /** SIGTERM, then SIGKILL if it has not exited within the timeout. */
  stop(): Promise<ExitInfo>;
}

/** Starts `node <args>` with stdout and stderr appended to `logFile`. */
export function spawnNode(args: readonly string[], logFile: string, cwd: string): Child {
  installExitHook();
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start node ${args.join(' ')}`);
  live.add(child);
  child.once('exit', () => live.delete(child));
  const pid = child.pid;
  const exited = (): ExitInfo | undefined =>
    child.exitCode === null && child.signalCode === null ? undefined : { code: child.exitCode, signal: child.signalCode };
  return {
    process: child,
    pid,
    logFile,
    exited,
    tail: (lines = 30) => {
      try {
        return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
    stop: async () => {
      const done = exited();
      if (done !== undefined) return done;
      child.kill('SIGTERM');
      const info = await waitExit(child, STOP_TIMEOUT_MS);
      if (info !== undefined) return info;
      child.kill('SIGKILL');
      return (await waitExit(child, STOP_TIMEOUT_MS)) ?? { code: null, signal: null };
    },
  };
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<ExitInfo | undefined> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(undefined);
    }, timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      resolve({ code, signal });
    };
    child.once('exit', onExit);
  });
}

/** Polls `probe` until it returns true; fails early when the child exits. */
export async function waitUntil(child: Child, what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    const exited = child.exited();
    if (exited !== undefined) {
      throw new Error(`${what} exited before it was ready (code ${exited.code}, signal ${exited.signal}):\n${child.tail()}`);
    }
    try {
      if (await probe()) return;
    } catch (error: unknown) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms (${lastError}):\n${child.tail()}`);
}
