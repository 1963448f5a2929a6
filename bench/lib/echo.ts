// Starts the echo baseline (echo-server.ts) as a child process, like the daemon, so
// client and server sit in separate processes in both measurements.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchCerts } from './bench-certs.js';
import type { Child } from './child-process.js';
import type { Endpoint } from './endpoint.js';
import { freeLoopbackPort } from './ports.js';
import { startServerProcess } from './server-process.js';

const ECHO_SCRIPT = fileURLToPath(new URL('./echo-server.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

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
  const token = '00000000-0000-4000-8000-000000000000';
  const port = tls !== undefined ? await freeLoopbackPort() : undefined;
  const tlsArgs = tls !== undefined && port !== undefined ? [String(port), tls.certPath, tls.keyPath] : [];
  const unix: Endpoint = { transport: 'unix', socketPath };
  const { child } = await startServerProcess({
    what: 'echo server',
    args: ['--import', 'tsx', ECHO_SCRIPT, socketPath, ...tlsArgs],
    logFile: join(dir, 'echo.log'),
    readyTimeoutMs: READY_TIMEOUT_MS,
    probeEndpoint: unix,
    token: async () => token,
  });
  return {
    pid: child.pid,
    socketPath,
    unix,
    ...(tls !== undefined && port !== undefined
      ? { tls: { transport: 'tls', port, caPem: tls.caPem, serverName: tls.serverName } satisfies Endpoint }
      : {}),
    token,
    child,
    stop: async () => {
      await child.stop();
    },
  };
}
