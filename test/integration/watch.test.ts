// The Watch API through real daemons: snapshot then live changes (add, delete,
// expiry), resume from a cursor (only what was missed), a cursor from an earlier
// daemon run (fresh snapshot), tag and policy filters, RBAC, and `couicctl watch`
// as a child process ended with Ctrl-C.
import anyTest, { type TestFn } from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connectUnix, expectGrpcError, Status, type CouicClients } from '../helpers/clients.js';
import { CLI_BIN, writeLocalCliConfig } from '../helpers/cli.js';
import { REPO_ROOT, startDaemon, type Daemon } from '../helpers/daemon.js';
import { dropSpec, ignoreSpec, nowSeconds, Policy } from '../helpers/rules.js';
import { fileScope } from '../helpers/tmp.js';
import { changes, recordWatch, summarize } from '../helpers/watch-recorder.js';
import { SnapshotReason } from '../../src/generated/couic/v1/replication.js';

const test = anyTest as TestFn;
const scope = fileScope(test);

let daemon: Daemon;
let admin: CouicClients;

test.before(async () => {
  daemon = await startDaemon(scope);
  admin = connectUnix(scope, daemon.socketPath, daemon.adminToken);
});

const isEnd = (events: readonly { event?: { $case: string } | undefined }[]) => events.some((e) => e.event?.$case === 'snapshotEnd');

test.serial('no cursor: snapshot of the live rules with a cursor, then adds, deletes and expiries as they happen', async (t) => {
  await admin.rules.addRules({ rules: [dropSpec('10.10.0.0/16', { tag: 'snap' }), ignoreSpec('192.0.2.10/32', { tag: 'snap' })] });
  const watch = recordWatch(t, admin, { tags: ['snap', 'live'] });
  await watch.waitFor('snapshot end', isEnd);
  const first = watch.events[0]?.event;
  t.is(first?.$case, 'snapshotBegin');
  if (first?.$case === 'snapshotBegin') t.is(first.value.reason, SnapshotReason.SNAPSHOT_REASON_NO_CURSOR);
  t.deepEqual(changes(watch.events).sort(), ['+drop 10.10.0.0/16', '+ignore 192.0.2.10/32']);
  const upsert = watch.events.find((e) => e.event?.$case === 'upsert')?.event;
  if (upsert?.$case === 'upsert') {
    t.is(upsert.value.version?.origin, upsert.value.entry?.originNode);
    t.true((upsert.value.version?.wallMs ?? 0) > 0);
  }
  t.regex(watch.lastCursor() ?? '', /^[0-9a-f]+:\d+@\d+$/);

  await admin.rules.addRule({ rule: dropSpec('10.11.0.0/16', { tag: 'live' }) });
  await watch.waitFor('the live add', (events) => changes(events).includes('+drop 10.11.0.0/16'));
  await admin.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '10.10.0.0/16' });
  await watch.waitFor('the delete', (events) => changes(events).includes('-drop 10.10.0.0/16 deleted'));
  // Expires at the next second boundary but one: the daemon reports it by itself.
  await admin.rules.addRule({ rule: dropSpec('10.12.0.1/32', { tag: 'live', expiration: nowSeconds() + 2 }) });
  await watch.waitFor('the expiring add', (events) => changes(events).includes('+drop 10.12.0.1/32'));
  await watch.waitFor('the expiry', (events) => changes(events).includes('-drop 10.12.0.1/32 expired'), 10_000);
  // Rules outside the tag filter never show up.
  await admin.rules.addRule({ rule: dropSpec('10.13.0.0/16', { tag: 'other' }) });
  await admin.rules.addRule({ rule: dropSpec('10.14.0.0/16', { tag: 'live' }) });
  await watch.waitFor('the last add', (events) => changes(events).includes('+drop 10.14.0.0/16'));
  t.false(changes(watch.events).some((c) => c.includes('10.13.0.0')));
  await watch.waitFor('a checkpoint', (events) => events.at(-1)?.event?.$case === 'checkpoint');
});

test.serial('resume from a cursor: only what was missed, no snapshot', async (t) => {
  await admin.rules.addRule({ rule: dropSpec('10.20.0.0/16', { tag: 'resume' }) });
  await admin.rules.addRule({ rule: dropSpec('10.21.0.0/16', { tag: 'resume' }) });
  const first = recordWatch(t, admin, { tags: ['resume'] });
  await first.waitFor('snapshot end', isEnd);
  t.deepEqual(changes(first.events).sort(), ['+drop 10.20.0.0/16', '+drop 10.21.0.0/16']);
  const cursor = first.lastCursor();
  first.close();

  await admin.rules.addRule({ rule: dropSpec('10.22.0.0/16', { tag: 'resume' }) });
  await admin.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '10.20.0.0/16' });
  await admin.rules.addRule({ rule: ignoreSpec('10.23.0.0/16', { tag: 'elsewhere' }) });

  const second = recordWatch(t, admin, { tags: ['resume'], cursor: cursor ?? '' });
  await second.waitFor('the missed changes and a checkpoint', (events) => events.some((e) => e.event?.$case === 'checkpoint'));
  const head = second.events[0];
  t.is(head === undefined ? undefined : summarize(head), 'resumed');
  // A key changed since the cursor that does not match the filter may have matched
  // before it: the resume cannot know, so it may send a "filtered" removal for it.
  const missed = changes(second.events);
  t.deepEqual(
    missed.filter((c) => !c.endsWith(' filtered')),
    ['+drop 10.22.0.0/16', '-drop 10.20.0.0/16 deleted'],
  );
  t.deepEqual(
    missed.filter((c) => c.endsWith(' filtered')),
    missed.filter((c) => c === '-ignore 10.23.0.0/16 filtered'),
  );
  t.false(missed.some((c) => c.includes('10.21.0.0')), 'nothing that was already held is sent again');
});

test.serial('policy filter: watch ignore sees no drop rules', async (t) => {
  const watch = recordWatch(t, admin, { policy: Policy.POLICY_IGNORE, tags: ['pol'] });
  await watch.waitFor('snapshot end', isEnd);
  await admin.rules.addRule({ rule: dropSpec('10.30.0.0/16', { tag: 'pol' }) });
  await admin.rules.addRule({ rule: ignoreSpec('10.30.0.0/16', { tag: 'pol' }) });
  await watch.waitFor('the ignore add', (events) => changes(events).includes('+ignore 10.30.0.0/16'));
  t.deepEqual(changes(watch.events), ['+ignore 10.30.0.0/16']);
});

test.serial('RBAC: clientro may watch (it may list); monitoring and peering may not', async (t) => {
  for (const group of ['clientro', 'monitoring', 'peering'] as const) {
    const { client } = await admin.clients.addClient({ name: `watch-${group}`, group });
    const own = connectUnix(t, daemon.socketPath, client?.token);
    if (group === 'clientro') {
      const watch = recordWatch(t, own);
      await watch.waitFor('snapshot end', isEnd);
      t.pass();
    } else {
      await expectGrpcError(t, first(own), Status.PERMISSION_DENIED, new RegExp(`group ${group}.*rules\\.watch`));
    }
  }
});

test.serial('a garbage cursor is INVALID_ARGUMENT naming the cursor', async (t) => {
  await expectGrpcError(t, first(admin, 'not-a-cursor'), Status.INVALID_ARGUMENT, /cursor/);
});

test.serial('couicctl watch --json: NDJSON events, Ctrl-C exits 0 and prints the cursor to resume from', async (t) => {
  const config = await writeLocalCliConfig(daemon);
  const child = spawn(process.execPath, [CLI_BIN, '-c', config, 'watch', 'drop', '-t', 'cli', '--json'], {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const closed = once(child, 'close');
  t.teardown(() => child.kill('SIGKILL'));
  const until = async (what: string, probe: () => boolean): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`no ${what}; stdout: ${stdout}; stderr: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await until('snapshot end', () => stdout.includes('"snapshot_end"'));
  await admin.rules.addRule({ rule: dropSpec('10.40.0.0/16', { tag: 'cli' }) });
  await until('the add', () => stdout.includes('10.40.0.0/16'));
  child.kill('SIGINT');
  const [code] = (await closed) as [number | null];
  t.is(code, 0, stderr);
  const lines = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { event: string; cursor?: string });
  t.is(lines[0]?.event, 'snapshot_begin');
  t.true(lines.some((l) => l.event === 'upsert'));
  t.regex(stderr, /^couicctl: resume with: couicctl watch --cursor [0-9a-f]+:\d+@\d+\n$/);
});

test('a cursor from an earlier daemon run gets a fresh snapshot (reason: cursor reset)', async (t) => {
  const own = await startDaemon(t);
  const api = connectUnix(t, own.socketPath, own.adminToken);
  await api.rules.addRule({ rule: dropSpec('10.50.0.0/16') });
  const before = recordWatch(t, api);
  await before.waitFor('snapshot end', isEnd);
  const cursor = before.lastCursor() ?? '';
  before.close();
  await own.restart();
  const after = connectUnix(t, own.socketPath, own.adminToken);
  const watch = recordWatch(t, after, { cursor });
  await watch.waitFor('snapshot end', isEnd);
  const begin = watch.events[0]?.event;
  t.is(begin?.$case, 'snapshotBegin');
  if (begin?.$case === 'snapshotBegin') t.is(begin.value.reason, SnapshotReason.SNAPSHOT_REASON_CURSOR_RESET);
  t.deepEqual(changes(watch.events), ['+drop 10.50.0.0/16']);
  t.not(watch.lastCursor(), cursor);
});

/** The first message of a watch (then the call is cancelled). */
async function first(clients: CouicClients, cursor = ''): Promise<unknown> {
  for await (const response of clients.replication.watch({ policy: Policy.POLICY_UNSPECIFIED, tags: [], cursor })) return response;
  return undefined;
}
