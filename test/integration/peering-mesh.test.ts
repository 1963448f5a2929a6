// Topologies on real daemons: a 3-node chain where the ends are not peers (changes are
// relayed through the middle), and a 4-node full mesh where every node lists every
// other (one exchange per pair) with concurrent, conflicting adds and deletes of the
// same CIDRs on different nodes, converging to identical full rule lists everywhere.
import test from 'ava';
import { Policy } from '../../src/generated/couic/v1/entry.js';
import { statusOf } from '../helpers/clients.js';
import { fullState, startCluster, type ClusterNode } from '../helpers/cluster.js';
import { dropSpec, eventually, ignoreSpec, nowSeconds, v4Hosts } from '../helpers/rules.js';

const CONVERGE_MS = 60_000;

function nodesOf(map: Map<string, ClusterNode>, names: readonly string[]): ClusterNode[] {
  return names.map((n) => {
    const node = map.get(n);
    if (node === undefined) throw new Error(`no node ${n}`);
    return node;
  });
}

async function converged(nodes: readonly ClusterNode[]): Promise<{ ok: boolean; states: string[][] }> {
  const states = await Promise.all(nodes.map((n) => fullState(n.clients)));
  const first = JSON.stringify(states[0]);
  return { ok: states.every((s) => JSON.stringify(s) === first), states };
}

test('a 3-node chain relays changes between nodes that are not peers', async (t) => {
  const names = ['chain-a', 'chain-b', 'chain-c'];
  const map = await startCluster(t, { names, links: [['chain-a', 'chain-b'], ['chain-b', 'chain-c']] });
  const [a, b, c] = nodesOf(map, names) as [ClusterNode, ClusterNode, ClusterNode];
  const expiration = nowSeconds() + 3600;
  await a.clients.rules.addRules({ rules: v4Hosts(300, 10).map((cidr) => dropSpec(cidr, { tag: 'from-a', expiration })) });
  await c.clients.rules.addRule({ rule: ignoreSpec('192.0.2.0/24', { tag: 'from-c' }) });
  t.true(
    await eventually(async () => (await fullState(c.clients)).filter((s) => s.includes('tag=from-a')).length === 300, CONVERGE_MS),
    'a -> c through b',
  );
  t.true(
    await eventually(async () => (await fullState(a.clients)).some((s) => s === 'ignore 192.0.2.0/24 tag=from-c exp=0 origin=chain-c'), CONVERGE_MS),
    'c -> a through b',
  );
  // A delete on one end reaches the other end.
  await a.clients.rules.deleteRules({ keys: v4Hosts(100, 10).map((cidr) => ({ policy: Policy.POLICY_DROP, cidr })) });
  t.true(
    await eventually(async () => (await fullState(c.clients)).filter((s) => s.includes('tag=from-a')).length === 200, CONVERGE_MS),
    'deletes relayed',
  );
  t.true(await eventually(async () => (await converged([a, b, c])).ok, CONVERGE_MS));
  const state = await fullState(b.clients);
  t.is(state.length, 201);
});

test('a 4-node full mesh with concurrent conflicting adds and deletes converges to the same state everywhere', async (t) => {
  const names = ['mesh-1', 'mesh-2', 'mesh-3', 'mesh-4'];
  const links = names.flatMap((from) => names.filter((to) => to !== from).map((to) => [from, to] as const));
  const map = await startCluster(t, { names, links });
  const nodes = nodesOf(map, names);

  // Wait until every node has its three exchanges up (each pair exactly once).
  for (const node of nodes) {
    t.true(await node.daemon.waitForOutput(/peer link connected|inbound peer link connected/, CONVERGE_MS));
  }

  const cidrs = v4Hosts(400, 172);
  // Each node, concurrently: several rounds over the same CIDRs, adding with its own tag
  // (sometimes as ignore) or deleting, in different orders.
  const rounds = 4;
  await Promise.all(
    nodes.map(async (node, i) => {
      for (let round = 0; round < rounds; round++) {
        const mine = cidrs.filter((_, k) => (k + i + round) % 3 !== 0);
        await node.clients.rules.addRules({
          rules: mine.map((cidr, k) => ((k + i) % 5 === 0 ? ignoreSpec(cidr, { tag: `n${i}-r${round}` }) : dropSpec(cidr, { tag: `n${i}-r${round}` }))),
        });
        const victims = cidrs.filter((_, k) => (k + 2 * i + round) % 4 === 0);
        // Deletes may race with the replicated state: a key may already be gone (NOT_FOUND is fine).
        for (const cidr of victims.slice(0, 60)) {
          await statusOf(node.clients.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr }));
        }
      }
    }),
  );

  let last: { ok: boolean; states: string[][] } = { ok: false, states: [] };
  t.true(
    await eventually(async () => {
      last = await converged(nodes);
      return last.ok;
    }, CONVERGE_MS, 500),
    `states differ: sizes ${last.states.map((s) => s.length).join(', ')}`,
  );
  const [state] = last.states;
  t.true((state?.length ?? 0) > 0, 'something survives the conflicts');
  // Stable: a little later, still identical and unchanged.
  const again = await converged(nodes);
  t.true(again.ok);
  t.deepEqual(again.states[0], state);
  // Every CIDR appears at most once per policy, and every surviving entry came from one of the nodes.
  for (const line of state ?? []) t.regex(line, /tag=n[0-3]-r[0-3] .*origin=mesh-[1-4]$/);
});
