// `couicctl drop|ignore ...` driven in-process against a fake API: the requests built
// and what is printed.
import test from 'ava';
import { ClientError, Status } from 'nice-grpc-common';
import { EntrySource, Policy } from '../../../src/generated/couic/v1/entry.js';
import { runCli } from './fake-api.js';

const NOW_MS = 1_700_000_000_500;
const NOW_S = 1_700_000_000;

const PEERING_DROP_ADD = `┌────────┬────────────┬─────┬────────────┐
│ Policy ┆ CIDR       ┆ Tag ┆ Expiration │
╞════════╪════════════╪═════╪════════════╡
│ drop   ┆ 1.1.1.1/32 ┆     ┆ 59s        │
└────────┴────────────┴─────┴────────────┘
`;

test('drop add 1.1.1.1/32 -e 1m: builds the AddRule request and prints the walkthrough table', async (t) => {
  const run = await runCli(['drop', 'add', '1.1.1.1/32', '-e', '1m'], {
    nowMs: NOW_MS,
    replies: { addRule: (r) => ({ entry: { ...r.rule, createdAt: NOW_S, source: EntrySource.ENTRY_SOURCE_API } }) },
  });
  t.is(run.stderr, '');
  t.is(run.code, 0);
  t.deepEqual(run.api.calls, [
    {
      method: 'addRule',
      request: { rule: { policy: Policy.POLICY_DROP, cidr: '1.1.1.1/32', tag: '', expiration: NOW_S + 60, metadata: undefined } },
    },
  ]);
  t.is(run.stdout, PEERING_DROP_ADD);
});

test('ignore add with a tag and no -e: policy ignore, expiration 0, shown as never', async (t) => {
  const run = await runCli(['ignore', 'add', '10.0.0.0/8', '-t', 'office'], {
    replies: { addRule: (r) => ({ entry: r.rule }) },
  });
  t.is(run.code, 0);
  t.like(run.api.calls[0]?.request, { rule: { policy: Policy.POLICY_IGNORE, cidr: '10.0.0.0/8', tag: 'office', expiration: 0 } });
  t.true(run.stdout.includes('│ ignore ┆ 10.0.0.0/8 ┆ office ┆ never      │'));
});

test('add with several CIDRs and --from-file sends one AddRules batch', async (t) => {
  const file = '# scanners\n192.0.2.0/24\n\n  198.51.100.7/32  # inline comment\n2001:db8::/32\n';
  const run = await runCli(['drop', 'add', '203.0.113.1/32', '203.0.113.2/32', '--from-file', 'list.txt', '-t', 'scan', '-e', '2h'], {
    nowMs: NOW_MS,
    files: { 'list.txt': file },
    replies: { addRules: () => ({ added: 4, replaced: 1 }) },
  });
  t.is(run.stderr, '');
  t.is(run.code, 0);
  t.is(run.api.calls.length, 1);
  const spec = (cidr: string) => ({ policy: Policy.POLICY_DROP, cidr, tag: 'scan', expiration: NOW_S + 7200, metadata: undefined });
  t.deepEqual(run.api.calls[0], {
    method: 'addRules',
    request: { rules: ['203.0.113.1/32', '203.0.113.2/32', '192.0.2.0/24', '198.51.100.7/32', '2001:db8::/32'].map(spec) },
  });
  t.is(run.stdout, 'Added 5 drop rules (4 new, 1 replaced).\n');
});

test('add --from-file - reads standard input; --json prints the counts', async (t) => {
  const run = await runCli(['drop', 'add', '--from-file', '-', '--json'], {
    files: { '-': '1.2.3.4/32\n' },
    replies: { addRules: () => ({ added: 1, replaced: 0 }) },
  });
  t.is(run.code, 0);
  t.is(run.api.calls[0]?.method, 'addRules'); // a file always means the batch call
  t.deepEqual(JSON.parse(run.stdout), { added: 1, replaced: 0 });
});

test('bad lines in --from-file are reported with file and line number, nothing is sent', async (t) => {
  const run = await runCli(['drop', 'add', '--from-file', 'bad.txt'], {
    files: { 'bad.txt': '1.2.3.4/32\n1.2.3.4/33\n# ok\nnot-an-ip/8\n' },
  });
  t.is(run.code, 2);
  t.is(run.api.calls.length, 0);
  t.regex(run.stderr, /^couicctl: error: bad\.txt:2: "1\.2\.3\.4\/33": prefix length 33 is out of range 1-32 for IPv4; bad\.txt:4: "not-an-ip\/8"/);
  t.is(run.stderr.split('\n').length, 2); // one line
});

test('an unreadable --from-file is a usage error naming it', async (t) => {
  const run = await runCli(['drop', 'add', '--from-file', 'missing.txt']);
  t.is(run.code, 2);
  t.is(run.stderr, 'couicctl: error: --from-file: cannot read missing.txt: no such file\n');
  t.is(run.connects.length, 0);
});

test('add without any CIDR is a usage error that never connects', async (t) => {
  const run = await runCli(['drop', 'add', '-t', 'x']);
  t.is(run.code, 2);
  t.is(run.stderr, 'couicctl: error: give at least one CIDR or --from-file FILE\n');
  t.is(run.connects.length, 0);
});

test('a bad -e is rejected before connecting', async (t) => {
  for (const bad of ['1x', '0', 'soon', '-1']) {
    const run = await runCli(['drop', 'add', '1.1.1.1/32', '-e', bad]);
    t.is(run.code, 2, bad);
    t.true(run.stderr.startsWith('couicctl: error: -e: '), run.stderr);
    t.is(run.connects.length, 0);
  }
});

test('a server error is one line with the gRPC code name, exit 1', async (t) => {
  const run = await runCli(['drop', 'add', '1.1.1.1/33'], {
    replies: {
      addRule: () => {
        throw new ClientError('/couic.v1.RulesService/AddRule', Status.INVALID_ARGUMENT, 'cidr: prefix length 33 is out of range 1-32 for IPv4');
      },
    },
  });
  t.is(run.code, 1);
  t.is(run.stdout, '');
  t.is(run.stderr, 'couicctl: error: INVALID_ARGUMENT: cidr: prefix length 33 is out of range 1-32 for IPv4\n');
});

test('drop list: ListRules with the policy, table of the streamed chunks', async (t) => {
  const run = await runCli(['drop', 'list'], {
    nowMs: NOW_MS,
    replies: {
      listRules: () => [
        { entries: [{ policy: Policy.POLICY_DROP, cidr: '1.1.1.1/32', tag: '', expiration: NOW_S + 56 }] },
        { entries: [{ policy: Policy.POLICY_DROP, cidr: '3.3.3.0/24', tag: 'test', expiration: 0 }] },
      ],
    },
  });
  t.is(run.code, 0);
  t.deepEqual(run.api.calls, [{ method: 'listRules', request: { policy: Policy.POLICY_DROP, tags: [], includeSets: false } }]);
  t.is(
    run.stdout,
    `┌────────┬────────────┬──────┬────────────┐
│ Policy ┆ CIDR       ┆ Tag  ┆ Expiration │
╞════════╪════════════╪══════╪════════════╡
│ drop   ┆ 1.1.1.1/32 ┆      ┆ 55s        │
├╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌┤
│ drop   ┆ 3.3.3.0/24 ┆ test ┆ never      │
└────────┴────────────┴──────┴────────────┘
`,
  );
});

test('list -t sends the comma-separated tag patterns; -q prints CIDRs only', async (t) => {
  const run = await runCli(['ignore', 'list', '-t', 'web-*, untagged,,db', '-q', '--include-sets'], {
    replies: {
      listRules: () => [{ entries: [{ cidr: '10.0.0.0/8' }, { cidr: '2001:db8::/32' }] }],
    },
  });
  t.is(run.code, 0);
  t.deepEqual(run.api.calls[0]?.request, { policy: Policy.POLICY_IGNORE, tags: ['web-*', 'untagged', 'db'], includeSets: true });
  t.is(run.stdout, '10.0.0.0/8\n2001:db8::/32\n');
});

test('list -q with no rules prints nothing; the table is just its header', async (t) => {
  t.is((await runCli(['drop', 'list', '-q'])).stdout, '');
  const table = (await runCli(['drop', 'list'])).stdout;
  t.is(table.split('\n').length, 4);
  t.true(table.includes('│ Policy ┆ CIDR ┆ Tag ┆ Expiration │'));
});

test('list --json: the documented entry shape, expiration absolute', async (t) => {
  const run = await runCli(['drop', 'list', '--json'], {
    replies: {
      listRules: () => [
        {
          entries: [
            {
              policy: Policy.POLICY_DROP,
              cidr: '1.1.1.1/32',
              tag: 'scan',
              expiration: NOW_S + 60,
              createdAt: NOW_S,
              originNode: 'node-a',
              source: EntrySource.ENTRY_SOURCE_PEER,
              metadata: { kind: 'ids', detail: 'port scan', extra: { hits: 12 } },
            },
            { policy: Policy.POLICY_DROP, cidr: 'bogons', tag: 'bogons.couic', source: EntrySource.ENTRY_SOURCE_SET },
          ],
        },
      ],
    },
  });
  t.is(run.code, 0);
  t.deepEqual(JSON.parse(run.stdout), [
    {
      policy: 'drop',
      cidr: '1.1.1.1/32',
      tag: 'scan',
      expiration: NOW_S + 60,
      created_at: NOW_S,
      origin_node: 'node-a',
      source: 'peer',
      metadata: { kind: 'ids', detail: 'port scan', extra: { hits: 12 } },
    },
    { policy: 'drop', cidr: 'bogons', tag: 'bogons.couic', expiration: 0, created_at: 0, origin_node: '', source: 'set', metadata: null },
  ]);
});

test('delete one CIDR: DeleteRule, prints the removed entry', async (t) => {
  const run = await runCli(['drop', 'delete', '1.1.1.1/32'], {
    replies: { deleteRule: (r) => ({ entry: { policy: r.policy, cidr: r.cidr, expiration: 0 } }) },
  });
  t.is(run.code, 0);
  t.deepEqual(run.api.calls, [{ method: 'deleteRule', request: { policy: Policy.POLICY_DROP, cidr: '1.1.1.1/32' } }]);
  t.true(run.stdout.includes('│ drop   ┆ 1.1.1.1/32 ┆     ┆ never      │'));
});

test('delete several CIDRs: one DeleteRules batch', async (t) => {
  const run = await runCli(['ignore', 'delete', '10.0.0.0/8', '--from-file', 'f', '--json'], {
    files: { f: '192.168.0.0/16\n' },
    replies: { deleteRules: (r) => ({ deleted: r.keys.length }) },
  });
  t.is(run.code, 0);
  t.deepEqual(run.api.calls[0], {
    method: 'deleteRules',
    request: {
      keys: [
        { policy: Policy.POLICY_IGNORE, cidr: '10.0.0.0/8' },
        { policy: Policy.POLICY_IGNORE, cidr: '192.168.0.0/16' },
      ],
    },
  });
  t.deepEqual(JSON.parse(run.stdout), { deleted: 2 });
});

test('deleting a set entry: FAILED_PRECONDITION shown as one line', async (t) => {
  const run = await runCli(['drop', 'delete', '10.0.0.0/8'], {
    replies: {
      deleteRule: () => {
        throw new ClientError('/couic.v1.RulesService/DeleteRule', Status.FAILED_PRECONDITION, '10.0.0.0/8 belongs to set bogons');
      },
    },
  });
  t.is(run.code, 1);
  t.is(run.stderr, 'couicctl: error: FAILED_PRECONDITION: 10.0.0.0/8 belongs to set bogons\n');
});

test('inspect: GetRule, details table with origin and source; --json single object', async (t) => {
  const entry = {
    policy: Policy.POLICY_IGNORE,
    cidr: '10.1.0.0/16',
    tag: 'lan',
    expiration: NOW_S + 3725,
    createdAt: 1_699_999_000,
    originNode: 'node-b',
    source: EntrySource.ENTRY_SOURCE_API,
  };
  const run = await runCli(['ignore', 'inspect', '10.1.2.3/16'], { nowMs: NOW_MS, replies: { getRule: () => ({ entry }) } });
  t.is(run.code, 0);
  t.deepEqual(run.api.calls[0], { method: 'getRule', request: { policy: Policy.POLICY_IGNORE, cidr: '10.1.2.3/16' } });
  t.true(run.stdout.includes('│ ignore ┆ 10.1.0.0/16 ┆ lan ┆ 1h 2m      ┆ 2023-11-14T21:56:40Z ┆ node-b ┆ api    │'), run.stdout);
  const json = await runCli(['ignore', 'inspect', '10.1.0.0/16', '--json'], { replies: { getRule: () => ({ entry }) } });
  t.like(JSON.parse(json.stdout), { policy: 'ignore', cidr: '10.1.0.0/16', created_at: 1_699_999_000, origin_node: 'node-b', source: 'api' });
});

test('inspect of an unknown rule: NOT_FOUND', async (t) => {
  const run = await runCli(['drop', 'inspect', '9.9.9.9/32'], {
    replies: {
      getRule: () => {
        throw new ClientError('/couic.v1.RulesService/GetRule', Status.NOT_FOUND, 'no drop rule for 9.9.9.9/32');
      },
    },
  });
  t.is(run.code, 1);
  t.is(run.stderr, 'couicctl: error: NOT_FOUND: no drop rule for 9.9.9.9/32\n');
});
