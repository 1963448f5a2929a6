// couic-dnsdist with the real dnsdist 1.7.3 from Debian and real DNS queries on
// loopback: two dnsdist instances answering every query themselves, each with its
// couic node (peered over mTLS) and its bridge. Waits are event waits (the dnsdist
// console, couic's API, DNS answers, polled with bounded retries), never sleeps
// standing in for an assertion.
import test from 'ava';
import { addClientWithCli, startCluster, type ClusterNode } from '../helpers/cluster.js';
import { collect, connectUnix } from '../helpers/clients.js';
import { startDaemon } from '../helpers/daemon.js';
import { startNats } from '../helpers/nats.js';
import { dnsdistMissing, flood, query, startBridge, startDnsdist, type Dnsdist } from '../helpers/dnsdist.js';
import { dropSpec, eventually, ignoreSpec, nowSeconds, Policy } from '../helpers/rules.js';
import type { CouicClients } from '../helpers/clients.js';
import type { Entry } from '../../src/generated/couic/v1/entry.js';

const RATE = { qps: 20, seconds: 2, reason: 'Exceeded query rate', blockSeconds: 60 };
const WAIT_MS = 30_000;

test.before(() => {
  const missing = dnsdistMissing();
  if (missing !== undefined) throw new Error(missing);
});

async function dynamicRules(clients: CouicClients): Promise<Entry[]> {
  return collect(clients.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: false }));
}

/** What dnsdist should hold for couic's rules: host drops (not ignored) and the netmask rule's masks. */
async function expectedFromCouic(clients: CouicClients): Promise<{ hosts: string[]; masks: string[] }> {
  const { computeDesiredBlocks } = await import('../../src/dnsdist/desired-blocks.js');
  const now = nowSeconds();
  const rules = (await dynamicRules(clients)).map((e) => ({
    policy: e.policy === Policy.POLICY_IGNORE ? ('ignore' as const) : ('drop' as const),
    cidr: e.cidr,
    tag: e.tag,
    expiration: e.expiration,
  }));
  const desired = computeDesiredBlocks(rules, now);
  return { hosts: [...desired.hosts.keys()].sort(), masks: [...desired.netmasks].sort() };
}

/** What the dnsdist holds: every address block (the bridge's and its own) and the bridge's rule. */
async function heldByDnsdist(dnsdist: Dnsdist): Promise<{ hosts: string[]; masks: string[] }> {
  const hosts = (await dnsdist.dynBlocks()).filter((r) => r.kind === 'netmask').map((r) => r.what).sort();
  const rule = await dnsdist.netmaskRule();
  const masks = rule === '' ? [] : rule.replace(/^Src: /, '').split(', ').sort();
  return { hosts, masks };
}

/** Polls until the dnsdist holds exactly what couic's rules ask for (bounded). */
async function converged(dnsdist: Dnsdist, clients: CouicClients): Promise<{ ok: boolean; detail: string }> {
  let detail = '';
  const ok = await eventually(
    async () => {
      try {
        const [want, have] = await Promise.all([expectedFromCouic(clients), heldByDnsdist(dnsdist)]);
        detail = `couic wants ${JSON.stringify(want)}, dnsdist has ${JSON.stringify(have)}`;
        return JSON.stringify(want) === JSON.stringify(have);
      } catch (error) {
        detail = String(error);
        return false;
      }
    },
    WAIT_MS,
    200,
  );
  return { ok, detail };
}

async function answers(dnsPort: number, source: string, expected: string): Promise<boolean> {
  return eventually(async () => (await query(dnsPort, source, 'www.example.com', 500)) === expected, WAIT_MS, 200);
}

interface Site {
  readonly node: ClusterNode;
  readonly dnsdist: Dnsdist;
  readonly bridge: Awaited<ReturnType<typeof startBridge>>;
}

async function twoSites(t: import('ava').ExecutionContext): Promise<[Site, Site]> {
  const cluster = await startCluster(t, { names: ['dns1', 'dns2'], links: [['dns1', 'dns2']] });
  const sites: Site[] = [];
  for (const name of ['dns1', 'dns2']) {
    const node = cluster.get(name);
    if (node === undefined) throw new Error(name);
    const dnsdist = await startDnsdist(t, { rate: RATE });
    const { token } = await addClientWithCli(node.daemon, `bridge-${name}`, 'clientrw');
    // Bridge 1 uses the daemon's Unix socket, bridge 2 its TLS listener.
    const listen = node.daemon.listen;
    const endpoint =
      name === 'dns2' && listen !== undefined ? { couicTls: { port: listen.port, caPath: node.certs.caPath } } : { couicSocket: node.daemon.socketPath };
    const bridge = await startBridge(t, { dnsdist, ...endpoint, token, publish: true, consume: true });
    sites.push({ node, dnsdist, bridge });
  }
  return sites as [Site, Site];
}

test.serial('a query flood trips the rate rule on dnsdist 1; couic replicates it and dnsdist 2 refuses that source only', async (t) => {
  const [one, two] = await twoSites(t);
  t.is(await query(two.dnsdist.dnsPort, '127.0.0.2'), 'NOERROR', 'dnsdist 2 answers 127.0.0.2 before the flood');
  const before = nowSeconds();
  // Bounded load: 600 queries, well over 20 qps averaged on 2 s.
  await flood(one.dnsdist.dnsPort, '127.0.0.2', 600);
  t.true(
    await eventually(async () => (await one.dnsdist.dynBlocks()).some((r) => r.what === '127.0.0.2/32' && r.reason === RATE.reason), WAIT_MS, 200),
    'dnsdist 1 made its own block',
  );
  let published: Entry | undefined;
  t.true(
    await eventually(async () => {
      published = (await dynamicRules(one.node.clients)).find((e) => e.cidr === '127.0.0.2/32');
      return published !== undefined;
    }, WAIT_MS),
    'the block appears in couic 1',
  );
  t.is(published?.policy, Policy.POLICY_DROP);
  t.is(published?.tag, 'Exceeded_query_rate');
  t.is(published?.metadata?.detail, RATE.reason);
  const expiration = published?.expiration ?? 0;
  t.true(expiration >= before + RATE.blockSeconds - 3 && expiration <= nowSeconds() + RATE.blockSeconds + 1, `expiry ${expiration} is the block's end`);
  t.true(
    await eventually(async () => (await dynamicRules(two.node.clients)).some((e) => e.cidr === '127.0.0.2/32' && e.tag === 'Exceeded_query_rate'), WAIT_MS),
    'replicated to couic 2',
  );
  t.true(await answers(two.dnsdist.dnsPort, '127.0.0.2', 'REFUSED'), 'dnsdist 2 refuses 127.0.0.2');
  t.is(await query(two.dnsdist.dnsPort, '127.0.0.3'), 'NOERROR', '127.0.0.3 is still answered');
  const onTwo = (await two.dnsdist.dynBlocks()).find((r) => r.what === '127.0.0.2/32');
  t.is(onTwo?.reason, 'couic:Exceeded_query_rate');
  t.true((onTwo?.remainingSeconds ?? 0) <= RATE.blockSeconds && (onTwo?.remainingSeconds ?? 0) > RATE.blockSeconds - 15, 'with its remaining lifetime');
  // Bridge 2 does not publish back what it installed from couic: couic 2 still holds
  // the record that came from dns1.
  const onCouic2 = (await dynamicRules(two.node.clients)).find((e) => e.cidr === '127.0.0.2/32');
  t.is(onCouic2?.originNode, 'dns1');
});

test.serial('an ignore rule keeps a source answered under a covering drop; a delete lifts a block', async (t) => {
  const [one, two] = await twoSites(t);
  const exp = nowSeconds() + 600;
  // Ignores first: the Watch keeps couic's order, so once a drop is enforced the
  // ignores added before it have been applied too (the waits below rely on that).
  await one.node.clients.rules.addRules({ rules: [ignoreSpec('127.0.1.7/32'), ignoreSpec('127.0.2.8/30')] });
  await one.node.clients.rules.addRules({
    rules: [dropSpec('127.0.1.0/24', { expiration: exp, tag: 'wide' }), dropSpec('127.0.2.9/32', { tag: 'host' }), dropSpec('127.0.2.10/32', { tag: 'host' })],
  });
  for (const site of [one, two]) {
    const port = site.dnsdist.dnsPort;
    t.true(await answers(port, '127.0.1.6', 'REFUSED'), 'wide drop enforced through the netmask rule');
    t.is(await query(port, '127.0.1.7'), 'NOERROR', 'the ignore inside the wide drop is answered');
    t.is(await query(port, '127.0.2.9'), 'NOERROR', 'a host drop inside an ignore is never blocked');
    t.is(await query(port, '127.0.2.12'), 'NOERROR');
    t.true(await answers(port, '127.0.2.10', 'NOERROR'), '127.0.2.10 lies in the ignore 127.0.2.8/30 too');
    const blocks = await site.dnsdist.dynBlocks();
    t.false(blocks.some((r) => r.what === '127.0.2.9/32'), 'no dynamic block for an ignored address');
  }
  await one.node.clients.rules.addRules({ rules: [dropSpec('127.0.3.3/32', { tag: 'host' })] });
  t.true(await answers(two.dnsdist.dnsPort, '127.0.3.3', 'REFUSED'));
  await one.node.clients.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '127.0.3.3/32' });
  t.true(await answers(two.dnsdist.dnsPort, '127.0.3.3', 'NOERROR'), 'a delete on couic 1 lifts the block on dnsdist 2');
  for (const site of [one, two]) {
    const state = await converged(site.dnsdist, site.node.clients);
    t.true(state.ok, state.detail);
  }
});

test.serial('a consume-only bridge never publishes; a publish-only bridge never changes its dnsdist', async (t) => {
  const daemon = await startDaemon(t, { nodeId: 'solo' });
  const clients = connectUnix(t, daemon.socketPath, daemon.adminToken);
  const { token } = await addClientWithCli(daemon, 'bridges', 'clientrw');
  const consumer = await startDnsdist(t, { rate: RATE });
  const publisher = await startDnsdist(t, { rate: RATE });
  await startBridge(t, { dnsdist: consumer, couicSocket: daemon.socketPath, token, publish: false, consume: true });
  const publishOnly = await startBridge(t, { dnsdist: publisher, couicSocket: daemon.socketPath, token, publish: true, consume: false });
  await clients.rules.addRules({ rules: [dropSpec('127.0.4.4/32', { tag: 'admin' }), dropSpec('127.0.5.0/24', { tag: 'admin' })] });
  t.true(await answers(consumer.dnsPort, '127.0.4.4', 'REFUSED'), 'the consumer enforces couic rules');

  // The consumer's dnsdist makes its own block: it must not reach couic.
  await flood(consumer.dnsPort, '127.0.0.5', 600);
  t.true(await eventually(async () => (await consumer.dynBlocks()).some((r) => r.what === '127.0.0.5/32' && r.reason === RATE.reason), WAIT_MS, 200));
  // The publisher's dnsdist makes one too: once couic holds it, the publish-only bridge
  // has been running through several polls (and the consume-only one through as many batches).
  await flood(publisher.dnsPort, '127.0.0.6', 600);
  t.true(await eventually(async () => (await dynamicRules(clients)).some((e) => e.cidr === '127.0.0.6/32'), WAIT_MS), 'published by the publish-only bridge');
  t.true(await publishOnly.waitForOutput(/"type":"published"/, 1_000));
  await clients.rules.addRules({ rules: [dropSpec('127.0.4.5/32', { tag: 'admin' })] });
  t.true(await answers(consumer.dnsPort, '127.0.4.5', 'REFUSED'), 'the consumer is alive after its own block appeared');
  t.false((await dynamicRules(clients)).some((e) => e.cidr === '127.0.0.5/32'), 'the consume-only bridge published nothing');

  t.is(await query(publisher.dnsPort, '127.0.4.4'), 'NOERROR', 'couic rules never reach the publish-only dnsdist');
  t.is(await query(publisher.dnsPort, '127.0.5.5'), 'NOERROR');
  t.false((await publisher.dynBlocks()).some((r) => r.reason.startsWith('couic:')));
  t.is(await publisher.netmaskRule(), '');
});

test.serial('killing and restarting the bridge, dnsdist and couic in turn leaves every dnsdist with exactly couic\'s rules', async (t) => {
  const [one, two] = await twoSites(t);
  const add = (cidr: string, tag = 'chaos') => one.node.clients.rules.addRules({ rules: [dropSpec(cidr, { tag, expiration: nowSeconds() + 900 })] });
  await add('127.0.6.1/32');
  await add('127.0.6.2/32');
  await add('127.0.7.0/24');
  for (const site of [one, two]) {
    const state = await converged(site.dnsdist, site.node.clients);
    t.true(state.ok, `initial: ${state.detail}`);
  }

  // 1. The bridge dies (kill -9); couic changes meanwhile; it restarts from its saved cursor.
  t.true(await two.bridge.waitForOutput(/"type":"state-saved"/, WAIT_MS), 'the bridge saved its cursor');
  await two.bridge.kill();
  const killedAt = two.bridge.output().length;
  await one.node.clients.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '127.0.6.1/32' });
  await add('127.0.6.3/32');
  await one.node.clients.rules.addRules({ rules: [ignoreSpec('127.0.7.7/32')] });
  t.true(await eventually(async () => (await dynamicRules(two.node.clients)).some((e) => e.cidr === '127.0.6.3/32'), WAIT_MS), 'replicated while the bridge is down');
  await two.bridge.start();
  let state = await converged(two.dnsdist, two.node.clients);
  t.true(state.ok, `after the bridge restart: ${state.detail}`);
  t.regex(two.bridge.output().slice(killedAt), /"event":"watch-resumed"/, 'the restarted bridge resumed the Watch by cursor (no snapshot)');
  t.notRegex(two.bridge.output().slice(killedAt), /"event":"watch-snapshot"/);
  t.is(await query(two.dnsdist.dnsPort, '127.0.6.1'), 'NOERROR', 'the rule deleted while the bridge was down is lifted');
  t.is(await query(two.dnsdist.dnsPort, '127.0.6.3'), 'REFUSED');
  t.is(await query(two.dnsdist.dnsPort, '127.0.7.7'), 'NOERROR');

  // 2. dnsdist dies and comes back empty: the bridge reconnects and installs everything.
  await two.dnsdist.kill();
  await add('127.0.6.4/32');
  await two.dnsdist.restart();
  state = await converged(two.dnsdist, two.node.clients);
  t.true(state.ok, `after the dnsdist restart: ${state.detail}`);
  t.true(await answers(two.dnsdist.dnsPort, '127.0.6.4', 'REFUSED'));
  t.true(await answers(two.dnsdist.dnsPort, '127.0.7.1', 'REFUSED'));

  // 3. couic dies; rules change on the other node; it comes back (a new daemon run:
  // the bridge's cursor is reset, it takes a snapshot) and catches up by replication.
  await two.node.daemon.kill();
  await one.node.clients.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '127.0.6.2/32' });
  await add('127.0.6.5/32');
  await two.node.daemon.restart();
  t.true(
    await eventually(async () => {
      const rules = await dynamicRules(two.node.clients);
      return rules.some((e) => e.cidr === '127.0.6.5/32') && !rules.some((e) => e.cidr === '127.0.6.2/32');
    }, WAIT_MS),
    'couic 2 caught up',
  );
  state = await converged(two.dnsdist, two.node.clients);
  t.true(state.ok, `after the couic restart: ${state.detail}`);
  t.is(await query(two.dnsdist.dnsPort, '127.0.6.2'), 'NOERROR');
  t.is(await query(two.dnsdist.dnsPort, '127.0.6.5'), 'REFUSED');
  state = await converged(one.dnsdist, one.node.clients);
  t.true(state.ok, `dnsdist 1 too: ${state.detail}`);
});

test.serial('over the NATS bus: a flood on dnsdist 1 is published, carried by the bus and refused by dnsdist 2', async (t) => {
  const nats = await startNats(t);
  const sites: { dnsdist: Dnsdist; clients: CouicClients }[] = [];
  for (const name of ['bus1', 'bus2']) {
    const daemon = await startDaemon(t, { nodeId: name, configExtra: `[bus]\nservers = ${JSON.stringify([nats.url])}` });
    const clients = connectUnix(t, daemon.socketPath, daemon.adminToken);
    const dnsdist = await startDnsdist(t, { rate: RATE });
    const { token } = await addClientWithCli(daemon, 'bridge', 'clientrw');
    await startBridge(t, { dnsdist, couicSocket: daemon.socketPath, token, publish: true, consume: true });
    sites.push({ dnsdist, clients });
  }
  const [one, two] = sites as [(typeof sites)[0], (typeof sites)[0]];
  t.is(await query(two.dnsdist.dnsPort, '127.0.0.7'), 'NOERROR');
  await flood(one.dnsdist.dnsPort, '127.0.0.7', 600);
  t.true(
    await eventually(async () => (await dynamicRules(two.clients)).some((e) => e.cidr === '127.0.0.7/32' && e.tag === 'Exceeded_query_rate' && e.originNode === 'bus1'), WAIT_MS),
    'couic 2 learned the block over the bus',
  );
  t.true(await answers(two.dnsdist.dnsPort, '127.0.0.7', 'REFUSED'), 'dnsdist 2 refuses 127.0.0.7');
  t.is(await query(two.dnsdist.dnsPort, '127.0.0.3'), 'NOERROR');
});
