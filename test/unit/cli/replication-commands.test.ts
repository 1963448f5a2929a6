// `couicctl watch` and `couicctl peers list` driven in-process against a fake API.
import test from 'ava';
import { ClientError, Status } from 'nice-grpc-common';
import { EntrySource, Policy } from '../../../src/generated/couic/v1/entry.js';
import { LinkKind, LinkState, RemovalReason, SnapshotReason } from '../../../src/generated/couic/v1/replication.js';
import { runCli } from './fake-api.js';

const NOW_MS = 1_700_000_000_500;
const CURSOR_1 = 'feedabc:3@1700000000';
const CURSOR_2 = 'feedabc:5@1700000000';

const EVENTS = [
  {
    events: [
      { event: { $case: 'snapshotBegin' as const, value: { reason: SnapshotReason.SNAPSHOT_REASON_NO_CURSOR, entries: 1 } } },
      {
        event: {
          $case: 'upsert' as const,
          value: {
            entry: { policy: Policy.POLICY_DROP, cidr: '10.0.0.0/8', tag: 'scanners', expiration: 1_700_003_600, createdAt: 1_700_000_000, originNode: 'node-a', source: EntrySource.ENTRY_SOURCE_API },
            version: { wallMs: 1_700_000_000_100, counter: 0, origin: 'node-a' },
          },
        },
      },
      { event: { $case: 'snapshotEnd' as const, value: { cursor: CURSOR_1 } } },
    ],
  },
  {
    events: [
      { event: { $case: 'upsert' as const, value: { entry: { policy: Policy.POLICY_IGNORE, cidr: '192.0.2.1/32', originNode: 'node-b', source: EntrySource.ENTRY_SOURCE_PEER } } } },
      {
        event: {
          $case: 'removal' as const,
          value: { policy: Policy.POLICY_DROP, cidr: '10.0.0.0/8', reason: RemovalReason.REMOVAL_REASON_DELETED, version: { wallMs: 1_700_000_000_200, counter: 1, origin: 'node-b' } },
        },
      },
      { event: { $case: 'checkpoint' as const, value: { cursor: CURSOR_2 } } },
    ],
  },
];

test('watch: one line per event, then Ctrl-C ends cleanly with the cursor to resume from', async (t) => {
  const run = await runCli(['watch'], { replies: { watch: () => EVENTS }, interruptAfterWatch: true, nowMs: NOW_MS });
  t.is(run.code, 0, run.stderr);
  t.deepEqual(run.api.calls, [{ method: 'watch', request: { policy: Policy.POLICY_UNSPECIFIED, tags: [], cursor: '' } }]);
  t.is(
    run.stdout,
    [
      'snapshot: 1 entries follow (no cursor)',
      '+ drop 10.0.0.0/8 tag=scanners expires=2023-11-14T23:13:20Z origin=node-a',
      `snapshot end, cursor ${CURSOR_1}`,
      '+ ignore 192.0.2.1/32 expires=never origin=node-b',
      '- drop 10.0.0.0/8 (deleted)',
      `cursor ${CURSOR_2}`,
      '',
    ].join('\n'),
  );
  t.is(run.stderr, `couicctl: resume with: couicctl watch --cursor ${CURSOR_2}\n`);
});

test('watch ignore -t a,b --cursor C --json: the request carries them; NDJSON, one object per event', async (t) => {
  const run = await runCli(['watch', 'ignore', '-t', 'web-*,untagged', '--cursor', CURSOR_1, '--json'], {
    replies: { watch: () => [{ events: [{ event: { $case: 'resumed', value: { cursor: CURSOR_1 } } }] }, EVENTS[1] ?? { events: [] }] },
    interruptAfterWatch: true,
  });
  t.is(run.code, 0, run.stderr);
  t.deepEqual(run.api.calls, [{ method: 'watch', request: { policy: Policy.POLICY_IGNORE, tags: ['web-*', 'untagged'], cursor: CURSOR_1 } }]);
  const lines = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  t.deepEqual(lines.map((l) => l.event), ['resumed', 'upsert', 'removal', 'checkpoint']);
  t.deepEqual(lines[2], { event: 'removal', policy: 'drop', cidr: '10.0.0.0/8', reason: 'deleted', version: { wall_ms: 1_700_000_000_200, counter: 1, origin: 'node-b' } });
  t.like(lines[1], { entry: { policy: 'ignore', cidr: '192.0.2.1/32', source: 'peer', expiration: 0 }, version: null });
  t.regex(run.stderr, /--cursor feedabc:5@/);
});

test('watch with a bad policy is a usage error, without connecting', async (t) => {
  const run = await runCli(['watch', 'allow']);
  t.is(run.code, 2);
  t.is(run.connects.length, 0);
});

test('watch: a server error is one stderr line (exit 1), after the cursor reached so far', async (t) => {
  const run = await runCli(['watch'], {
    replies: {
      watch: () => {
        throw new ClientError('/couic.v1.ReplicationService/Watch', Status.PERMISSION_DENIED, 'client "m" (group monitoring) may not rules.watch');
      },
    },
  });
  t.is(run.code, 1);
  t.regex(run.stderr, /PERMISSION_DENIED: client "m" \(group monitoring\) may not rules.watch\n$/);
});

test('peers list: the reference-style table with relative times; empty list is a header only', async (t) => {
  const links = [
    {
      kind: LinkKind.LINK_KIND_PEER,
      address: 'couic2.couic.tld:2900',
      nodeId: 'node-b',
      state: LinkState.LINK_STATE_CONNECTED,
      sinceMs: NOW_MS - 252_000,
      pendingDeltas: 3,
      lastFlushAtMs: NOW_MS - 200,
      lastReconciliation: { atMs: NOW_MS - 250_000, durationMs: 42, bucketsDiffering: 2, recordsSent: 100, recordsReceived: 98, bytesSent: 4300, bytesReceived: 4100 },
    },
    {
      kind: LinkKind.LINK_KIND_PEER,
      address: 'couic3.couic.tld:2900',
      state: LinkState.LINK_STATE_BACKOFF,
      sinceMs: NOW_MS - 5_000,
      lastError: 'UNAVAILABLE: connect ECONNREFUSED',
      lastErrorAtMs: NOW_MS - 5_000,
    },
  ];
  const run = await runCli(['peers', 'list'], { replies: { listPeers: () => ({ links }) }, nowMs: NOW_MS });
  t.is(run.code, 0, run.stderr);
  const rows = run.stdout.split('\n');
  t.regex(rows[1] ?? '', /│ Peer +┆ Node +┆ State +┆ Since +┆ Pending ┆ Last flush ┆ Last reconciliation \(records\/bytes\) +┆ Last error +│/);
  t.true(run.stdout.includes('couic2.couic.tld:2900 ┆ node-b ┆ connected ┆ 4m 12s ago ┆ 3       ┆ just now   ┆ 4m 10s ago in 42 ms: 100 sent/98 received, 4.2 KiB/4.0 KiB'), run.stdout);
  t.true(run.stdout.includes('┆ -      ┆ backoff   ┆ 5s ago     ┆ 0       ┆ never      ┆ never'), run.stdout);
  t.true(run.stdout.includes('UNAVAILABLE: connect ECONNREFUSED (5s ago)'), run.stdout);
  const empty = await runCli(['peers', 'list'], { replies: { listPeers: () => ({ links: [] }) } });
  t.is(empty.stdout.split('\n').length, 4, empty.stdout);
});

test('peers list --json: snake_case fields, null for never', async (t) => {
  const run = await runCli(['peers', 'list', '--json'], {
    replies: { listPeers: () => ({ links: [{ kind: LinkKind.LINK_KIND_BUS, address: 'nats://127.0.0.1:4222', state: LinkState.LINK_STATE_CONNECTED, sinceMs: 5 }] }) },
  });
  t.deepEqual(JSON.parse(run.stdout), [
    {
      kind: 'bus',
      address: 'nats://127.0.0.1:4222',
      node_id: null,
      state: 'connected',
      since_ms: 5,
      pending_deltas: 0,
      last_flush_at_ms: null,
      last_reconciliation: null,
      last_error: null,
      last_error_at_ms: null,
      records_sent: 0,
      records_received: 0,
      bytes_sent: 0,
      bytes_received: 0,
    },
  ]);
});
