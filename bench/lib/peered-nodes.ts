// Starts N couic daemons peered over mTLS for the replication benchmarks: one cluster
// CA and certificate per node, a TLS listener each, and for every link "from -> to" a
// `peering` client written into `to`'s client directory before it starts (with the
// default admin client, which is then not generated). Nodes start in reverse order,
// so every peer a node dials already listens.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeCertificates } from '../../src/pki/make-certificates.js';
import { createCouicClients, type CouicClients } from '../../src/cli/connection.js';
import { startDaemon, type BenchDaemon, type DaemonOptions } from './daemon.js';
import { freeLoopbackPort } from './ports.js';

export interface PeeredNode {
  readonly name: string;
  readonly daemon: BenchDaemon;
  /** Every couic service over the node's Unix socket (admin token). */
  readonly api: CouicClients;
  readonly port: number;
}

export interface PeeredNodesOptions {
  readonly names: readonly string[];
  /** Directed links [from, to]: `from` dials `to` (one stream per pair is enough). */
  readonly links: readonly (readonly [string, string])[];
  /** Lines inside [peering] (e.g. "flush_interval_ms = 250"). */
  readonly peeringExtra?: string;
  /** Nodes not started (yet): their port and clients are reserved, so others dial them in vain. */
  readonly absent?: readonly string[];
  readonly daemon?: Pick<DaemonOptions, 'logLevel' | 'cpuProfDir' | 'inspect'>;
}

export interface PeeredCluster {
  readonly nodes: Map<string, PeeredNode>;
  node(name: string): PeeredNode;
  /** Starts a node listed in `absent` (or stopped), with the same config and working dir. */
  start(name: string): Promise<PeeredNode>;
  stopNode(name: string): Promise<void>;
  stop(): Promise<void>;
}

interface NodePlan {
  readonly name: string;
  readonly port: number;
  readonly adminToken: string;
  /** Tokens of the peering clients this node accepts, by dialler. */
  readonly inbound: Map<string, string>;
  readonly outbound: string[];
}

export async function startPeeredNodes(dir: string, options: PeeredNodesOptions): Promise<PeeredCluster> {
  const certDir = join(dir, 'certs');
  const written = await makeCertificates({ outDir: certDir, nodes: options.names, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validDays: 2, caValidDays: 2 });
  const ca = written.find((c) => c.kind === 'ca');
  if (ca === undefined) throw new Error('bench: no CA written');
  const caPem = await readFile(ca.certPath);
  const plans = new Map<string, NodePlan>();
  for (const name of options.names) {
    plans.set(name, { name, port: await freeLoopbackPort(), adminToken: randomUUID(), inbound: new Map(), outbound: [] });
  }
  const plan = (name: string): NodePlan => {
    const p = plans.get(name);
    if (p === undefined) throw new Error(`bench: unknown node ${name}`);
    return p;
  };
  for (const [from, to] of options.links) {
    plan(to).inbound.set(from, randomUUID());
    plan(from).outbound.push(to);
  }
  const nodes = new Map<string, PeeredNode>();

  const start = async (name: string): Promise<PeeredNode> => {
    const p = plan(name);
    const cert = written.find((c) => c.kind === 'node' && c.name === name);
    if (cert === undefined) throw new Error(`bench: no certificate for ${name}`);
    const clientsDir = join(dir, name, 'wd', 'rbac', 'clients');
    await mkdir(clientsDir, { recursive: true, mode: 0o700 });
    const clientFile = (client: string, group: string, token: string) =>
      writeFile(join(clientsDir, `${client}.toml`), `name = "${client}"\ngroup = "${group}"\ntoken = "${token}"\n`, { mode: 0o600 });
    await clientFile('couicctl', 'admin', p.adminToken);
    for (const [from, token] of p.inbound) await clientFile(from, 'peering', token);
    const peering = ['[peering]', 'enabled = true', options.peeringExtra ?? ''];
    for (const to of p.outbound) {
      const token = plan(to).inbound.get(name) ?? '';
      peering.push('', '[[peering.peers]]', 'host = "localhost"', `port = ${plan(to).port}`, 'tls = true', `token = "${token}"`);
    }
    const daemon = await startDaemon(dir, {
      ...options.daemon,
      name,
      port: p.port,
      nodeId: name,
      tls: { caPath: ca.certPath, caPem, certPath: cert.certPath, keyPath: cert.keyPath, serverName: 'localhost' },
      configExtra: peering.join('\n'),
    });
    const api = createCouicClients({
      target: `unix:${daemon.socketPath}`,
      token: daemon.token,
      channelOptions: { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 },
    });
    const node: PeeredNode = { name, daemon, api, port: p.port };
    nodes.set(name, node);
    return node;
  };

  const stopNode = async (name: string): Promise<void> => {
    const node = nodes.get(name);
    if (node === undefined) return;
    nodes.delete(name);
    node.api.close();
    await node.daemon.stop();
  };

  const absent = new Set(options.absent ?? []);
  try {
    for (const name of [...options.names].reverse()) if (!absent.has(name)) await start(name);
  } catch (error) {
    for (const name of [...nodes.keys()]) await stopNode(name);
    throw error;
  }
  return {
    nodes,
    node(name) {
      const node = nodes.get(name);
      if (node === undefined) throw new Error(`bench: node ${name} is not running`);
      return node;
    },
    start,
    stopNode,
    async stop() {
      for (const name of [...nodes.keys()]) await stopNode(name);
    },
  };
}

/** Polls `probe` every 50 ms until true; throws after `timeoutMs`. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`bench: ${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
