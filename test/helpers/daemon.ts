// Starts the real couic daemon (`node bin/couic.js -c <config>`, built into dist/) as
// a child process in a temp dir, waits until its Unix socket answers a health check,
// and always stops it when the test ends. Daemon output is kept and shown on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { openClients, unixEndpoint } from './clients.js';
import { makeTestCerts, type TestCerts } from './certs.js';
import { makeTempDir, type Scope } from './tmp.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DAEMON_BIN = join(REPO_ROOT, 'bin', 'couic.js');

// Safety limits for a hung daemon, not assertions: sized for a loaded 2-core machine
// where a start can wait many seconds for CPU (the ava timeout is 2 minutes).
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const RUN_TO_EXIT_TIMEOUT_MS = 100_000;

/**
 * At most this many daemons of one test file are starting at once (tests of a file run
 * concurrently; a dozen node processes starting together on 2 cores made each take
 * longer than a fixed limit). Once healthy, a daemon no longer holds a slot.
 */
const CONCURRENT_STARTS = 3;
let startsRunning = 0;
const startsWaiting: (() => void)[] = [];

async function withStartSlot<T>(work: () => Promise<T>): Promise<T> {
  if (startsRunning >= CONCURRENT_STARTS) await new Promise<void>((resolve) => startsWaiting.push(resolve));
  startsRunning += 1;
  try {
    return await work();
  } finally {
    startsRunning -= 1;
    startsWaiting.shift()?.();
  }
}
const OUTPUT_LIMIT = 8 * 1024 * 1024;

export interface StartDaemonOptions {
  /** Top-level TOML keys (placed before any table). */
  readonly rootExtra?: string;
  /** Extra lines inside [logging] (which holds format = "json", level = "info"). */
  readonly loggingExtra?: string;
  /** TOML tables appended at the end of the config (e.g. "[persistence]\nflush_interval_ms = 5"). */
  readonly configExtra?: string;
  /** Reuse a working dir (e.g. from an earlier daemon); default: `<temp>/work`. */
  readonly workingDir?: string;
  /** Socket path; default `<temp>/couic.sock`. */
  readonly socketPath?: string;
  /** Add `[server] listen` on a free loopback port with TLS. */
  readonly tls?: boolean;
  /** Also require client certificates (implies tls). */
  readonly mtls?: boolean;
  /** Add `[metrics] listen` on a free loopback port. */
  readonly metrics?: boolean;
  /** Certificates to use (default: a fresh CA + server/client certs when tls/mtls). */
  readonly certs?: TestCerts | undefined;
  readonly nodeId?: string;
  readonly readyTimeoutMs?: number;
  /** Command the daemon runs under, e.g. ['nsenter', '--net=/run/netns/x'] (XDP tests). */
  readonly spawnPrefix?: readonly string[];
  /** Node/V8 flags before bin/couic.js (benchmarks: --cpu-prof, --inspect). */
  readonly nodeArgs?: readonly string[];
  /** TLS listener port, when peers must be told it before this daemon starts (default: a free one). */
  readonly listenPort?: number;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface Daemon {
  /** Temp dir holding config, socket and (by default) the working dir. */
  readonly dir: string;
  readonly configPath: string;
  readonly socketPath: string;
  readonly workingDir: string;
  /** Token of the default `couicctl` admin client. */
  readonly adminToken: string;
  /** TCP/TLS listener, when tls or mtls was asked for. */
  readonly listen?: HostPort;
  /** Metrics endpoint, e.g. http://127.0.0.1:1234/metrics, when metrics was asked for. */
  readonly metricsUrl?: string;
  readonly certs?: TestCerts | undefined;
  /** The current child process (replaced by restart()). */
  readonly process: ChildProcess;
  /** Everything the daemon printed so far (all its runs), stdout and stderr interleaved. */
  output(): string;
  /**
   * Waits until the output matches `pattern` (logs arrive through a pipe, possibly after
   * the answer of the call that caused them); false after `timeoutMs`.
   */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<boolean>;
  /** SIGTERM, then waits for exit (SIGKILL after a bounded wait). */
  stop(): Promise<ExitInfo>;
  /** SIGKILL (kill -9), then waits for exit. */
  kill(): Promise<ExitInfo>;
  /** Starts again on the same config and working dir (stops first if running). */
  restart(): Promise<void>;
}

/** Finds a free TCP port on 127.0.0.1 (tiny race with other processes, fine for tests). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

const toml = (value: string): string => JSON.stringify(value);

export interface ConfigParts {
  readonly workingDir: string;
  readonly socketPath: string;
  readonly nodeId?: string;
  readonly listen?: HostPort;
  readonly mtls?: boolean;
  readonly certs?: TestCerts | undefined;
  readonly metricsListen?: HostPort;
  readonly rootExtra?: string;
  readonly loggingExtra?: string;
  readonly configExtra?: string;
}

/** The TOML text of a daemon config (format from the project brief). */
export function daemonConfigToml(parts: ConfigParts): string {
  // rootExtra may set ifaces itself (XDP tests); a TOML key may appear only once.
  const ifaces = /^\s*ifaces\s*=/m.test(parts.rootExtra ?? '') ? [] : ['ifaces = []'];
  const lines = [...ifaces, `working_dir = ${toml(parts.workingDir)}`];
  if (parts.nodeId !== undefined) lines.push(`node_id = ${toml(parts.nodeId)}`);
  if (parts.rootExtra !== undefined) lines.push(parts.rootExtra);
  lines.push('', '[logging]');
  const logging = parts.loggingExtra ?? '';
  if (!/^\s*format\s*=/m.test(logging)) lines.push('format = "json"');
  if (!/^\s*level\s*=/m.test(logging)) lines.push('level = "info"');
  if (parts.loggingExtra !== undefined) lines.push(parts.loggingExtra);
  lines.push('', '[server]', `socket = ${toml(parts.socketPath)}`);
  if (parts.listen !== undefined) {
    lines.push(`listen = ${toml(`${parts.listen.host}:${parts.listen.port}`)}`);
    lines.push(`mtls = ${parts.mtls === true ? 'true' : 'false'}`);
  }
  if (parts.certs !== undefined) {
    lines.push('', '[tls]', `ca = ${toml(parts.certs.caPath)}`, `cert = ${toml(parts.certs.serverCertPath)}`, `key = ${toml(parts.certs.serverKeyPath)}`);
  }
  if (parts.metricsListen !== undefined) {
    lines.push('', '[metrics]', `listen = ${toml(`${parts.metricsListen.host}:${parts.metricsListen.port}`)}`);
  }
  if (parts.configExtra !== undefined) lines.push('', parts.configExtra);
  return `${lines.join('\n')}\n`;
}

/** Keeps a bounded copy of what a child process prints, each line prefixed by its stream. */
class OutputLog {
  private text = '';
  /** Whether the next byte of a stream starts a line (chunks may split lines). */
  private readonly atLineStart = new Map<string, boolean>();
  append(prefix: string, chunk: Buffer): void {
    const pieces = chunk.toString('utf8').split(/(?<=\n)/);
    for (const piece of pieces) {
      if (this.atLineStart.get(prefix) ?? true) this.text += prefix;
      this.text += piece;
      this.atLineStart.set(prefix, piece.endsWith('\n'));
    }
    if (this.text.length > OUTPUT_LIMIT) {
      const cut = this.text.indexOf('\n', this.text.length - OUTPUT_LIMIT);
      this.text = this.text.slice(cut + 1);
    }
  }
  note(line: string): void {
    this.text += `[test] ${line}\n`;
  }
  toString(): string {
    return this.text;
  }
}

export function spawnDaemon(configPath: string, log?: OutputLog, prefix: readonly string[] = [], nodeArgs: readonly string[] = []): ChildProcess {
  const argv = [...prefix, process.execPath, ...nodeArgs, DAEMON_BIN, '-c', configPath];
  const child = spawn(argv[0] ?? process.execPath, argv.slice(1), {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => log?.append('[out] ', chunk));
  child.stderr?.on('data', (chunk: Buffer) => log?.append('[err] ', chunk));
  return child;
}

export function exitInfo(child: ChildProcess): ExitInfo | undefined {
  if (child.exitCode === null && child.signalCode === null) return undefined;
  return { code: child.exitCode, signal: child.signalCode };
}

/** Waits for exit; resolves undefined if it has not exited within `timeoutMs`. */
export async function waitExit(child: ChildProcess, timeoutMs: number): Promise<ExitInfo | undefined> {
  const done = exitInfo(child);
  if (done !== undefined) return done;
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

/** Polls a TCP port until it accepts a connection, the process exits, or the timeout. */
export async function waitTcpOpen(address: HostPort, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitInfo(child) !== undefined) throw new Error(`daemon exited before ${address.host}:${address.port} was open`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(address.port, address.host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${address.host}:${address.port} not open after ${timeoutMs} ms`);
}

/** Waits until the child's stdio streams are closed (its output fully read), bounded. */
function waitClose(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    child.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Polls the socket with health checks until SERVING, the process exits, or the timeout. */
export async function waitHealthy(socketPath: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'socket not created yet';
  while (Date.now() < deadline) {
    const exited = exitInfo(child);
    if (exited !== undefined) throw new Error(`daemon exited before it was ready (code ${exited.code}, signal ${exited.signal})`);
    if (await exists(socketPath)) {
      // A fresh channel per attempt: grpc-js backs off between reconnects of one channel.
      const clients = openClients(unixEndpoint(socketPath), undefined);
      try {
        const answer = await clients.health.check({ service: '' }, { signal: AbortSignal.timeout(1_000) });
        if (answer.status === 1) return; // SERVING
        last = `health status ${answer.status}`;
      } catch (error: unknown) {
        last = error instanceof Error ? error.message : String(error);
      } finally {
        clients.close();
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`daemon not healthy after ${timeoutMs} ms: ${last}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Token of a client file `<working_dir>/rbac/clients/<name>.toml`. */
export async function readClientToken(workingDir: string, name = 'couicctl'): Promise<string> {
  const text = await readFile(clientFilePath(workingDir, name), 'utf8');
  const parsed = parse(text);
  const token = parsed['token'];
  if (typeof token !== 'string') throw new Error(`no token in client file ${name}.toml`);
  return token;
}

export function clientFilePath(workingDir: string, name = 'couicctl'): string {
  return join(workingDir, 'rbac', 'clients', `${name}.toml`);
}

/** Starts a daemon for this test (or file scope); stopped (SIGTERM, then SIGKILL) at teardown. */
export async function startDaemon(t: Scope, options: StartDaemonOptions = {}): Promise<Daemon> {
  const dir = await makeTempDir(t, 'couic-d-');
  const workingDir = options.workingDir ?? join(dir, 'work');
  const socketPath = options.socketPath ?? join(dir, 'couic.sock');
  const wantTls = options.tls === true || options.mtls === true;
  const certs = options.certs ?? (wantTls ? await makeTestCerts(join(dir, 'certs')) : undefined);
  const listen = wantTls ? { host: '127.0.0.1', port: options.listenPort ?? (await freePort()) } : undefined;
  const metricsListen = options.metrics === true ? { host: '127.0.0.1', port: await freePort() } : undefined;
  const configPath = join(dir, 'couic.toml');
  await writeFile(
    configPath,
    daemonConfigToml({
      workingDir,
      socketPath,
      ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}),
      ...(listen !== undefined ? { listen, mtls: options.mtls === true } : {}),
      ...(certs !== undefined ? { certs } : {}),
      ...(metricsListen !== undefined ? { metricsListen } : {}),
      ...(options.rootExtra !== undefined ? { rootExtra: options.rootExtra } : {}),
      ...(options.loggingExtra !== undefined ? { loggingExtra: options.loggingExtra } : {}),
      ...(options.configExtra !== undefined ? { configExtra: options.configExtra } : {}),
    }),
    { mode: 0o600 },
  );

  const log = new OutputLog();
  const readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  let child: ChildProcess | undefined;

  const launch = (): Promise<void> => withStartSlot(launchNow);
  const launchNow = async (): Promise<void> => {
    log.note(`starting: node bin/couic.js -c ${configPath}`);
    const started = spawnDaemon(configPath, log, options.spawnPrefix, options.nodeArgs);
    child = started;
    try {
      await waitHealthy(socketPath, started, readyTimeoutMs);
      // Health answers on the Unix socket before the TCP and metrics listeners are up.
      for (const address of [listen, metricsListen]) {
        if (address !== undefined) await waitTcpOpen(address, started, readyTimeoutMs);
      }
    } catch (error: unknown) {
      if (exitInfo(started) === undefined) {
        started.kill('SIGKILL');
        await waitExit(started, STOP_TIMEOUT_MS);
      }
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- daemon output ---\n${log.toString()}`);
    }
  };

  const stop = async (signal: NodeJS.Signals): Promise<ExitInfo> => {
    if (child === undefined) return { code: null, signal: null };
    const done = exitInfo(child);
    if (done !== undefined) return done;
    const closed = waitClose(child, STOP_TIMEOUT_MS);
    child.kill(signal);
    const exited = await waitExit(child, STOP_TIMEOUT_MS);
    if (exited !== undefined) {
      await closed; // everything it printed has been read
      return exited;
    }
    log.note(`no exit ${STOP_TIMEOUT_MS} ms after ${signal}; sending SIGKILL`);
    child.kill('SIGKILL');
    return (await waitExit(child, STOP_TIMEOUT_MS)) ?? { code: null, signal: null };
  };

  // Registered before the first launch so a daemon that started but failed the
  // readiness wait is still cleaned up.
  t.teardown(async () => {
    if (child !== undefined && exitInfo(child) === undefined) await stop('SIGTERM');
    if (!t.passed) {
      const text = log.toString();
      const tail = text
        .split('\n')
        .slice(-60)
        .map((line) => (line.length > 400 ? `${line.slice(0, 400)}... (${line.length} chars)` : line));
      t.log(`daemon output (${configPath}), last lines:\n${tail.join('\n')}`);
    }
  });

  await launch();
  const adminToken = await readClientToken(workingDir);

  const daemon: Daemon = {
    dir,
    configPath,
    socketPath,
    workingDir,
    adminToken,
    ...(listen !== undefined ? { listen } : {}),
    ...(metricsListen !== undefined ? { metricsUrl: `http://${metricsListen.host}:${metricsListen.port}/metrics` } : {}),
    ...(certs !== undefined ? { certs } : {}),
    get process(): ChildProcess {
      if (child === undefined) throw new Error('daemon never started');
      return child;
    },
    output: () => log.toString(),
    // A limit for a record that never comes, not a speed check: sized for a loaded machine.
    waitForOutput: async (pattern, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(log.toString())) {
        if (Date.now() >= deadline) return false;
        await new Promise((r) => setTimeout(r, 25));
      }
      return true;
    },
    stop: () => stop('SIGTERM'),
    kill: () => stop('SIGKILL'),
    restart: async () => {
      await stop('SIGTERM');
      await launch();
    },
  };
  return daemon;
}

export interface DaemonRun extends ExitInfo {
  readonly stdout: string;
  readonly stderr: string;
  /** True when it was still running after the timeout (then killed). */
  readonly timedOut: boolean;
}

/** Runs a daemon expected to exit by itself (bad config, socket in use...). */
export function runDaemonToExit(configPath: string, timeoutMs = RUN_TO_EXIT_TIMEOUT_MS): Promise<DaemonRun> {
  return withStartSlot(() => runDaemonToExitNow(configPath, timeoutMs));
}

async function runDaemonToExitNow(configPath: string, timeoutMs: number): Promise<DaemonRun> {
  const child = spawn(process.execPath, [DAEMON_BIN, '-c', configPath], {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const closed = once(child, 'close');
  let exited = await waitExit(child, timeoutMs);
  const timedOut = exited === undefined;
  if (exited === undefined) {
    child.kill('SIGKILL');
    exited = (await waitExit(child, STOP_TIMEOUT_MS)) ?? { code: null, signal: null };
  }
  await closed; // stdout/stderr fully read
  return { ...exited, stdout, stderr, timedOut };
}
