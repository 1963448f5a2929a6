// `couicctl peers list` and ListPeers through real daemons: empty on a lone node;
// two peered nodes (real certificates, peering tokens made with couicctl) each show
// the other connected, with its node id and a completed reconciliation; a Watch on
// the receiving node sees a rule added on the other (the Watch rides on replication).
import test from 'ava';
import { runCli } from '../helpers/cli.js';
import { connectUnix } from '../helpers/clients.js';
import { startCluster } from '../helpers/cluster.js';
import { startDaemon } from '../helpers/daemon.js';
import { dropSpec } from '../helpers/rules.js';
import { changes, recordWatch } from '../helpers/watch-recorder.js';
import { LinkKind, LinkState } from '../../src/generated/couic/v1/replication.js';

test('a lone node has no links: ListPeers is empty, peers list prints only the header, --json an empty array', async (t) => {
  const daemon = await startDaemon(t);
  const api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  t.deepEqual((await api.replication.listPeers({})).links, []);
  const table = await runCli(daemon, ['peers', 'list']);
  t.is(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  t.is(lines.length, 3, table.stdout);
  t.regex(lines[1] ?? '', /Peer .*Node .*State .*Since .*Pending .*Last flush .*Last reconciliation \(records\/bytes\) .*Last error/);
  const json = await runCli(daemon, ['peers', 'list', '--json']);
  t.deepEqual(JSON.parse(json.stdout), []);
});

test('two peered nodes: each lists the other connected with its node id and reconciliation; a watch on node2 sees node1 adds', async (t) => {
  const cluster = await startCluster(t, { names: ['node1', 'node2'], links: [['node1', 'node2'], ['node2', 'node1']] });
  const node1 = cluster.get('node1');
  const node2 = cluster.get('node2');
  if (node1 === undefined || node2 === undefined) throw new Error('cluster incomplete');

  const connected = async (from: typeof node1, other: string): Promise<boolean> => {
    const { links } = await from.clients.replication.listPeers({});
    return links.some((l) => l.kind === LinkKind.LINK_KIND_PEER && l.nodeId === other && l.state === LinkState.LINK_STATE_CONNECTED);
  };
  const deadline = Date.now() + 30_000;
  while (!((await connected(node1, 'node2')) && (await connected(node2, 'node1')))) {
    if (Date.now() > deadline) {
      t.fail(`not connected: ${JSON.stringify((await node1.clients.replication.listPeers({})).links)} / ${JSON.stringify((await node2.clients.replication.listPeers({})).links)}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const watch = recordWatch(t, node2.clients, { tags: ['via-peer'] });
  await watch.waitFor('snapshot end', (events) => events.some((e) => e.event?.$case === 'snapshotEnd'));
  await node1.clients.rules.addRule({ rule: dropSpec('10.60.0.0/16', { tag: 'via-peer' }) });
  await watch.waitFor('the rule added on node1', (events) => changes(events).includes('+drop 10.60.0.0/16'));
  const upsert = watch.events.find((e) => e.event?.$case === 'upsert')?.event;
  if (upsert?.$case === 'upsert') t.is(upsert.value.entry?.originNode, 'node1');

  const table = await runCli(node1.daemon, ['peers', 'list']);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /localhost:\d+ +┆ node2 +┆ connected +┆/);
  const [link] = JSON.parse((await runCli(node1.daemon, ['peers', 'list', '--json'])).stdout) as Record<string, unknown>[];
  t.like(link, { kind: 'peer', node_id: 'node2', state: 'connected' });
  t.not(link?.last_reconciliation, null, 'the connect ran a reconciliation');
});
