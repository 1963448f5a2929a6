// `couicctl clients|sets|stats|check ...` driven in-process against a fake API.
import test from 'ava';
import { ClientError, Status } from 'nice-grpc-common';
import { Policy } from '../../../src/generated/couic/v1/entry.js';
import { Verdict } from '../../../src/generated/couic/v1/rules.js';
import { XdpAction } from '../../../src/generated/couic/v1/stats.js';
import { runCli } from './fake-api.js';

const PEERING_CLIENT_COUIC2 = `┌─────────────┬────────────┬──────────────────────────────────────┐
│ Name        ┆ Group      ┆ Token                                │
╞═════════════╪════════════╪══════════════════════════════════════╡
│ couic2      ┆ peering    ┆ e78336b3-8128-4c84-88c7-e2fad9c32d99 │
└─────────────┴────────────┴──────────────────────────────────────┘
`;
const TOKEN = 'e78336b3-8128-4c84-88c7-e2fad9c32d99';

test('clients add -n couic2 -g peering: AddClient, the walkthrough table', async (t) => {
  const run = await runCli(['clients', 'add', '-n', 'couic2', '-g', 'peering'], {
    replies: { addClient: (r) => ({ client: { name: r.name, group: r.group, token: TOKEN } }) },
  });
  t.is(run.stderr, '');
  t.deepEqual(run.api.calls, [{ method: 'addClient', request: { name: 'couic2', group: 'peering' } }]);
  t.is(run.stdout, PEERING_CLIENT_COUIC2);
});

test('clients add needs -n and -g (usage error, no connection)', async (t) => {
  const run = await runCli(['clients', 'add', '-n', 'x']);
  t.is(run.code, 2);
  t.regex(run.stderr, /^couicctl: error: Missing required argument: g/);
  t.is(run.connects.length, 0);
});

test('clients add --json prints the client with its token', async (t) => {
  const run = await runCli(['clients', 'add', '--name', 'bot', '--group', 'clientrw', '--json'], {
    replies: { addClient: (r) => ({ client: { name: r.name, group: r.group, token: TOKEN } }) },
  });
  t.deepEqual(JSON.parse(run.stdout), { name: 'bot', group: 'clientrw', token: TOKEN });
});

test('clients list, -q and --json; inspect and delete send the name', async (t) => {
  const replies = {
    listClients: () => ({
      clients: [
        { name: 'couicctl', group: 'admin', token: 'aaaa' },
        { name: 'grafana', group: 'monitoring', token: 'bbbb' },
      ],
    }),
    getClient: (r: { name: string }) => ({ client: { name: r.name, group: 'admin', token: 'aaaa' } }),
    deleteClient: (r: { name: string }) => ({ client: { name: r.name, group: 'monitoring', token: 'bbbb' } }),
  };
  const table = await runCli(['clients', 'list'], { replies });
  t.true(table.stdout.includes('│ grafana     ┆ monitoring ┆ bbbb  │'), table.stdout);
  t.is((await runCli(['clients', 'list', '-q'], { replies })).stdout, 'couicctl\ngrafana\n');
  t.is(JSON.parse((await runCli(['clients', 'list', '--json'], { replies })).stdout).length, 2);
  const inspect = await runCli(['clients', 'inspect', 'couicctl'], { replies });
  t.deepEqual(inspect.api.calls[0], { method: 'getClient', request: { name: 'couicctl' } });
  const del = await runCli(['clients', 'delete', 'grafana'], { replies });
  t.deepEqual(del.api.calls[0], { method: 'deleteClient', request: { name: 'grafana' } });
  t.true(del.stdout.includes('grafana'));
});

test('clients list refused for a non-admin: PERMISSION_DENIED line', async (t) => {
  const run = await runCli(['clients', 'list'], {
    replies: {
      listClients: () => {
        throw new ClientError('/couic.v1.ClientsService/ListClients', Status.PERMISSION_DENIED, 'group clientro may not manage clients');
      },
    },
  });
  t.is(run.code, 1);
  t.is(run.stderr, 'couicctl: error: PERMISSION_DENIED: group clientro may not manage clients\n');
});

const SETS = {
  listSets: () => ({
    sets: [
      { policy: Policy.POLICY_DROP, name: 'bogons', entryCount: 14 },
      { policy: Policy.POLICY_IGNORE, name: 'office', entryCount: 2 },
    ],
  }),
};

test('sets list: both policies by default, one with a positional; -q names; --json', async (t) => {
  const all = await runCli(['sets', 'list'], { replies: SETS });
  t.deepEqual(all.api.calls[0], { method: 'listSets', request: { policy: Policy.POLICY_UNSPECIFIED } });
  t.is(
    all.stdout,
    `┌────────┬────────┬─────────┐
│ Policy ┆ Name   ┆ Entries │
╞════════╪════════╪═════════╡
│ drop   ┆ bogons ┆ 14      │
├╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌┤
│ ignore ┆ office ┆ 2       │
└────────┴────────┴─────────┘
`,
  );
  const drop = await runCli(['sets', 'list', 'drop', '-q'], { replies: SETS });
  t.deepEqual(drop.api.calls[0], { method: 'listSets', request: { policy: Policy.POLICY_DROP } });
  t.is(drop.stdout, 'bogons\noffice\n');
  const json = await runCli(['sets', 'list', '--json'], { replies: SETS });
  t.deepEqual(JSON.parse(json.stdout), [
    { policy: 'drop', name: 'bogons', entry_count: 14 },
    { policy: 'ignore', name: 'office', entry_count: 2 },
  ]);
  const bad = await runCli(['sets', 'list', 'allow']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /Invalid values/);
});

test('sets inspect POLICY NAME: GetSet, summary and CIDR tables, -q CIDRs, --json with cidrs', async (t) => {
  const replies = {
    getSet: (r: { policy: Policy; name: string }) => ({
      set: { policy: r.policy, name: r.name, entryCount: 2, cidrs: ['10.0.0.0/8', '192.168.0.0/16'] },
    }),
  };
  const run = await runCli(['sets', 'inspect', 'ignore', 'office'], { replies });
  t.deepEqual(run.api.calls[0], { method: 'getSet', request: { policy: Policy.POLICY_IGNORE, name: 'office' } });
  t.true(run.stdout.includes('│ ignore ┆ office ┆ 2       │'));
  t.true(run.stdout.includes('│ 192.168.0.0/16 │'));
  t.is((await runCli(['sets', 'inspect', 'ignore', 'office', '-q'], { replies })).stdout, '10.0.0.0/8\n192.168.0.0/16\n');
  const json = JSON.parse((await runCli(['sets', 'inspect', 'ignore', 'office', '--json'], { replies })).stdout);
  t.deepEqual(json, { policy: 'ignore', name: 'office', entry_count: 2, cidrs: ['10.0.0.0/8', '192.168.0.0/16'] });
});

test('sets create merges positional CIDRs and --from-file; update needs content', async (t) => {
  const replies = {
    createSet: (r: { policy: Policy; name: string; cidrs: string[] }) => ({ set: { policy: r.policy, name: r.name, entryCount: r.cidrs.length } }),
    updateSet: (r: { policy: Policy; name: string; cidrs: string[] }) => ({ set: { policy: r.policy, name: r.name, entryCount: r.cidrs.length } }),
  };
  const files = { 'bogons.txt': '# bogons\n0.0.0.0/8\n240.0.0.0/4\n' };
  const create = await runCli(['sets', 'create', 'drop', 'bogons', '100.64.0.0/10', '--from-file', 'bogons.txt'], { replies, files });
  t.is(create.code, 0);
  t.deepEqual(create.api.calls[0], {
    method: 'createSet',
    request: { policy: Policy.POLICY_DROP, name: 'bogons', cidrs: ['100.64.0.0/10', '0.0.0.0/8', '240.0.0.0/4'] },
  });
  t.true(create.stdout.includes('│ drop   ┆ bogons ┆ 3       │'));

  const update = await runCli(['sets', 'update', 'drop', 'bogons', '--from-file', 'bogons.txt', '--json'], { replies, files });
  t.deepEqual(update.api.calls[0], { method: 'updateSet', request: { policy: Policy.POLICY_DROP, name: 'bogons', cidrs: ['0.0.0.0/8', '240.0.0.0/4'] } });
  t.deepEqual(JSON.parse(update.stdout), { policy: 'drop', name: 'bogons', entry_count: 2 });

  const empty = await runCli(['sets', 'update', 'drop', 'bogons'], { replies });
  t.is(empty.code, 2);
  t.regex(empty.stderr, /give the new content/);
  t.is(empty.connects.length, 0);
});

test('sets delete and reload', async (t) => {
  const del = await runCli(['sets', 'delete', 'drop', 'bogons']);
  t.deepEqual(del.api.calls[0], { method: 'deleteSet', request: { policy: Policy.POLICY_DROP, name: 'bogons' } });
  t.is(del.stdout, 'Deleted set drop/bogons.\n');
  const replies = { reloadSets: () => ({ changes: [{ policy: Policy.POLICY_DROP, name: 'bogons', added: 3, removed: 1 }] }) };
  const reload = await runCli(['sets', 'reload'], { replies });
  t.true(reload.stdout.includes('│ drop   ┆ bogons ┆ 3     ┆ 1       │'), reload.stdout);
  const json = await runCli(['sets', 'reload', '--json'], { replies });
  t.deepEqual(JSON.parse(json.stdout), [{ policy: 'drop', name: 'bogons', added: 3, removed: 1 }]);
});

const GLOBAL = {
  getGlobalStats: () => ({
    dropCidrCount: 3,
    ignoreCidrCount: 1,
    dataplane: 'userspace',
    actions: [
      { action: XdpAction.XDP_ACTION_ABORTED, rxPackets: 0, rxBytes: 0 },
      { action: XdpAction.XDP_ACTION_DROP, rxPackets: 120, rxBytes: 7200 },
      { action: XdpAction.XDP_ACTION_PASS, rxPackets: 5000, rxBytes: 4_200_000 },
    ],
  }),
};

test('stats global: summary then per-action tables; --json', async (t) => {
  const run = await runCli(['stats', 'global'], { replies: GLOBAL });
  t.is(
    run.stdout,
    `┌────────────┬────────────┬──────────────┐
│ Data plane ┆ Drop CIDRs ┆ Ignore CIDRs │
╞════════════╪════════════╪══════════════╡
│ userspace  ┆ 3          ┆ 1            │
└────────────┴────────────┴──────────────┘
┌─────────┬────────────┬──────────┐
│ Action  ┆ RX packets ┆ RX bytes │
╞═════════╪════════════╪══════════╡
│ ABORTED ┆ 0          ┆ 0        │
├╌╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌┤
│ DROP    ┆ 120        ┆ 7200     │
├╌╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌┤
│ PASS    ┆ 5000       ┆ 4200000  │
└─────────┴────────────┴──────────┘
`,
  );
  const json = await runCli(['stats', 'global', '--json'], { replies: GLOBAL });
  t.deepEqual(JSON.parse(json.stdout), {
    dataplane: 'userspace',
    drop_cidr_count: 3,
    ignore_cidr_count: 1,
    actions: [
      { action: 'ABORTED', rx_packets: 0, rx_bytes: 0 },
      { action: 'DROP', rx_packets: 120, rx_bytes: 7200 },
      { action: 'PASS', rx_packets: 5000, rx_bytes: 4_200_000 },
    ],
  });
});

test('stats global --live refreshes until interrupted (one frame per interval)', async (t) => {
  const run = await runCli(['stats', 'global', '--live'], { replies: GLOBAL, stopAfterSleeps: 3 });
  t.is(run.code, 0);
  t.is(run.api.calls.length, 3);
  t.is(run.stdout.split('couic stats at ').length - 1, 3);
  t.false(run.stdout.includes('\x1b[2J')); // not a terminal: no screen clearing
  const tty = await runCli(['stats', 'global', '--live'], { replies: GLOBAL, stopAfterSleeps: 2, stdoutIsTty: true });
  t.is(tty.stdout.split('\x1b[H\x1b[2J').length - 1, 2);
  const json = await runCli(['stats', 'global', '--live', '--json'], { replies: GLOBAL, stopAfterSleeps: 2, nowMs: 1_700_000_000_000 });
  const lines = json.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { time: number; drop_cidr_count: number });
  t.deepEqual(
    lines.map((l) => [l.time, l.drop_cidr_count]),
    [
      [1_700_000_000, 3],
      [1_700_000_001, 3],
    ],
  );
});

test('stats drop|ignore: GetTagStats with the policy; table and --json', async (t) => {
  const replies = { getTagStats: () => ({ tags: [{ tag: 'scan', rxPackets: 10, rxBytes: 600 }] }) };
  const run = await runCli(['stats', 'ignore'], { replies });
  t.deepEqual(run.api.calls[0], { method: 'getTagStats', request: { policy: Policy.POLICY_IGNORE } });
  t.is(run.stdout, '┌──────┬─────────┬───────┐\n│ Tag  ┆ Packets ┆ Bytes │\n╞══════╪═════════╪═══════╡\n│ scan ┆ 10      ┆ 600   │\n└──────┴─────────┴───────┘\n');
  const json = await runCli(['stats', 'drop', '--json'], { replies });
  t.deepEqual(json.api.calls[0], { method: 'getTagStats', request: { policy: Policy.POLICY_DROP } });
  t.deepEqual(JSON.parse(json.stdout), [{ tag: 'scan', rx_packets: 10, rx_bytes: 600 }]);
});

const CHECK_IGNORED = {
  checkAddress: () => ({
    verdict: Verdict.VERDICT_PASS,
    decisive: { policy: Policy.POLICY_IGNORE, cidr: '10.0.0.0/8', tag: 'lan', expiration: 0 },
    ignoreMatch: { policy: Policy.POLICY_IGNORE, cidr: '10.0.0.0/8', tag: 'lan', expiration: 0 },
    dropMatch: { policy: Policy.POLICY_DROP, cidr: '10.1.0.0/16', tag: '', expiration: 0 },
  }),
};

test('check IP: verdict and deciding rule, with the ignore-over-drop note', async (t) => {
  const run = await runCli(['check', '10.1.2.3'], { replies: CHECK_IGNORED });
  t.deepEqual(run.api.calls[0], { method: 'checkAddress', request: { address: '10.1.2.3' } });
  t.true(run.stdout.includes('│ 10.1.2.3 ┆ pass    ┆ ignore ┆ 10.0.0.0/8 ┆ lan ┆ never      │'), run.stdout);
  t.true(run.stdout.endsWith('note: ignore 10.0.0.0/8 overrides drop 10.1.0.0/16 (ignore always wins)\n'));
  t.is((await runCli(['check', '10.1.2.3', '-q'], { replies: CHECK_IGNORED })).stdout, 'pass\n');
  const json = JSON.parse((await runCli(['check', '10.1.2.3', '--json'], { replies: CHECK_IGNORED })).stdout);
  t.like(json, { address: '10.1.2.3', verdict: 'pass', decisive: { policy: 'ignore', cidr: '10.0.0.0/8' }, drop_match: { cidr: '10.1.0.0/16' } });
});

test('check IP with no matching rule', async (t) => {
  const replies = { checkAddress: () => ({ verdict: Verdict.VERDICT_PASS }) };
  const run = await runCli(['check', '2001:db8::1'], { replies });
  t.true(run.stdout.includes('│ 2001:db8::1 ┆ pass    ┆        ┆ (no rule matches) ┆     ┆            │'), run.stdout);
  const json = JSON.parse((await runCli(['check', '2001:db8::1', '--json'], { replies })).stdout);
  t.deepEqual(json, { address: '2001:db8::1', verdict: 'pass', decisive: null, drop_match: null, ignore_match: null });
});
