// The reference peering walkthrough (couic-peering.txt), verbatim, on two real
// daemons over loopback with mTLS: peering clients made with the real couicctl,
// [peering] blocks in the reference format, restart, then rules added, deleted and
// expiring on couic1 show up (or go) on couic2; an ignore entry stays ignore.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { Policy } from '../../src/generated/couic/v1/entry.js';
import type { Entry } from '../../src/generated/couic/v1/entry.js';
import { runCli } from '../helpers/cli.js';
import { collect, type CouicClients } from '../helpers/clients.js';
import { startCluster, type ClusterNode } from '../helpers/cluster.js';
import { dropSpec, eventually, ignoreSpec, nowSeconds } from '../helpers/rules.js';

const CONVERGE_MS = 30_000;

async function list(clients: CouicClients, policy = Policy.POLICY_UNSPECIFIED): Promise<Entry[]> {
  return collect(clients.rules.listRules({ policy, tags: [], includeSets: false }));
}

function find(entries: readonly Entry[], policy: Policy, cidr: string): Entry | undefined {
  return entries.find((e) => e.policy === policy && e.cidr === cidr);
}

function must(nodes: Map<string, ClusterNode>, name: string): ClusterNode {
  const node = nodes.get(name);
  if (node === undefined) throw new Error(`no node ${name}`);
  return node;
}

test('the reference walkthrough: couic1 and couic2 replicate adds, deletes, expiry and ignore entries', async (t) => {
  const nodes = await startCluster(t, {
    names: ['couic1', 'couic2'],
    links: [
      ['couic1', 'couic2'],
      ['couic2', 'couic1'],
    ],
    daemon: { metrics: true },
  });
  const couic1 = must(nodes, 'couic1');
  const couic2 = must(nodes, 'couic2');

  // The peering block landed in the config in the reference's format.
  const config1 = await readFile(couic1.daemon.configPath, 'utf8');
  t.regex(config1, /\[peering\]\nenabled = true\n[^[]*\[\[peering\.peers\]\]\nhost = "localhost"\nport = \d+\ntls = true\ntoken = "[0-9a-f-]{36}"/);

  // couicctl drop add 1.1.1.1/32 -e 1m on couic1
  const added = await runCli(couic1.daemon, ['drop', 'add', '1.1.1.1/32', '-e', '1m']);
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, /│ drop\s+┆ 1\.1\.1\.1\/32 ┆\s+┆ (5\d|60)s\s+│/);
  const onCouic1 = find(await list(couic1.clients), Policy.POLICY_DROP, '1.1.1.1/32');
  t.truthy(onCouic1);

  // couicctl drop list on couic2 shows it, with the same absolute expiry.
  let seen: Entry | undefined;
  t.true(
    await eventually(async () => {
      seen = find(await list(couic2.clients), Policy.POLICY_DROP, '1.1.1.1/32');
      return seen !== undefined;
    }, CONVERGE_MS),
    'rule added on couic1 never appeared on couic2',
  );
  t.is(seen?.expiration, onCouic1?.expiration);
  t.is(seen?.originNode, 'couic1');
  const listed = await runCli(couic2.daemon, ['drop', 'list']);
  t.is(listed.code, 0, listed.stderr);
  t.regex(listed.stdout, /│ drop\s+┆ 1\.1\.1\.1\/32 ┆\s+┆ [1-6]?\ds\s+│/);

  // Delete propagates.
  const deleted = await runCli(couic1.daemon, ['drop', 'delete', '1.1.1.1/32']);
  t.is(deleted.code, 0, deleted.stderr);
  t.true(
    await eventually(async () => find(await list(couic2.clients), Policy.POLICY_DROP, '1.1.1.1/32') === undefined, CONVERGE_MS),
    'delete on couic1 never reached couic2',
  );

  // An ignore entry arrives as ignore (never as drop), with its tag; and the other way round.
  const ignored = await runCli(couic2.daemon, ['ignore', 'add', '10.9.0.0/16', '-t', 'office']);
  t.is(ignored.code, 0, ignored.stderr);
  let ignoreSeen: Entry | undefined;
  t.true(
    await eventually(async () => {
      ignoreSeen = find(await list(couic1.clients), Policy.POLICY_IGNORE, '10.9.0.0/16');
      return ignoreSeen !== undefined;
    }, CONVERGE_MS),
    'ignore entry added on couic2 never appeared on couic1',
  );
  t.is(ignoreSeen?.tag, 'office');
  t.is(find(await list(couic1.clients, Policy.POLICY_DROP), Policy.POLICY_DROP, '10.9.0.0/16'), undefined);
  const ignoreList = await runCli(couic1.daemon, ['ignore', 'list']);
  t.regex(ignoreList.stdout, /│ ignore\s+┆ 10\.9\.0\.0\/16 ┆ office ┆ never\s+│/);

  // An expiring rule disappears on both nodes by itself.
  const expiration = nowSeconds() + 4;
  await couic1.clients.rules.addRule({ rule: dropSpec('2.2.2.0/24', { expiration, tag: 'short' }) });
  t.true(
    await eventually(async () => find(await list(couic2.clients), Policy.POLICY_DROP, '2.2.2.0/24')?.expiration === expiration, CONVERGE_MS),
    'expiring rule never reached couic2',
  );
  t.true(
    await eventually(async () => {
      const [a, b] = await Promise.all([list(couic1.clients), list(couic2.clients)]);
      return find(a, Policy.POLICY_DROP, '2.2.2.0/24') === undefined && find(b, Policy.POLICY_DROP, '2.2.2.0/24') === undefined;
    }, CONVERGE_MS),
    'expired rule still listed',
  );

  // Both list each other: exactly one exchange between them, the stream dialled by couic1 (lower id).
  t.true(await couic2.daemon.waitForOutput(/peer link standby/, CONVERGE_MS), 'couic2 never yielded its duplicate stream');
  t.false(/"msg":"peer link standby/.test(couic1.daemon.output()), 'couic1 (lower node id) should keep its own stream');
  await couic1.clients.rules.addRule({ rule: ignoreSpec('192.0.2.7/32') });
  t.true(await eventually(async () => find(await list(couic2.clients), Policy.POLICY_IGNORE, '192.0.2.7/32') !== undefined, CONVERGE_MS));

  // Replication counters are exported with the other metrics.
  const url = couic1.daemon.metricsUrl;
  if (url === undefined) return t.fail('no metrics endpoint');
  const text = await (await fetch(url, { headers: { authorization: `Bearer ${couic1.daemon.adminToken}` } })).text();
  t.regex(text, /^couic_replication_peer_connected\{peer="couic2",kind="peer"\} 1$/m);
  t.regex(text, /^couic_replication_pending_deltas\{peer="couic2",kind="peer"\} \d+$/m);
  const sent = /^couic_replication_records_sent_total\{peer="couic2",kind="peer"\} (\d+)$/m.exec(text);
  t.true(Number(sent?.[1] ?? 0) >= 3, text);
});
