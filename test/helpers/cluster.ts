// Starts N peered couic daemons on loopback the way an operator would (the reference
// walkthrough): every node gets a certificate from one fresh cluster CA and a TLS
// listener; for each link A -> B, a `peering` client named after A is created on B
// with the real `couicctl clients add -n A -g peering`, its token goes into A's
// `[[peering.peers]]`, and every node is restarted with `[peering] enabled = true`.
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { makeCertificates } from '../../src/pki/make-certificates.js';
import { pemPaths, readPem } from '../../src/pki/pem-files.js';
import type { PemPair } from '../../src/pki/pem-pair.js';
import { runCli } from './cli.js';
import { Policy, type Entry } from '../../src/generated/couic/v1/entry.js';
import { collect, connectUnix, type CouicClients } from './clients.js';
import type { TestCerts } from './certs.js';
import { startDaemon, type Daemon, type StartDaemonOptions } from './daemon.js';
import { makeTempDir, type Scope } from './tmp.js';

export interface ClusterNode {
  readonly name: string;
  readonly daemon: Daemon;
  readonly clients: CouicClients;
  readonly certs: TestCerts;
}

export interface ClusterOptions {
  /** Node names (also their node ids), e.g. ["node1", "node2"]. */
  readonly names: readonly string[];
  /** Directed links [from, to]: `from` lists `to` in its [[peering.peers]]. */
  readonly links: readonly (readonly [string, string])[];
  /** Extra keys inside [peering] (e.g. "reconnect_max_ms = 2000"). */
  readonly peeringExtra?: string;
  /** Passed to every startDaemon (configExtra must not contain [peering]). */
  readonly daemon?: Omit<StartDaemonOptions, 'tls' | 'mtls' | 'certs' | 'nodeId'>;
  /** `[server] mtls` on every node (ordinary API clients then need certificates too). */
  readonly mtls?: boolean;
}

/** Fast reconnects and flushes for tests (the defaults are 30 s and 250 ms). */
export const TEST_PEERING_EXTRA = 'reconnect_max_ms = 2000';

/** A cluster CA with one node certificate (serverAuth + clientAuth, SANs localhost, 127.0.0.1) per name. */
export async function makeClusterCerts(dir: string, names: readonly string[]): Promise<Map<string, TestCerts>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await makeCertificates({ outDir: dir, nodes: names, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validDays: 1, caValidDays: 2 });
  const ca = await mustRead(dir, 'ca');
  const out = new Map<string, TestCerts>();
  for (const name of names) {
    const pair = await mustRead(dir, name);
    const paths = pemPaths(dir, name);
    const caPaths = pemPaths(dir, 'ca');
    out.set(name, {
      ca,
      server: pair,
      client: pair,
      caPath: caPaths.certPath,
      serverCertPath: paths.certPath,
      serverKeyPath: paths.keyPath,
      clientCertPath: paths.certPath,
      clientKeyPath: paths.keyPath,
    });
  }
  return out;
}

async function mustRead(dir: string, name: string): Promise<PemPair> {
  const pem = await readPem(dir, name);
  if (pem === undefined) throw new Error(`no ${name}.pem in ${dir}`);
  return pem;
}

/**
 * Creates `client` in group `group` on `daemon` with the real CLI, exactly as in the
 * walkthrough (`couicctl clients add -n NAME -g GROUP`), and reads the token from its table.
 */
export async function addClientWithCli(daemon: Daemon, client: string, group: string): Promise<{ token: string; stdout: string }> {
  const result = await runCli(daemon, ['clients', 'add', '-n', client, '-g', group]);
  if (result.code !== 0) throw new Error(`couicctl clients add -n ${client} -g ${group} failed (${result.code}): ${result.stderr}`);
  const token = /\b[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\b/.exec(result.stdout)?.[0];
  if (token === undefined) throw new Error(`no token in couicctl output: ${result.stdout}`);
  return { token, stdout: result.stdout };
}

export function peeringBlock(peers: readonly { host: string; port: number; token: string }[], extra = TEST_PEERING_EXTRA): string {
  const lines = ['', '[peering]', 'enabled = true', extra];
  for (const p of peers) {
    lines.push('', '[[peering.peers]]', `host = ${JSON.stringify(p.host)}`, `port = ${p.port}`, 'tls = true', `token = ${JSON.stringify(p.token)}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function startCluster(t: Scope, options: ClusterOptions): Promise<Map<string, ClusterNode>> {
  const dir = await makeTempDir(t, 'couic-c-');
  const certs = await makeClusterCerts(join(dir, 'certs'), options.names);
  const daemons = await Promise.all(
    options.names.map((name) =>
      startDaemon(t, { ...options.daemon, tls: true, mtls: options.mtls === true, certs: certs.get(name), nodeId: name }),
    ),
  );
  const byName = new Map(options.names.map((name, i) => [name, daemons[i] as Daemon]));
  const node = (name: string): Daemon => {
    const d = byName.get(name);
    if (d === undefined) throw new Error(`unknown node ${name}`);
    return d;
  };
  const peersOf = new Map<string, { host: string; port: number; token: string }[]>(options.names.map((n) => [n, []]));
  for (const [from, to] of options.links) {
    const { token } = await addClientWithCli(node(to), from, 'peering');
    const listen = node(to).listen;
    if (listen === undefined) throw new Error(`${to} has no TLS listener`);
    peersOf.get(from)?.push({ host: 'localhost', port: listen.port, token });
  }
  await Promise.all(
    options.names.map(async (name) => {
      await appendFile(node(name).configPath, peeringBlock(peersOf.get(name) ?? [], options.peeringExtra ?? TEST_PEERING_EXTRA));
      await node(name).restart();
    }),
  );
  const out = new Map<string, ClusterNode>();
  for (const name of options.names) {
    const daemon = node(name);
    const nodeCerts = certs.get(name);
    if (nodeCerts === undefined) throw new Error(`no certificates for ${name}`);
    out.set(name, { name, daemon, certs: nodeCerts, clients: connectUnix(t, daemon.socketPath, daemon.adminToken) });
  }
  return out;
}

/** Every dynamic rule of a node, as comparable text, sorted. */
export async function fullState(clients: CouicClients): Promise<string[]> {
  const entries: Entry[] = await collect(clients.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: false }));
  return entries.map((e) => `${e.policy === Policy.POLICY_IGNORE ? 'ignore' : 'drop'} ${e.cidr} tag=${e.tag} exp=${e.expiration} origin=${e.originNode}`).sort();
}

