// Starts a real couic daemon (`node bin/couic.js -c <toml>`, built into dist/) in a
// benchmark's temp dir and waits until an authenticated call succeeds.
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import type { BenchCerts } from './bench-certs.js';
import type { Child } from './child-process.js';
import type { Endpoint } from './endpoint.js';
import { DAEMON_BIN } from './paths.js';
import { freeLoopbackPort } from './ports.js';
import { startServerProcess } from './server-process.js';

const READY_TIMEOUT_MS = 60_000;

export interface DaemonOptions {
  /** pino level; the shipped default is "info" (each batch is one audit record). */
  readonly logLevel?: string;
  /** Write a V8 CPU profile of the daemon into this directory when it stops. */
  readonly cpuProfDir?: string;
  /** Open the V8 inspector on a free loopback port (see BenchDaemon.inspectPort, lib/inspector-heap.ts). */
  readonly inspect?: boolean;
  /** Also serve the API on a TLS loopback listener with these certificates. */
  readonly tls?: BenchCerts;
  /** TOML tables appended to the config (e.g. "[peering]\n..."). */
  readonly configExtra?: string;
  /** Subdirectory of the benchmark dir for this daemon (default "daemon"; one per daemon). */
  readonly name?: string;
  /** TLS listener port (default: a free one); fixed when peers must know it in advance. */
  readonly port?: number;
  readonly nodeId?: string;
}

export interface BenchDaemon {
  readonly pid: number;
  readonly socketPath: string;
  readonly workingDir: string;
  /** The Unix socket endpoint, and the TLS one when `tls` was given. */
  readonly unix: Endpoint;
  readonly tls?: Endpoint;
  /** Token of the default admin client "couicctl". */
  readonly token: string;
  /** The inspector's port, when started with `inspect`. */
  readonly inspectPort?: number;
  readonly child: Child;
  stop(): Promise<void>;
}

export async function startDaemon(dir: string, options: DaemonOptions = {}): Promise<BenchDaemon> {
  await access(DAEMON_BIN).catch(() => {
    throw new Error(`${DAEMON_BIN} missing; build first (npx tsc -p tsconfig.json)`);
  });
  const base = join(dir, options.name ?? 'daemon');
  const workingDir = join(base, 'wd');
  const socketPath = join(base, 'couic.sock');
  const configPath = join(base, 'couic.toml');
  const port = options.tls !== undefined ? (options.port ?? (await freeLoopbackPort())) : undefined;
  const q = (value: string): string => JSON.stringify(value);
  const config = [
    `working_dir = ${q(workingDir)}`,
    ...(options.nodeId !== undefined ? [`node_id = ${q(options.nodeId)}`] : []),
    '',
    '[logging]',
    `level = ${q(options.logLevel ?? 'info')}`,
    '',
    '[server]',
    `socket = ${q(socketPath)}`,
    ...(port !== undefined ? [`listen = ${q(`127.0.0.1:${port}`)}`] : []),
    '',
    ...(options.tls !== undefined
      ? ['[tls]', `ca = ${q(options.tls.caPath)}`, `cert = ${q(options.tls.certPath)}`, `key = ${q(options.tls.keyPath)}`, '']
      : []),
    options.configExtra ?? '',
  ].join('\n');
  await mkdir(base, { recursive: true });
  await writeFile(configPath, config, { mode: 0o600 });

  const unix: Endpoint = { transport: 'unix', socketPath };
  const profArgs = options.cpuProfDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const inspectPort = options.inspect === true ? await freeLoopbackPort() : undefined;
  if (inspectPort !== undefined) profArgs.push(`--inspect=127.0.0.1:${inspectPort}`);
  const { child, token } = await startServerProcess({
    what: 'couic daemon',
    args: [...profArgs, ...(process.env['COUIC_BENCH_NODE_ARGS']?.split(' ').filter((a) => a !== '') ?? []), DAEMON_BIN, '-c', configPath],
    logFile: join(base, 'daemon.log'),
    readyTimeoutMs: READY_TIMEOUT_MS,
    probeEndpoint: unix,
    token: () => readAdminToken(workingDir),
    probe: (rules, signal) => rules.checkAddress({ address: '192.0.2.1' }, { signal }),
  });
  return {
    pid: child.pid,
    socketPath,
    workingDir,
    unix,
    ...(port !== undefined && options.tls !== undefined
      ? { tls: { transport: 'tls', port, caPem: options.tls.caPem, serverName: options.tls.serverName } satisfies Endpoint }
      : {}),
    token,
    ...(inspectPort !== undefined ? { inspectPort } : {}),
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
