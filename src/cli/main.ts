// Entry point of the `couicctl` executable (bin/couicctl.js imports this): wires the
// real process (argv, streams, env, signals, files, gRPC) into the app and sets the
// exit code. The only module of the CLI that touches `process` directly.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { systemClock } from '../domain/clock.js';
import { runCouicctl } from './app.js';

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const version = (pkg as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

let interrupt: AbortController | undefined;
/** First Ctrl-C ends a live view cleanly; a second one falls back to Node's default (exit). */
function interruptSignal(): AbortSignal {
  if (interrupt === undefined) {
    const controller = new AbortController();
    interrupt = controller;
    process.once('SIGINT', () => controller.abort());
  }
  return interrupt.signal;
}

// `couicctl drop list | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// No top-level await: the shipped CLI is one CommonJS bundle (scripts/bundle-cli.js).
void runCouicctl(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdoutIsTty: process.stdout.isTTY === true,
  clock: systemClock,
  readText: (path) => (path === '-' ? readStdin() : readFile(path, 'utf8')),
  sleep,
  interruptSignal,
  // gRPC is most of the CLI's code: loaded only by commands that talk to a daemon.
  connect: async (path, explicit) => (await import('./connection.js')).connectFromConfig(path, explicit),
  version: packageVersion(),
}).then((code) => {
  process.exitCode = code;
});
