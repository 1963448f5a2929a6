// Outages on real daemons: a node killed with kill -9 while 10,000 rules are added
// and deleted elsewhere, and a node frozen with SIGSTOP (a partition: its sockets stay
// open but nothing answers). After restart / SIGCONT the digest exchange brings both
// to the same full state: no rule lost, no deleted rule back.
import test from 'ava';
import { Policy } from '../../src/generated/couic/v1/entry.js';
import { fullState, startCluster, type ClusterNode } from '../helpers/cluster.js';
import { dropSpec, eventually, ignoreSpec, v4Hosts } from '../helpers/rules.js';

const CONVERGE_MS = 90_000;

function pair(map: Map<string, ClusterNode>, a: string, b: string): [ClusterNode, ClusterNode] {
  const x = map.get(a);
  const y = map.get(b);
  if (x === undefined || y === undefined) throw new Error('cluster not started');
  return [x, y];
}

async function sameState(a: ClusterNode, b: ClusterNode): Promise<{ ok: boolean; sizes: number[]; state: string[] }> {
  const [sa, sb] = await Promise.all([fullState(a.clients), fullState(b.clients)]);
  return { ok: JSON.stringify(sa) === JSON.stringify(sb), sizes: [sa.length, sb.length], state: sa };
}

test('a node killed with kill -9 while 10,000 rules are added and deleted elsewhere converges after restart', async (t) => {
  const map = await startCluster(t, { names: ['kill-a', 'kill-b'], links: [['kill-a', 'kill-b'], ['kill-b', 'kill-a']] });
  const [a, b] = pair(map, 'kill-a', 'kill-b');

  // Some state both hold before the crash.
  const before = v4Hosts(1000, 20);
  await a.clients.rules.addRules({ rules: before.map((cidr) => dropSpec(cidr, { tag: 'before' })) });
  t.true(await eventually(async () => (await sameState(a, b)).sizes[1] === 1000, CONVERGE_MS), 'initial state never replicated');

  await b.daemon.kill();
  const added = v4Hosts(10_000, 30);
  for (let i = 0; i < added.length; i += 2_000) {
    await a.clients.rules.addRules({ rules: added.slice(i, i + 2_000).map((cidr) => dropSpec(cidr, { tag: 'during' })) });
  }
  // Deletes of rules b already had (they must not come back) and of rules b never saw.
  await a.clients.rules.deleteRules({ keys: before.slice(0, 400).map((cidr) => ({ policy: Policy.POLICY_DROP, cidr })) });
  await a.clients.rules.deleteRules({ keys: added.slice(0, 3_000).map((cidr) => ({ policy: Policy.POLICY_DROP, cidr })) });

  await b.daemon.restart();
  let last = { ok: false, sizes: [0, 0], state: [] as string[] };
  t.true(
    await eventually(async () => {
      last = await sameState(a, b);
      return last.ok;
    }, CONVERGE_MS, 500),
    `not converged: sizes ${last.sizes.join(' vs ')}`,
  );
  t.is(last.state.length, 600 + 7_000);
  t.false(last.state.some((s) => s.startsWith(`drop ${before[0]} `)), 'a deleted rule came back');
  t.true(last.state.includes(`drop ${added[9_999]} tag=during exp=0 origin=kill-a`));
  // The reconnect went through a digest exchange (logged by the mesh as connected again).
  t.true(await b.daemon.waitForOutput(/peer link connected|inbound peer link connected/, CONVERGE_MS));
});

test('a peer frozen with SIGSTOP converges after SIGCONT', async (t) => {
  const map = await startCluster(t, { names: ['stop-a', 'stop-b'], links: [['stop-a', 'stop-b'], ['stop-b', 'stop-a']] });
  const [a, b] = pair(map, 'stop-a', 'stop-b');
  await b.clients.rules.addRules({ rules: v4Hosts(500, 40).map((cidr) => ignoreSpec(cidr, { tag: 'from-b' })) });
  t.true(await eventually(async () => (await sameState(a, b)).sizes[0] === 500, CONVERGE_MS), 'initial state never replicated');

  const pid = b.daemon.process.pid;
  if (pid === undefined) return t.fail('no pid');
  process.kill(pid, 'SIGSTOP');
  try {
    // The healthy side notices (keepalive) instead of holding a dead stream.
    t.true(await a.daemon.waitForOutput(/"state":"backoff".*"msg":"peer link down"|inbound peer link ended/, 30_000), 'frozen peer not detected');
    await a.clients.rules.addRules({ rules: v4Hosts(2_000, 41).map((cidr) => dropSpec(cidr, { tag: 'while-frozen' })) });
    await a.clients.rules.deleteRules({ keys: v4Hosts(100, 40).map((cidr) => ({ policy: Policy.POLICY_IGNORE, cidr })) });
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  let last = { ok: false, sizes: [0, 0], state: [] as string[] };
  t.true(
    await eventually(async () => {
      last = await sameState(a, b);
      return last.ok;
    }, CONVERGE_MS, 500),
    `not converged: sizes ${last.sizes.join(' vs ')}`,
  );
  t.is(last.state.length, 400 + 2_000);
});
