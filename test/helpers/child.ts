// Stopping a child process the kit started (nats-server, the benchmark echo server):
// a signal, a bounded wait for its exit, SIGKILL if it is still there.
import type { ChildProcess } from 'node:child_process';
import { exitInfo, waitExit, type ExitInfo } from './daemon.js';

const NO_EXIT: ExitInfo = { code: null, signal: null };

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
 * Resolves with the first match of `pattern` in what `child` prints (stdout and stderr
 * piped); rejects when it exits first or after `timeoutMs`. `output()` is the text so far.
 */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number, output: () => string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const onData = (): void => {
      const match = pattern.exec(output());
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
    // Listeners added after the caller's own: output() already holds the new chunk.
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    onData();
    if (exitInfo(child) !== undefined) onExit();
  });
}
