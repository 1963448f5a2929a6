// Dynamic rules survive a clean restart and a kill -9 (journal + snapshot replayed at
// start), expired entries are dropped at replay, and a torn last journal record is
// skipped with a warning instead of stopping the daemon.
import test, { type ExecutionContext } from 'ava';
import { appendFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry } from '../../src/generated/couic/v1/entry.js';
import { collect, connectUnix, expectGrpcError, Status, type CouicClients } from '../helpers/clients.js';
import { readClientToken, startDaemon, type Daemon, type StartDaemonOptions } from '../helpers/daemon.js';
import { dropSpec, ignoreSpec, nowSeconds, Policy, v4Hosts, v6Hosts } from '../helpers/rules.js';

async function setup(t: ExecutionContext, options: StartDaemonOptions = {}): Promise<{ daemon: Daemon; api: CouicClients }> {
  const daemon = await startDaemon(t, options);
  return { daemon, api: connectUnix(t, daemon.socketPath, daemon.adminToken) };
}

/** Reconnects after a restart (a fresh channel, not one that saw the old socket die). */
const reconnect = (t: ExecutionContext, daemon: Daemon): CouicClients => connectUnix(t, daemon.socketPath, daemon.adminToken);

const byKey = (entries: Entry[]): Entry[] => [...entries].sort((a, b) => `${a.policy} ${a.cidr}`.localeCompare(`${b.policy} ${b.cidr}`));

const listAll = async (api: CouicClients): Promise<Entry[]> =>
  byKey(await collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: false })));

/** A varied state: batch + singles, both policies and families, tags, expirations, metadata, a deletion. */
async function populate(api: CouicClients): Promise<void> {
  const later = nowSeconds() + 3_600;
  await api.rules.addRules({ rules: v4Hosts(1_000, 40).map((c, i) => dropSpec(c, { tag: `t${i % 7}`, expiration: i % 2 === 0 ? 0 : later + i })) });
  await api.rules.addRules({ rules: v6Hosts(200, 3).map((c) => ignoreSpec(c, { tag: 'v6' })) });
  await api.rules.addRule({ rule: dropSpec('192.168.1.200/24', { tag: 'meta', metadata: { kind: 'ids', detail: 'x', extra: { n: 1 } } }) });
  await api.rules.addRule({ rule: ignoreSpec('10.0.0.0/8', { expiration: later }) });
  await api.rules.addRule({ rule: dropSpec('203.0.113.0/24', { tag: 'first' }) });
  await api.rules.addRule({ rule: dropSpec('203.0.113.0/24', { tag: 'replaced' }) });
  await api.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '40.0.0.0/32' });
}

test('rules survive a clean restart (SIGTERM) unchanged', async (t) => {
  const { daemon, api } = await setup(t);
  await populate(api);
  const before = await listAll(api);
  t.is(before.length, 1_000 + 200 + 3 - 1 + 0);
  const stopped = await daemon.stop();
  t.deepEqual(stopped, { code: 0, signal: null });
  await daemon.restart();
  const after = await listAll(reconnect(t, daemon));
  t.deepEqual(after, before);
  t.is(after.find((e) => e.cidr === '203.0.113.0/24')?.tag, 'replaced');
  t.deepEqual(after.find((e) => e.cidr === '192.168.1.0/24')?.metadata, { kind: 'ids', detail: 'x', extra: { n: 1 } });
});

test('rules survive kill -9 right after the calls returned', async (t) => {
  const { daemon, api } = await setup(t);
  await populate(api);
  const before = await listAll(api);
  const killed = await daemon.kill();
  t.is(killed.signal, 'SIGKILL');
  await daemon.restart();
  t.deepEqual(await listAll(reconnect(t, daemon)), before);
});

test('a deletion acknowledged before kill -9 stays deleted', async (t) => {
  const { daemon, api } = await setup(t);
  await api.rules.addRules({ rules: [dropSpec('198.51.100.1/32'), dropSpec('198.51.100.2/32')] });
  await api.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '198.51.100.1/32' });
  await api.rules.deleteRules({ keys: [{ policy: Policy.POLICY_DROP, cidr: '198.51.100.2/32' }] });
  await daemon.kill();
  await daemon.restart();
  const again = reconnect(t, daemon);
  await expectGrpcError(t, again.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '198.51.100.1/32' }), Status.NOT_FOUND);
  await expectGrpcError(t, again.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '198.51.100.2/32' }), Status.NOT_FOUND);
});

test('entries already expired at restart are gone; others stay', async (t) => {
  const { daemon, api } = await setup(t);
  const expiration = nowSeconds() + 2;
  await api.rules.addRule({ rule: dropSpec('198.51.100.10/32', { tag: 'short', expiration }) });
  await api.rules.addRule({ rule: dropSpec('198.51.100.11/32', { tag: 'forever' }) });
  // Killed before it expires, so only replay can drop it.
  await daemon.kill();
  while (nowSeconds() <= expiration) await new Promise((r) => setTimeout(r, 100));
  await daemon.restart();
  const again = reconnect(t, daemon);
  await expectGrpcError(t, again.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '198.51.100.10/32' }), Status.NOT_FOUND);
  t.is((await again.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '198.51.100.11/32' })).entry?.tag, 'forever');
  t.deepEqual((await listAll(again)).map((e) => e.cidr), ['198.51.100.11/32']);
});

test('snapshots plus journal: many batches with a small snapshot interval survive kill -9', async (t) => {
  const { daemon, api } = await setup(t, { configExtra: '[persistence]\nsnapshot_every = 1000\nflush_interval_ms = 5' });
  for (let batch = 0; batch < 6; batch++) {
    await api.rules.addRules({ rules: v4Hosts(1_000, 50 + batch).map((c) => dropSpec(c, { tag: `b${batch}` })) });
  }
  await api.rules.deleteRules({ keys: v4Hosts(500, 50).map((cidr) => ({ policy: Policy.POLICY_DROP, cidr })) });
  const before = await listAll(api);
  t.is(before.length, 5_500);
  await daemon.kill();
  await daemon.restart();
  t.deepEqual(await listAll(reconnect(t, daemon)), before);
});

/** The newest journal segment under the working dir (journal-<seq>.bin, or .ndjson as older couic wrote). */
async function newestJournal(workingDir: string): Promise<string | undefined> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (/^journal-\d+\.(ndjson|bin)$/.test(entry.name)) found.push(path);
    }
  };
  await walk(workingDir);
  return found.sort((a, b) => a.localeCompare(b)).at(-1);
}

test('a torn last journal record is skipped with a warning, never a crash', async (t) => {
  const { daemon, api } = await setup(t);
  await api.rules.addRules({ rules: v4Hosts(100, 60).map((c) => dropSpec(c)) });
  const before = await listAll(api);
  await daemon.kill();
  const journal = await newestJournal(daemon.workingDir);
  if (journal === undefined) {
    t.fail(`no journal-<seq>.ndjson file under ${daemon.workingDir}`);
    return;
  }
  // Half a record, as a crash in the middle of an append leaves it.
  await appendFile(journal, '{"op":"put","entry":{"policy":"drop","cidr":"9.9.');
  await daemon.restart();
  const again = reconnect(t, daemon);
  t.deepEqual(await listAll(again), before);
  t.true(await daemon.waitForOutput(/"level":40[^\n]*(torn|corrupt)/), 'a warning mentions the torn record');
  // And the journal keeps working after the repair.
  await again.rules.addRule({ rule: dropSpec('9.9.9.9/32') });
  await daemon.kill();
  await daemon.restart();
  t.is((await listAll(reconnect(t, daemon))).length, before.length + 1);
});

test('a garbage line in the journal costs that line only', async (t) => {
  const { daemon, api } = await setup(t);
  await api.rules.addRule({ rule: dropSpec('198.51.100.20/32') });
  await daemon.kill();
  const journal = await newestJournal(daemon.workingDir);
  if (journal === undefined) {
    t.fail('no journal file');
    return;
  }
  await appendFile(journal, 'this is not a journal record\n');
  await daemon.restart();
  const api2 = reconnect(t, daemon);
  await api2.rules.addRule({ rule: dropSpec('198.51.100.21/32') });
  await daemon.kill();
  await daemon.restart();
  t.deepEqual((await listAll(reconnect(t, daemon))).map((e) => e.cidr), ['198.51.100.20/32', '198.51.100.21/32']);
});

test('clients, the admin token and the node id survive a restart', async (t) => {
  const { daemon, api } = await setup(t);
  const { client } = await api.clients.addClient({ name: 'survivor', group: 'clientro' });
  const first = await api.rules.addRule({ rule: dropSpec('198.51.100.30/32') });
  await daemon.kill();
  await daemon.restart();
  t.is(await readClientToken(daemon.workingDir), daemon.adminToken);
  const again = reconnect(t, daemon);
  t.is((await again.clients.getClient({ name: 'survivor' })).client?.token, client?.token);
  const ro = connectUnix(t, daemon.socketPath, client?.token);
  t.is((await ro.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '198.51.100.30/32' })).entry?.originNode, first.entry?.originNode);
  const second = await again.rules.addRule({ rule: dropSpec('198.51.100.31/32') });
  t.is(second.entry?.originNode, first.entry?.originNode, 'node id is persisted');
});
