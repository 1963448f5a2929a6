// Runs the real couicctl binary (`node bin/couicctl.js -c <config>`) against a test
// daemon, in local mode: the daemon's socket and its couicctl client file.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clientFilePath, REPO_ROOT, type Daemon } from './daemon.js';

export const CLI_BIN = join(REPO_ROOT, 'bin', 'couicctl.js');
// Kills a hung CLI; a safety limit (a loaded 2-core machine can take seconds to start node).
const CLI_TIMEOUT_MS = 60_000;

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** Use this config file instead of the daemon's local one. */
  readonly configPath?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Written to stdin, then closed. */
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** Writes `<daemon dir>/couicctl.toml` (mode local) and returns its path. */
export async function writeLocalCliConfig(daemon: Pick<Daemon, 'dir' | 'socketPath' | 'workingDir'>, name = 'couicctl'): Promise<string> {
  const path = join(daemon.dir, `${name}-cli.toml`);
  const text = [
    'mode = "local"',
    `socket = ${JSON.stringify(daemon.socketPath)}`,
    `client_file = ${JSON.stringify(clientFilePath(daemon.workingDir, name))}`,
    '',
  ].join('\n');
  await writeFile(path, text, { mode: 0o600 });
  return path;
}

/** Runs couicctl with `args` against `daemon` (or `options.configPath`). */
export async function runCli(daemon: Pick<Daemon, 'dir' | 'socketPath' | 'workingDir'> | undefined, args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const configPath = options.configPath ?? (daemon === undefined ? undefined : await writeLocalCliConfig(daemon));
  const argv = configPath === undefined ? [...args] : ['-c', configPath, ...args];
  return runCliRaw(argv, options);
}

/**
 * At most this many couicctl processes of one test file run at once: concurrent tests
 * each starting node on a loaded 2-core machine made every start slower than needed.
 */
const CONCURRENT_RUNS = 4;
let running = 0;
const waiting: (() => void)[] = [];

/** Runs couicctl with exactly `argv` (no -c added). */
export async function runCliRaw(argv: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  if (running >= CONCURRENT_RUNS) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  try {
    return await runCliNow(argv, options);
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

async function runCliNow(argv: readonly string[], options: CliOptions): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI_BIN, ...argv], {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_OPTIONS: '', NO_COLOR: '1', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  // Decoded by the stream: a box-drawing character may be split between two chunks.
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (stdout += chunk));
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? CLI_TIMEOUT_MS);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
