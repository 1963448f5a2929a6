// Starts a real couic daemon (`node bin/couic.js -c <toml>`, built into dist/) in a
// benchmark's temp dir and waits until an authenticated call succeeds.
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { spawnNode, waitUntil, type Child } from './child-process.js';
import { DAEMON_BIN, REPO_ROOT } from './paths.js';
import { openRulesClient } from './rules-client.js';

const READY_TIMEOUT_MS = 60_000;

export interface DaemonOptions {
  /** pino level; the shipped default is "info" (each batch is one audit record). */
  readonly logLevel?: string;
  /** Write a V8 CPU profile of the daemon into this directory when it stops. */
  readonly cpuProfDir?: string;
}

export interface BenchDaemon {
  readonly pid: number;
  readonly socketPath: string;
  readonly workingDir: string;
  /** Token of the default admin client "couicctl". */
  readonly token: string;
  readonly child: Child;
  stop(): Promise<void>;
}

export async function startDaemon(dir: string, options: DaemonOptions = {}): Promise<BenchDaemon> {
  await access(DAEMON_BIN).catch(() => {
    throw new Error(`${DAEMON_BIN} missing; build first (npx tsc -p tsconfig.json)`);
  });
  const workingDir = join(dir, 'wd');
  const socketPath = join(dir, 'couic.sock');
  const configPath = join(dir, 'couic.toml');
  const q = (value: string): string => JSON.stringify(value);
  const config = [
    `working_dir = ${q(workingDir)}`,
    '',
    '[logging]',
    `level = ${q(options.logLevel ?? 'info')}`,
    '',
    '[server]',
    `socket = ${q(socketPath)}`,
    '',
  ].join('\n');
  await writeFile(configPath, config, { mode: 0o600 });

  const profArgs = options.cpuProfDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const child = spawnNode([...profArgs, DAEMON_BIN, '-c', configPath], join(dir, 'daemon.log'), REPO_ROOT);
  let token = '';
  try {
    await waitUntil(
      child,
      'couic daemon',
      async () => {
        if (token === '') token = await readAdminToken(workingDir);
        // A fresh channel per attempt: one channel backs off between reconnects.
        const client = openRulesClient(socketPath, token);
        try {
          await client.rules.checkAddress({ address: '192.0.2.1' }, { signal: AbortSignal.timeout(2_000) });
          return true;
        } finally {
          client.close();
        }
      },
      READY_TIMEOUT_MS,
    );
  } catch (error) {
    await child.stop();
    throw error;
  }
  return {
    pid: child.pid,
    socketPath,
    workingDir,
    token,
    child,
    stop: async () => {
      const exit = await child.stop();
      if (exit.code !== 0) process.stderr.write(`bench: daemon exited with code ${exit.code} signal ${exit.signal}\n`);
    },
  };
}

/** The token the daemon wrote for its default admin client on first start. */
async function readAdminToken(workingDir: string): Promise<string> {
  const text = await readFile(join(workingDir, 'rbac', 'clients', 'couicctl.toml'), 'utf8');
  const token = parse(text)['token'];
  if (typeof token !== 'string' || token === '') throw new Error('no token in couicctl.toml yet');
  return token;
}
