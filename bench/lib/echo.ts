// Starts the echo baseline (echo-server.ts) as a child process, like the daemon, so
// client and server sit in separate processes in both measurements. Ready when it
// says it listens (after its binds); its TLS port is the one it bound and printed.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutputBuffer, stopChild, waitForLine } from '../../test/helpers/child.js';
import { REPO_ROOT } from '../../test/helpers/daemon.js';
import { tlsEndpointOf, type BenchCerts } from './bench-certs.js';
import { benchChild, type Child } from './child-process.js';
import type { Endpoint } from './endpoint.js';

const ECHO_SCRIPT = fileURLToPath(new URL('./echo-server.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const LISTENING = /echo server listening on \S+(?: tls port (\d+))?\n/;

export interface EchoServer {
  readonly pid: number;
  readonly socketPath: string;
  readonly unix: Endpoint;
  readonly tls?: Endpoint;
  /** The echo ignores it; sent anyway so both sides get the same metadata. */
  readonly token: string;
  readonly child: Child;
  stop(): Promise<void>;
}

/** The echo on a Unix socket, and also on TLS loopback TCP when `tls` is given. */
export async function startEcho(dir: string, tls?: BenchCerts): Promise<EchoServer> {
  const socketPath = join(dir, 'echo.sock');
  const tlsArgs = tls !== undefined ? [tls.serverCertPath, tls.serverKeyPath] : [];
  const output = new OutputBuffer(64 * 1024);
  const child = output.attach(
    spawn(process.execPath, ['--import', 'tsx', ECHO_SCRIPT, socketPath, ...tlsArgs], {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const listening = await waitForLine(child, LISTENING, READY_TIMEOUT_MS).catch(async (error: unknown) => {
    await stopChild(child, 'SIGKILL', STOP_TIMEOUT_MS);
    throw new Error(`echo server did not start: ${String(error)}\n${output.toString()}`);
  });
  const tlsPort = listening[1] !== undefined ? Number(listening[1]) : undefined;
  const handle = benchChild(child, (lines) => output.toString().split('\n').slice(-lines).join('\n'), () => stopChild(child, 'SIGTERM', STOP_TIMEOUT_MS));
  return {
    pid: handle.pid,
    socketPath,
    unix: { transport: 'unix', socketPath },
    ...(tls !== undefined && tlsPort !== undefined ? { tls: tlsEndpointOf(tls, tlsPort) } : {}),
    token: '00000000-0000-4000-8000-000000000000',
    child: handle,
    stop: async () => {
      await handle.stop();
    },
  };
}
