// Starting a benchmark server (daemon or echo baseline) as a child process and waiting
// until an authenticated call on its Unix socket succeeds: one place for both, so the
// two sides of every comparison are started and probed the same way.
import { spawnNode, waitUntil, type Child } from './child-process.js';
import type { Endpoint } from './endpoint.js';
import { REPO_ROOT } from './paths.js';
import { openRulesClient, type RulesClient } from './rules-client.js';

export interface ServerProcessSpec {
  /** For messages: "couic daemon", "echo server". */
  readonly what: string;
  /** Arguments to `node`. */
  readonly args: readonly string[];
  readonly logFile: string;
  readonly readyTimeoutMs: number;
  /** Endpoint and token to probe; the token may only be known once the server wrote it. */
  readonly probeEndpoint: Endpoint;
  readonly token: () => Promise<string>;
  /** A cheap call proving the server answers (default: AddRules with no rules). */
  readonly probe?: (rules: RulesClient, signal: AbortSignal) => Promise<unknown>;
}

export async function startServerProcess(spec: ServerProcessSpec): Promise<{ child: Child; token: string }> {
  const child = spawnNode(spec.args, spec.logFile, REPO_ROOT);
  let token = '';
  const probe = spec.probe ?? ((rules, signal) => rules.addRules({ rules: [] }, { signal }));
  try {
    await waitUntil(
      child,
      spec.what,
      async () => {
        if (token === '') token = await spec.token();
        // A fresh channel per attempt: one channel backs off between reconnects.
        const client = openRulesClient(spec.probeEndpoint, token);
        try {
          await probe(client.rules, AbortSignal.timeout(2_000));
          return true;
        } finally {
          client.close();
        }
      },
      spec.readyTimeoutMs,
    );
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { child, token };
}
