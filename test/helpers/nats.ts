// Starts real nats-server processes (Debian's, JetStream on) for the bus tests and
// benchmarks: one server or a 3-server cluster on loopback, store in a temp dir,
// optional TLS and user/password; always stopped at teardown. Client ports are bound
// by nats-server itself (port -1, the port read from its log); only cluster route
// ports are picked in advance, since every server's config must list its routes.
// kill() and start() let a test take a server down and bring it back on the same
// port and store.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as connectNats, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { OutputBuffer, stopChild, waitForLine } from './child.js';
import { exitInfo, freePort } from './daemon.js';
import type { TestCerts } from './certs.js';
import { makeTempDir, type Scope } from './tmp.js';

export const NATS_BIN = process.env['NATS_SERVER_BIN'] ?? 'nats-server';

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
/** nats-server's startup line naming its bound client address. */
const LISTENING = /Listening for client connections on [^\s]*:(\d+)/;

export interface NatsServerOptions {
  /** Serve TLS with these certificates (server cert for 127.0.0.1/localhost). */
  readonly tls?: TestCerts;
  /** Also require client certificates. */
  readonly verifyClients?: boolean;
  readonly user?: { readonly user: string; readonly password: string };
  /** JetStream file store limit (default 2GB). */
  readonly maxFileStore?: string;
}

export interface NatsServer {
  readonly name: string;
  readonly port: number;
  /** nats:// (or tls://) URL of this server. */
  readonly url: string;
  readonly storeDir: string;
  output(): string;
  running(): boolean;
  /** SIGKILL, then waits for exit. */
  kill(): Promise<void>;
  /** SIGTERM (clean shutdown), then waits for exit. */
  stop(): Promise<void>;
  /** Starts again on the same port, config and store; waits until it accepts connections. */
  start(): Promise<void>;
}

export interface NatsCluster {
  readonly servers: readonly NatsServer[];
  readonly urls: readonly string[];
}

interface ServerSpec {
  readonly name: string;
  readonly dir: string;
  readonly cluster?: { readonly port: number; readonly routes: readonly number[] };
  readonly options: NatsServerOptions;
}

const q = (value: string): string => JSON.stringify(value);

/** `port` -1: nats-server picks a free one (first start); later starts reuse the one it picked. */
function configText(spec: ServerSpec, port: number): string {
  const lines = [
    `server_name: ${q(spec.name)}`,
    'host: "127.0.0.1"',
    `port: ${port}`,
    `jetstream: { store_dir: ${q(join(spec.dir, spec.name, 'store'))}, max_memory_store: 64MB, max_file_store: ${spec.options.maxFileStore ?? '2GB'} }`,
  ];
  const tls = spec.options.tls;
  if (tls !== undefined) {
    lines.push(
      `tls: { cert_file: ${q(tls.serverCertPath)}, key_file: ${q(tls.serverKeyPath)}, ca_file: ${q(tls.caPath)}, verify: ${spec.options.verifyClients === true ? 'true' : 'false'}, timeout: 5 }`,
    );
  }
  const user = spec.options.user;
  if (user !== undefined) lines.push(`authorization: { user: ${q(user.user)}, password: ${q(user.password)} }`);
  if (spec.cluster !== undefined) {
    const routes = spec.cluster.routes.map((p) => q(`nats-route://127.0.0.1:${p}`)).join(', ');
    lines.push(`cluster: { name: "couic-test", host: "127.0.0.1", port: ${spec.cluster.port}, routes: [${routes}] }`);
  }
  return `${lines.join('\n')}\n`;
}

async function launchServer(t: Scope, spec: ServerSpec): Promise<NatsServer> {
  const configPath = join(spec.dir, `${spec.name}.conf`);
  let port = -1;
  let child: ChildProcess | undefined;
  const output = new OutputBuffer();
  const scheme = spec.options.tls !== undefined ? 'tls' : 'nats';

  const start = async (): Promise<void> => {
    await writeFile(configPath, configText(spec, port));
    const started = output.attach(spawn(NATS_BIN, ['-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'] }));
    child = started;
    // The line comes once the client listener is bound, so connections succeed from here.
    const listening = await waitForLine(started, LISTENING, START_TIMEOUT_MS).catch((error: unknown) => {
      throw new Error(`nats-server ${spec.name} did not start: ${String(error)}\n${output.toString()}`);
    });
    port = Number(listening[1]);
  };
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    if (child !== undefined) await stopChild(child, signal, STOP_TIMEOUT_MS);
  };
  t.teardown(async () => {
    await halt('SIGKILL');
    if (!t.passed) t.log(`nats-server ${spec.name} output (last lines):\n${output.toString().split('\n').slice(-30).join('\n')}`);
  });
  await start();
  return {
    name: spec.name,
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    storeDir: join(spec.dir, spec.name, 'store'),
    output: () => output.toString(),
    running: () => child !== undefined && exitInfo(child) === undefined,
    kill: () => halt('SIGKILL'),
    stop: () => halt('SIGTERM'),
    start,
  };
}

/** One nats-server with JetStream, on a loopback port it picks itself. */
export async function startNats(t: Scope, options: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = await makeTempDir(t, 'couic-nats-');
  return launchServer(t, { name: 'n1', dir, options });
}

/** `size` clustered nats-servers with JetStream (all routes known to all). */
export async function startNatsCluster(t: Scope, size = 3, options: NatsServerOptions = {}): Promise<NatsCluster> {
  const dir = await makeTempDir(t, 'couic-natsc-');
  // Route ports are in every server's config before any starts: picked in advance.
  const clusterPorts: number[] = [];
  for (let i = 0; i < size; i++) clusterPorts.push(await freePort());
  const servers = await Promise.all(
    clusterPorts.map((clusterPort, i) =>
      launchServer(t, {
        name: `n${i + 1}`,
        dir,
        cluster: { port: clusterPort, routes: clusterPorts.filter((_, j) => j !== i) },
        options,
      }),
    ),
  );
  return { servers, urls: servers.map((s) => s.url) };
}

/** A plain client connection for test setup and checks; closed at teardown. */
export async function natsClient(t: Scope, servers: string | readonly string[], options: NodeConnectionOptions = {}): Promise<NatsConnection> {
  const nc = await connectNats({ servers: typeof servers === 'string' ? servers : [...servers], ...options });
  t.teardown(() => nc.close().catch(() => undefined));
  return nc;
}

export { eventually } from './wait.js';
