// Starts the echo baseline (echo-server.ts) as a child process, like the daemon, so
// client and server sit in separate processes in both measurements.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnNode, waitUntil, type Child } from './child-process.js';
import { REPO_ROOT } from './paths.js';
import { openRulesClient } from './rules-client.js';

const ECHO_SCRIPT = fileURLToPath(new URL('./echo-server.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

export interface EchoServer {
  readonly pid: number;
  readonly socketPath: string;
  /** The echo ignores it; sent anyway so both sides get the same metadata. */
  readonly token: string;
  readonly child: Child;
  stop(): Promise<void>;
}

export async function startEcho(dir: string): Promise<EchoServer> {
  const socketPath = join(dir, 'echo.sock');
  const token = '00000000-0000-4000-8000-000000000000';
  const child = spawnNode(['--import', 'tsx', ECHO_SCRIPT, socketPath], join(dir, 'echo.log'), REPO_ROOT);
  try {
    await waitUntil(
      child,
      'echo server',
      async () => {
        const client = openRulesClient(socketPath, token);
        try {
          await client.rules.addRules({ rules: [] }, { signal: AbortSignal.timeout(2_000) });
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
    token,
    child,
    stop: async () => {
      await child.stop();
    },
  };
}
