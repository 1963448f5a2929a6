// NATS bus replication between real daemons (bin/couic.js with [bus]) and a real
// nats-server: publisher + consumers, consume-only, a late node reading 10,000
// rules from the stream, NATS killed mid-stream, a 3-server cluster losing one
// server, TLS and user/password to NATS, and the error shown for bad credentials.
import test from 'ava';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectUnix, type CouicClients } from '../helpers/clients.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { eventually, natsClient, startNats, startNatsCluster } from '../helpers/nats.js';
import { makeTempDir } from '../helpers/tmp.js';
import type { ExecutionContext } from 'ava';
import { Policy } from '../../src/generated/couic/v1/entry.js';

interface BusNode {
  readonly daemon: Daemon;
  readonly api: CouicClients;
}

interface BusConfig {
  readonly servers: readonly string[];
  readonly publish?: boolean;
  readonly consume?: boolean;
  readonly extra?: string;
}

function busToml(bus: BusConfig): string {
  const lines = ['[bus]', `servers = ${JSON.stringify(bus.servers)}`];
  if (bus.publish !== undefined) lines.push(`publish = ${String(bus.publish)}`);
  if (bus.consume !== undefined) lines.push(`consume = ${String(bus.consume)}`);
  if (bus.extra !== undefined) lines.push(bus.extra);
  return lines.join('\n');
}

async function busNode(t: ExecutionContext, nodeId: string, bus: BusConfig, metrics = false): Promise<BusNode> {
  const daemon = await startDaemon(t, { nodeId, configExtra: busToml(bus), metrics });
  return { daemon, api: connectUnix(t, daemon.socketPath, daemon.adminToken) };
}

const hostCidr = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`;
const drop = (cidr: string, tag = 'bus') => ({ policy: Policy.POLICY_DROP, cidr, tag, expiration: 0 });

async function addMany(api: CouicClients, from: number, count: number, tag = 'bus'): Promise<void> {
  for (let i = from; i < from + count; i += 5_000) {
    const n = Math.min(5_000, from + count - i);
    await api.rules.addRules({ rules: Array.from({ length: n }, (_, k) => drop(hostCidr(i + k), tag)) });
  }
}

async function dynamicRules(api: CouicClients): Promise<string[]> {
  const out: string[] = [];
  for await (const page of api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: false })) {
    for (const e of page.entries) out.push(`${e.policy} ${e.cidr} ${e.tag}`);
  }
  return out.sort();
}

async function dropCount(api: CouicClients): Promise<number> {
  return Number((await api.stats.getGlobalStats({})).dropCidrCount);
}

async function converge(t: ExecutionContext, nodes: readonly BusNode[], count: number, timeoutMs = 60_000): Promise<void> {
  const ok = await eventually(async () => {
    for (const n of nodes) if ((await dynamicRules(n.api)).length !== count) return false;
    return true;
  }, timeoutMs, 200);
  const sizes = await Promise.all(nodes.map(async (n) => (await dynamicRules(n.api)).length));
  t.true(ok, `expected ${count} rules everywhere, got ${sizes.join(', ')}`);
}

/** Node ids of whoever published each message of the stream. */
async function publishersInStream(t: ExecutionContext, servers: readonly string[]): Promise<Set<string>> {
  const nc = await natsClient(t, servers);
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info('couic_rules');
  const nodes = new Set<string>();
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage('couic_rules', { seq });
    nodes.add(msg?.header.get('Couic-Node') ?? '?');
  }
  return nodes;
}

test('one publisher and two consumers converge (adds, deletes); consume-only nodes never publish; static sets stay local', async (t) => {
  const nats = await startNats(t);
  const a = await busNode(t, 'node-a', { servers: [nats.url] });
  const b = await busNode(t, 'node-b', { servers: [nats.url], publish: false });
  const c = await busNode(t, 'node-c', { servers: [nats.url], publish: false });
  await a.api.sets.createSet({ policy: Policy.POLICY_DROP, name: 'local', cidrs: ['203.0.113.0/24'] });
  await addMany(a.api, 0, 300);
  await a.api.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: hostCidr(7) });
  await a.api.rules.addRule({ rule: { policy: Policy.POLICY_IGNORE, cidr: '10.0.0.1/32', tag: 'allow', expiration: 0 } });
  // A consume-only node's own rules stay on it.
  await c.api.rules.addRule({ rule: drop('198.51.100.0/24', 'c-only') });
  await converge(t, [a, b], 300);
  const onA = await dynamicRules(a.api);
  // The count alone can match early (300 adds seen, the delete and the ignore add not yet): wait for the same rules.
  await eventually(async () => JSON.stringify(await dynamicRules(b.api)) === JSON.stringify(onA), 30_000, 200);
  t.deepEqual(await dynamicRules(b.api), onA);
  t.true(await eventually(async () => (await dynamicRules(c.api)).length === 301, 30_000, 200));
  t.true(onA.includes(`${Policy.POLICY_IGNORE} 10.0.0.1/32 allow`), 'the policy travels with the rule');
  t.false(onA.some((r) => r.includes('198.51.100.0/24')), 'consume-only rule not on the publisher');
  t.false((await dynamicRules(b.api)).some((r) => r.includes('198.51.100.0/24')));
  t.false((await dynamicRules(b.api)).some((r) => r.includes(hostCidr(7))), 'the delete arrived');
  // The set entry is enforced on A only.
  const onB = await b.api.rules.checkAddress({ address: '203.0.113.9' });
  const onAcheck = await a.api.rules.checkAddress({ address: '203.0.113.9' });
  t.not(JSON.stringify(onAcheck), JSON.stringify(onB));
  t.deepEqual([...(await publishersInStream(t, [nats.url]))], ['node-a']);
  t.true(await a.daemon.waitForOutput(/"msg":"bus: connected"/, 5_000));
});

test('a node started after 10,000 rules were published converges from the stored state', async (t) => {
  const nats = await startNats(t);
  const a = await busNode(t, 'node-a', { servers: [nats.url], consume: false });
  await addMany(a.api, 0, 10_000, 'late');
  // Wait until everything is in the stream (the publisher's backlog is empty).
  const nc = await natsClient(t, nats.url);
  const jsm = await jetstreamManager(nc);
  t.true(await eventually(async () => (await jsm.streams.info('couic_rules').catch(() => undefined))?.state.messages !== undefined, 20_000));
  const late = await busNode(t, 'node-late', { servers: [nats.url], publish: false });
  await converge(t, [late], 10_000, 90_000);
  t.deepEqual(await dynamicRules(late.api), await dynamicRules(a.api));
  // Restart: resumes from its cursor and still holds everything (journal + bus).
  await late.daemon.restart();
  await a.api.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: hostCidr(1) });
  await converge(t, [late], 9_999, 60_000);
});

test('nats-server killed and restarted mid-stream: nothing lost', async (t) => {
  const nats = await startNats(t);
  const a = await busNode(t, 'node-a', { servers: [nats.url] });
  const b = await busNode(t, 'node-b', { servers: [nats.url] });
  t.true(await b.daemon.waitForOutput(/"msg":"bus: connected"/, 20_000));
  const writer = (async () => {
    for (let i = 0; i < 40; i++) {
      await addMany(a.api, i * 100, 100, 'mid');
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  await eventually(async () => (await dropCount(b.api)) > 0, 20_000);
  await nats.kill();
  // Local writes keep working while NATS is down, on both sides.
  await b.api.rules.addRule({ rule: drop('192.0.2.0/24', 'from-b') });
  await writer;
  t.true(await a.daemon.waitForOutput(/"msg":"NATS (connection lost|session failed)"/, 20_000));
  await nats.start();
  await converge(t, [a, b], 4_001, 90_000);
  t.deepEqual(await dynamicRules(a.api), await dynamicRules(b.api));
});

test('a 3-server NATS cluster keeps replicating with one server killed', async (t) => {
  const cluster = await startNatsCluster(t, 3);
  const servers = cluster.urls;
  const a = await busNode(t, 'node-a', { servers, extra: 'replicas = 3' });
  const b = await busNode(t, 'node-b', { servers, publish: false });
  await addMany(a.api, 0, 500, 'c1');
  await converge(t, [a, b], 500, 90_000);
  await cluster.servers[0]?.kill();
  await addMany(a.api, 500, 500, 'c2');
  await converge(t, [a, b], 1_000, 120_000);
  // A node started now reads the whole state from the two remaining servers.
  const late = await busNode(t, 'node-late', { servers, publish: false });
  await converge(t, [late], 1_000, 120_000);
});

test('TLS and user/password to NATS; wrong credentials are named in the log and the status', async (t) => {
  const dir = await makeTempDir(t, 'couic-nats-tls-');
  const certs: TestCerts = await makeTestCerts(dir, 'nats test CA');
  const nats = await startNats(t, { tls: certs, user: { user: 'couic', password: 'right-pass' } });
  const auth = (password: string): string =>
    [`ca = ${JSON.stringify(certs.caPath)}`, 'user = "couic"', `password = ${JSON.stringify(password)}`].join('\n');
  const a = await busNode(t, 'node-a', { servers: [nats.url], extra: auth('right-pass') });
  const b = await busNode(t, 'node-b', { servers: [nats.url], publish: false, extra: auth('right-pass') });
  await addMany(a.api, 0, 50, 'tls');
  await converge(t, [a, b], 50);

  const bad = await busNode(t, 'node-bad', { servers: [nats.url], extra: auth('wrong-pass') }, true);
  t.true(await bad.daemon.waitForOutput(/NATS refused the credentials \(.*Authorization Violation.*\): check \[bus\] user\/password, token or creds/i, 20_000));
  // The daemon keeps serving its API; the bus shows as down with a backlog.
  await bad.api.rules.addRule({ rule: drop('192.0.2.0/24', 'stuck') });
  const metricsUrl = bad.daemon.metricsUrl ?? '';
  const scrape = async (): Promise<string> =>
    (await fetch(metricsUrl, { headers: { authorization: `Bearer ${bad.daemon.adminToken}` } })).text();
  t.true(
    await eventually(async () => /couic_replication_pending_deltas\{[^}]*kind="bus"[^}]*\} 1\b/.test(await scrape()), 10_000, 200),
    'pending bus delta in metrics',
  );
  t.regex(await scrape(), /couic_replication_peer_connected\{[^}]*kind="bus"[^}]*\} 0/);

  // No CA for a TLS server: a TLS error naming [bus] ca.
  const noCa = await busNode(t, 'node-noca', { servers: [nats.url], extra: 'tls = true\nuser = "couic"\npassword = "right-pass"' });
  t.true(await noCa.daemon.waitForOutput(/TLS with NATS at .* failed .*check \[bus\] ca, cert and key/, 20_000));
});
