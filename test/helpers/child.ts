// Child processes the kit starts besides the daemon (nats-server, the benchmark echo
// server): their output kept in a bounded buffer, readiness as a line they print,
// and a stop that signals, waits a bounded time, then SIGKILLs.
import type { ChildProcess } from 'node:child_process';
import { exitInfo, waitExit, type ExitInfo } from './daemon.js';

const NO_EXIT: ExitInfo = { code: null, signal: null };

/** What one or more runs of a program printed (stdout and stderr), the tail kept past `limit` chars. */
export class OutputBuffer {
  private text = '';
  constructor(private readonly limit = 1_000_000) {}

  /** Appends what `child` prints from now on; returns it. */
  attach(child: ChildProcess): ChildProcess {
    child.stdout?.on('data', this.append);
    child.stderr?.on('data', this.append);
    child.once('error', (error) => this.append(`[spawn error] ${error.message}\n`));
    return child;
  }

  toString(): string {
    return this.text;
  }

  private readonly append = (chunk: Buffer | string): void => {
    this.text += chunk.toString();
    if (this.text.length > this.limit) this.text = this.text.slice(-Math.floor(this.limit / 2));
  };
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<ExitInfo> {
  const done = exitInfo(child);
  if (done !== undefined) return done;
  child.kill(signal);
  const exited = await waitExit(child, timeoutMs);
  if (exited !== undefined) return exited;
  child.kill('SIGKILL');
  return (await waitExit(child, timeoutMs)) ?? NO_EXIT;
}

/**
 * Resolves with the first match of `pattern` in what `child` prints from now on (stdout
 * and stderr piped; call it right after spawn); rejects when it exits first or after `timeoutMs`.
 */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer | string): void => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match !== null) finish(() => resolve(match));
    };
    const onExit = (): void => finish(() => reject(new Error(`exited (code ${child.exitCode}, signal ${child.signalCode}) before printing ${String(pattern)}`)));
    const timer = setTimeout(() => finish(() => reject(new Error(`no ${String(pattern)} within ${timeoutMs} ms`))), timeoutMs);
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      settle();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    if (exitInfo(child) !== undefined) onExit();
  });
}
