// Starts N couic daemons peered over mTLS for the replication benchmarks, with the test
// kit's pieces (cluster CA and node certificates, the [peering] block, clients, the
// daemon launcher). Unlike the kit's startCluster (which adds peering clients with the
// real CLI and restarts every node), each node's port is fixed and every link's
// `peering` client file is written before the node starts, so nodes start once, in
// reverse order (every peer a node dials already listens), and a node can be left
// absent (its peers dial it in vain) and started later on the same port.
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatClientFile } from '../../src/rbac/client-file.js';
import type { Group } from '../../src/rbac/permissions.js';
import { openClients, unixEndpoint, type CouicClients } from '../../test/helpers/clients.js';
import { makeClusterCerts, peeringBlock, type ClusterOptions } from '../../test/helpers/cluster.js';
import { freePort } from '../../test/helpers/daemon.js';
import { startDaemon, type BenchDaemon, type DaemonOptions } from './daemon.js';

export { waitUntil } from '../../test/helpers/wait.js';

export interface PeeredNode {
  readonly name: string;
  readonly daemon: BenchDaemon;
  /** Every couic service over the node's Unix socket (admin token). */
  readonly api: CouicClients;
  readonly port: number;
}

/** Names, directed links [from, to] (`from` dials `to`) and [peering] lines, as the kit's startCluster takes them. */
export interface PeeredNodesOptions extends Pick<ClusterOptions, 'names' | 'links' | 'peeringExtra'> {
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
  /** Told to its peers before it starts (and reserved while it is absent): picked in advance. */
  readonly port: number;
  readonly adminToken: string;
  /** Tokens of the peering clients this node accepts, by dialler. */
  readonly inbound: Map<string, string>;
  readonly outbound: string[];
}

export async function startPeeredNodes(dir: string, options: PeeredNodesOptions): Promise<PeeredCluster> {
  const certs = await makeClusterCerts(join(dir, 'certs'), options.names);
  const plans = new Map<string, NodePlan>();
  for (const name of options.names) plans.set(name, { port: await freePort(), adminToken: randomUUID(), inbound: new Map(), outbound: [] });
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
    const clientsDir = join(dir, name, 'wd', 'rbac', 'clients');
    await mkdir(clientsDir, { recursive: true, mode: 0o700 });
    const clientFile = (client: string, group: Group, token: string): Promise<void> =>
      writeFile(join(clientsDir, `${client}.toml`), formatClientFile({ name: client, group, token }), { mode: 0o600 });
    await clientFile('couicctl', 'admin', p.adminToken);
    for (const [from, token] of p.inbound) await clientFile(from, 'peering', token);
    const peers = p.outbound.map((to) => ({ host: 'localhost', port: plan(to).port, token: plan(to).inbound.get(name) ?? '' }));
    const daemon = await startDaemon(dir, {
      ...options.daemon,
      name,
      port: p.port,
      nodeId: name,
      tls: certs.get(name) ?? missing(`no certificate for ${name}`),
      configExtra: peeringBlock(peers, options.peeringExtra ?? ''),
    });
    const node: PeeredNode = { name, daemon, api: openClients(unixEndpoint(daemon.socketPath), daemon.token), port: p.port };
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
    node: (name) => nodes.get(name) ?? missing(`bench: node ${name} is not running`),
    start,
    stopNode,
    async stop() {
      for (const name of [...nodes.keys()]) await stopNode(name);
    },
  };
}

function missing(message: string): never {
  throw new Error(message);
}
