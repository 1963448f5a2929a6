// A couic daemon for a benchmark: the test kit's launcher (test/helpers/daemon.ts:
// config, spawn, health wait, SIGTERM stop) in a scope of its own, closed by stop(),
// with the benchmark's choices on top: a fixed working dir per name under the
// benchmark dir (a second start on the same name resumes its state), a log level,
// V8 flags (CPU profile, inspector), a TLS listener with given certificates. The
// daemon logs into `<name>/couic.log` ([logging] dir), as a deployed one does: its
// records do not flow through this process, which is also the measuring client.
import { readFileSync } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemon as startKitDaemon, DAEMON_BIN, type Daemon } from '../../test/helpers/daemon.js';
import { ownedScope } from '../../test/helpers/tmp.js';
import { tlsEndpointOf, type BenchCerts } from './bench-certs.js';
import { benchChild, type Child } from './child-process.js';
import type { Endpoint } from './endpoint.js';

const READY_TIMEOUT_MS = 60_000;
/** Node's startup line for `--inspect=127.0.0.1:0`, naming the port it bound. */
const INSPECTOR_LISTENING = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//;

export interface DaemonOptions {
  /** pino level; the shipped default is "info" (each batch is one audit record). */
  readonly logLevel?: string;
  /** Write a V8 CPU profile of the daemon into this directory when it stops. */
  readonly cpuProfDir?: string;
  /** Open the V8 inspector on a loopback port (see BenchDaemon.inspectPort, lib/inspector-heap.ts). */
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
  /** The daemon's log ([logging] dir). */
  readonly logFile: string;
  stop(): Promise<void>;
}

export async function startDaemon(dir: string, options: DaemonOptions = {}): Promise<BenchDaemon> {
  await access(DAEMON_BIN).catch(() => {
    throw new Error(`${DAEMON_BIN} missing; build first (npx tsc -p tsconfig.json)`);
  });
  const base = join(dir, options.name ?? 'daemon');
  const logFile = join(base, 'couic.log');
  await mkdir(base, { recursive: true });
  const scope = ownedScope();
  let daemon: Daemon;
  try {
    daemon = await startKitDaemon(scope, {
      workingDir: join(base, 'wd'),
      socketPath: join(base, 'couic.sock'),
      loggingExtra: `level = ${JSON.stringify(options.logLevel ?? 'info')}\ndir = ${JSON.stringify(base)}`,
      nodeArgs: nodeArgs(options),
      readyTimeoutMs: READY_TIMEOUT_MS,
      ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}),
      ...(options.configExtra !== undefined ? { configExtra: options.configExtra } : {}),
      ...(options.tls !== undefined ? { tls: true, certs: options.tls, ...(options.port !== undefined ? { listenPort: options.port } : {}) } : {}),
    });
  } catch (error: unknown) {
    await scope.close();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- ${logFile} ---\n${tailOf(readLog(logFile), 30)}`);
  }
  const child = benchChild(daemon.process, (lines) => tailOf(readLog(logFile), lines), () => daemon.stop());
  const inspectPort = options.inspect === true ? Number(INSPECTOR_LISTENING.exec(daemon.output())?.[1] ?? Number.NaN) : undefined;
  if (Number.isNaN(inspectPort)) {
    await daemon.stop();
    await scope.close();
    throw new Error('bench: the daemon did not print its inspector port');
  }
  return {
    pid: child.pid,
    socketPath: daemon.socketPath,
    workingDir: daemon.workingDir,
    unix: { transport: 'unix', socketPath: daemon.socketPath },
    ...(options.tls !== undefined && daemon.listen !== undefined ? { tls: tlsEndpointOf(options.tls, daemon.listen.port) } : {}),
    token: daemon.adminToken,
    ...(inspectPort !== undefined ? { inspectPort } : {}),
    child,
    logFile,
    stop: async () => {
      const exit = await daemon.stop();
      if (exit.code !== 0) {
        process.stderr.write(`bench: daemon exited with code ${exit.code} signal ${exit.signal}; ${logFile}:\n${child.tail()}\n${daemon.output()}\n`);
      }
      await scope.close();
    },
  };
}

/** V8 flags: the CPU profile, the inspector (on a port it picks), COUIC_BENCH_NODE_ARGS. */
function nodeArgs(options: DaemonOptions): string[] {
  const profile = options.cpuProfDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const inspect = options.inspect === true ? ['--inspect=127.0.0.1:0'] : [];
  const extra = process.env['COUIC_BENCH_NODE_ARGS']?.split(' ').filter((a) => a !== '') ?? [];
  return profile.concat(inspect, extra);
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function tailOf(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}
