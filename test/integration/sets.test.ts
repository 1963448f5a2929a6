// Static sets against the real daemon: API CRUD, the files on disk, set entries in
// the rules API (tagged "<name>.couic", never expiring, not deletable), differential
// reload of hand-edited files, and refusal of files that are not private or valid.
import test from 'ava';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EntrySource } from '../../src/generated/couic/v1/entry.js';
import { Verdict } from '../../src/generated/couic/v1/rules.js';
import { collect, connectUnix, expectGrpcError, statusOf, Status, type CouicClients } from '../helpers/clients.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { dropSpec, Policy } from '../helpers/rules.js';
import { makeTempDir } from '../helpers/tmp.js';
import type { ExecutionContext } from 'ava';

async function setup(t: ExecutionContext, workingDir?: string): Promise<{ daemon: Daemon; api: CouicClients }> {
  const daemon = await startDaemon(t, workingDir === undefined ? {} : { workingDir });
  return { daemon, api: connectUnix(t, daemon.socketPath, daemon.adminToken) };
}

const setFile = (daemon: Pick<Daemon, 'workingDir'>, policy: 'drop' | 'ignore', name: string): string =>
  join(daemon.workingDir, 'sets', policy, `${name}.couic`);

const setEntries = async (api: CouicClients, tag: string) =>
  collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [tag], includeSets: true }));

test('create, list, get, update, delete a set through the API', async (t) => {
  const { daemon, api } = await setup(t);
  const created = await api.sets.createSet({ policy: Policy.POLICY_DROP, name: 'bogons', cidrs: ['192.168.1.200/24', '10.0.0.0/8', '2001:db8::1/32'] });
  t.is(created.set?.name, 'bogons');
  t.is(created.set?.policy, Policy.POLICY_DROP);
  t.is(created.set?.entryCount, 3);

  // The file exists, is private, and holds the normalised CIDRs.
  const file = setFile(daemon, 'drop', 'bogons');
  t.is((await stat(file)).mode & 0o777, 0o600);
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  t.deepEqual(lines.map((l) => l.trim()).sort(), ['10.0.0.0/8', '192.168.1.0/24', '2001:db8::/32']);

  const listed = await api.sets.listSets({ policy: Policy.POLICY_UNSPECIFIED });
  t.deepEqual(listed.sets.map((s) => [s.name, s.policy, s.entryCount]), [['bogons', Policy.POLICY_DROP, 3]]);
  t.deepEqual((await api.sets.listSets({ policy: Policy.POLICY_IGNORE })).sets, []);

  const got = await api.sets.getSet({ policy: Policy.POLICY_DROP, name: 'bogons' });
  t.deepEqual([...(got.set?.cidrs ?? [])].sort(), ['10.0.0.0/8', '192.168.1.0/24', '2001:db8::/32']);

  const updated = await api.sets.updateSet({ policy: Policy.POLICY_DROP, name: 'bogons', cidrs: ['10.0.0.0/8', '172.16.0.0/12'] });
  t.is(updated.set?.entryCount, 2);
  t.deepEqual((await setEntries(api, 'bogons.couic')).map((e) => e.cidr).sort(), ['10.0.0.0/8', '172.16.0.0/12']);

  await api.sets.deleteSet({ policy: Policy.POLICY_DROP, name: 'bogons' });
  await expectGrpcError(t, api.sets.getSet({ policy: Policy.POLICY_DROP, name: 'bogons' }), Status.NOT_FOUND);
  await t.throwsAsync(stat(file), { code: 'ENOENT' });
  t.deepEqual(await setEntries(api, 'bogons.couic'), []);
});

test('set entries: tagged <name>.couic, never expire, source SET, listed only with include_sets', async (t) => {
  const { api } = await setup(t);
  await api.sets.createSet({ policy: Policy.POLICY_DROP, name: 'bogons', cidrs: ['198.18.0.0/15'] });
  await api.sets.createSet({ policy: Policy.POLICY_IGNORE, name: 'office', cidrs: ['198.19.1.0/24'] });
  await api.rules.addRule({ rule: dropSpec('203.0.113.0/24', { tag: 'dyn' }) });

  const all = await collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: true }));
  const byCidr = new Map(all.map((e) => [`${e.policy} ${e.cidr}`, e]));
  const bogon = byCidr.get(`${Policy.POLICY_DROP} 198.18.0.0/15`);
  t.is(bogon?.tag, 'bogons.couic');
  t.is(bogon?.expiration, 0);
  t.is(bogon?.source, EntrySource.ENTRY_SOURCE_SET);
  t.is(byCidr.get(`${Policy.POLICY_IGNORE} 198.19.1.0/24`)?.tag, 'office.couic');

  const dynamicOnly = await collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: false }));
  t.deepEqual(dynamicOnly.map((e) => e.cidr), ['203.0.113.0/24']);
  t.deepEqual((await setEntries(api, '*.couic')).map((e) => e.tag).sort(), ['bogons.couic', 'office.couic']);

  // Set entries take part in matching, ignore still winning.
  t.is((await api.rules.checkAddress({ address: '198.18.5.5' })).verdict, Verdict.VERDICT_DROP);
  const office = await api.rules.checkAddress({ address: '198.19.1.1' });
  t.is(office.verdict, Verdict.VERDICT_PASS);
  t.is(office.ignoreMatch?.tag, 'office.couic');
});

test('deleting a set entry through the rules API is FAILED_PRECONDITION and changes nothing', async (t) => {
  const { api } = await setup(t);
  await api.sets.createSet({ policy: Policy.POLICY_DROP, name: 'bogons', cidrs: ['198.18.0.0/15', '240.0.0.0/4'] });
  await api.rules.addRule({ rule: dropSpec('203.0.113.0/24') });
  await expectGrpcError(t, api.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '198.18.0.0/15' }), Status.FAILED_PRECONDITION, /set|bogons/);
  await expectGrpcError(
    t,
    api.rules.deleteRules({
      keys: [
        { policy: Policy.POLICY_DROP, cidr: '203.0.113.0/24' },
        { policy: Policy.POLICY_DROP, cidr: '240.0.0.0/4' },
      ],
    }),
    Status.FAILED_PRECONDITION,
  );
  t.is((await setEntries(api, 'bogons.couic')).length, 2);
  // The dynamic rule of the refused batch is still there (all-or-nothing).
  t.is((await api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '203.0.113.0/24' })).entry?.cidr, '203.0.113.0/24');
  t.is((await api.rules.checkAddress({ address: '198.18.0.1' })).verdict, Verdict.VERDICT_DROP);
});

test('set API input errors: names, cidrs, policy, duplicates, unknown sets', async (t) => {
  const { api } = await setup(t);
  await expectGrpcError(t, api.sets.createSet({ policy: Policy.POLICY_DROP, name: 'bad name', cidrs: ['10.0.0.0/8'] }), Status.INVALID_ARGUMENT, /name/);
  await expectGrpcError(t, api.sets.createSet({ policy: Policy.POLICY_DROP, name: 'x'.repeat(49), cidrs: ['10.0.0.0/8'] }), Status.INVALID_ARGUMENT, /name/);
  await expectGrpcError(t, api.sets.createSet({ policy: Policy.POLICY_DROP, name: '../escape', cidrs: ['10.0.0.0/8'] }), Status.INVALID_ARGUMENT, /name/);
  await expectGrpcError(t, api.sets.createSet({ policy: Policy.POLICY_DROP, name: '', cidrs: ['10.0.0.0/8'] }), Status.INVALID_ARGUMENT, /name/);
  await expectGrpcError(
    t,
    api.sets.createSet({ policy: Policy.POLICY_DROP, name: 'ok', cidrs: ['10.0.0.0/8', '10.0.0.0/33', '1.2.3'] }),
    Status.INVALID_ARGUMENT,
    /cidrs\[1\][\s\S]*cidrs\[2\]/,
  );
  await expectGrpcError(t, api.sets.createSet({ policy: Policy.POLICY_UNSPECIFIED, name: 'ok', cidrs: ['10.0.0.0/8'] }), Status.INVALID_ARGUMENT, /policy/);
  // Nothing was created by the refused calls.
  t.deepEqual((await api.sets.listSets({ policy: Policy.POLICY_UNSPECIFIED })).sets, []);

  t.is((await api.sets.createSet({ policy: Policy.POLICY_DROP, name: 'x'.repeat(48), cidrs: ['10.0.0.0/8'] })).set?.entryCount, 1);
  await expectGrpcError(t, api.sets.createSet({ policy: Policy.POLICY_DROP, name: 'x'.repeat(48), cidrs: ['11.0.0.0/8'] }), Status.ALREADY_EXISTS);
  // The same name under the other policy is another set.
  t.is((await api.sets.createSet({ policy: Policy.POLICY_IGNORE, name: 'x'.repeat(48), cidrs: ['11.0.0.0/8'] })).set?.entryCount, 1);

  await expectGrpcError(t, api.sets.getSet({ policy: Policy.POLICY_DROP, name: 'nope' }), Status.NOT_FOUND);
  await expectGrpcError(t, api.sets.updateSet({ policy: Policy.POLICY_DROP, name: 'nope', cidrs: ['10.0.0.0/8'] }), Status.NOT_FOUND);
  await expectGrpcError(t, api.sets.deleteSet({ policy: Policy.POLICY_DROP, name: 'nope' }), Status.NOT_FOUND);
  await expectGrpcError(t, api.sets.updateSet({ policy: Policy.POLICY_DROP, name: 'x'.repeat(48), cidrs: ['bad'] }), Status.INVALID_ARGUMENT, /cidrs\[0\]/);
  t.deepEqual((await api.sets.getSet({ policy: Policy.POLICY_DROP, name: 'x'.repeat(48) })).set?.cidrs, ['10.0.0.0/8']);
});

test('reload applies only the differences of hand-edited files', async (t) => {
  const { daemon, api } = await setup(t);
  const file = setFile(daemon, 'drop', 'manual');
  await writeFile(file, '# hand written\n198.51.100.0/24\n\n203.0.113.0/24\n192.0.2.0/24\n', { mode: 0o600 });
  const first = await api.sets.reloadSets({});
  t.deepEqual(first.changes.map((c) => [c.name, c.policy, c.added, c.removed]), [['manual', Policy.POLICY_DROP, 3, 0]]);
  const before = new Map((await setEntries(api, 'manual.couic')).map((e) => [e.cidr, e]));
  t.deepEqual([...before.keys()].sort(), ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24']);

  // Unchanged reload: no changes reported.
  t.deepEqual((await api.sets.reloadSets({})).changes, []);

  // Remove one line, add one, keep two.
  await writeFile(file, '198.51.100.0/24\n203.0.113.0/24\n100.64.0.0/10\n', { mode: 0o600 });
  const second = await api.sets.reloadSets({});
  t.deepEqual(second.changes.map((c) => [c.name, c.added, c.removed]), [['manual', 1, 1]]);
  const after = new Map((await setEntries(api, 'manual.couic')).map((e) => [e.cidr, e]));
  t.deepEqual([...after.keys()].sort(), ['100.64.0.0/10', '198.51.100.0/24', '203.0.113.0/24']);
  // Unchanged entries stayed (same creation time).
  t.is(after.get('198.51.100.0/24')?.createdAt, before.get('198.51.100.0/24')?.createdAt);

  // Removing the file removes its entries at the next reload.
  await rm(file);
  const third = await api.sets.reloadSets({});
  t.deepEqual(third.changes.map((c) => [c.name, c.added, c.removed]), [['manual', 0, 3]]);
  t.deepEqual(await setEntries(api, 'manual.couic'), []);
});

test('a hand-written set file with mode 644 is refused at reload (not loaded), loaded once 600', async (t) => {
  const { daemon, api } = await setup(t);
  const file = setFile(daemon, 'drop', 'loose');
  await writeFile(file, '198.51.100.0/24\n', { mode: 0o600 });
  await chmod(file, 0o644);
  const reload = await statusOf(api.sets.reloadSets({}));
  t.true(['OK', 'FAILED_PRECONDITION'].includes(reload.code), `${reload.code}: ${reload.details}`);
  t.deepEqual(await setEntries(api, 'loose.couic'), []);
  t.is((await api.rules.checkAddress({ address: '198.51.100.1' })).verdict, Verdict.VERDICT_PASS);
  t.false((await api.sets.listSets({ policy: Policy.POLICY_UNSPECIFIED })).sets.some((s) => s.name === 'loose' && s.entryCount > 0));
  const get = await statusOf(api.sets.getSet({ policy: Policy.POLICY_DROP, name: 'loose' }));
  t.true(['FAILED_PRECONDITION', 'NOT_FOUND'].includes(get.code), `${get.code}: ${get.details}`);
  t.true(await daemon.waitForOutput(/loose/), 'the refusal is logged with the file name');

  await chmod(file, 0o600);
  const fixed = await api.sets.reloadSets({});
  t.deepEqual(fixed.changes.map((c) => [c.name, c.added]), [['loose', 1]]);
  t.is((await setEntries(api, 'loose.couic')).length, 1);

  // Loosening the mode of a loaded file unloads it at the next reload.
  await chmod(file, 0o640);
  await statusOf(api.sets.reloadSets({}));
  t.deepEqual(await setEntries(api, 'loose.couic'), []);
});

test('a set file with one bad line, or over 5 MB, is refused as a whole', async (t) => {
  const { daemon, api } = await setup(t);
  await writeFile(setFile(daemon, 'drop', 'badline'), '198.51.100.0/24\n10.0.0.0/33\n', { mode: 0o600 });
  const padding = `# ${'x'.repeat(1022)}\n`.repeat(5 * 1024 + 1);
  await writeFile(setFile(daemon, 'drop', 'huge'), `192.0.2.0/24\n${padding}`, { mode: 0o600 });
  await writeFile(setFile(daemon, 'drop', 'good'), '203.0.113.0/24\n', { mode: 0o600 });
  const reload = await statusOf(api.sets.reloadSets({}));
  t.true(['OK', 'FAILED_PRECONDITION'].includes(reload.code), `${reload.code}: ${reload.details}`);
  t.deepEqual(await setEntries(api, 'badline.couic'), []);
  t.deepEqual(await setEntries(api, 'huge.couic'), []);
  t.is((await setEntries(api, 'good.couic')).length, 1);
});

test('the API refuses to create a set whose file would exceed 5 MB', async (t) => {
  const { api } = await setup(t);
  // Lines of ~37 bytes (already normalised): 150,000 of them are ~5.6 MB, under the
  // drop v6 capacity and the gRPC message limit.
  const cidrs: string[] = [];
  for (let i = 0; i < 150_000; i++) cidrs.push(`2001:db8:1234:5678:9abc:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}:1/128`);
  t.true(cidrs.reduce((n, c) => n + c.length + 1, 0) > 5 * 1024 * 1024);
  await expectGrpcError(t, api.sets.createSet({ policy: Policy.POLICY_DROP, name: 'big', cidrs }), Status.INVALID_ARGUMENT, /5242880|5 ?MB|bytes/);
  t.deepEqual((await api.sets.listSets({ policy: Policy.POLICY_UNSPECIFIED })).sets, []);
});

test('set files present at start are loaded; refused ones do not stop the daemon', async (t) => {
  const dir = await makeTempDir(t, 'couic-s-');
  const workingDir = join(dir, 'work');
  await mkdir(join(workingDir, 'sets', 'drop'), { recursive: true, mode: 0o700 });
  await mkdir(join(workingDir, 'sets', 'ignore'), { recursive: true, mode: 0o700 });
  await writeFile(join(workingDir, 'sets', 'drop', 'boot.couic'), '# at start\n198.18.0.0/15\n2001:db8::/32\n', { mode: 0o600 });
  await writeFile(join(workingDir, 'sets', 'ignore', 'allow.couic'), '198.18.7.0/24\n', { mode: 0o600 });
  await writeFile(join(workingDir, 'sets', 'drop', 'open.couic'), '203.0.113.0/24\n', { mode: 0o600 });
  await chmod(join(workingDir, 'sets', 'drop', 'open.couic'), 0o644);
  const { api } = await setup(t, workingDir);
  t.deepEqual((await setEntries(api, 'boot.couic')).map((e) => e.cidr).sort(), ['198.18.0.0/15', '2001:db8::/32']);
  t.is((await setEntries(api, 'allow.couic')).length, 1);
  t.deepEqual(await setEntries(api, 'open.couic'), []);
  t.is((await api.rules.checkAddress({ address: '198.18.7.7' })).verdict, Verdict.VERDICT_PASS);
  t.is((await api.rules.checkAddress({ address: '198.18.8.8' })).verdict, Verdict.VERDICT_DROP);
});

test('set entries survive a restart (the files are the source of truth) and stay tagged', async (t) => {
  const { daemon, api } = await setup(t);
  await api.sets.createSet({ policy: Policy.POLICY_IGNORE, name: 'keep', cidrs: ['192.0.2.0/24'] });
  await daemon.restart();
  const again = connectUnix(t, daemon.socketPath, daemon.adminToken);
  const entries = await setEntries(again, 'keep.couic');
  t.deepEqual(entries.map((e) => [e.cidr, e.policy, e.expiration, e.source]), [['192.0.2.0/24', Policy.POLICY_IGNORE, 0, EntrySource.ENTRY_SOURCE_SET]]);
});
