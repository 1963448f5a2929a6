// Every cell of the reference RBAC matrix through the real daemon: one client per
// group created with ClientsService.AddClient, each API method called with each
// group's token (allowed -> OK, refused -> PERMISSION_DENIED), plus UNAUTHENTICATED
// for missing, unknown, malformed and revoked tokens.
import anyTest, { type TestFn } from 'ava';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata } from 'nice-grpc';
import { collect, connectUnix, expectGrpcError, statusOf, Status, type CouicClients } from '../helpers/clients.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { dropSpec, Policy } from '../helpers/rules.js';
import { fileScope, makeTempDir } from '../helpers/tmp.js';
import type { TestCerts } from '../helpers/certs.js';
import { makeClusterCerts } from '../helpers/cluster.js';
import { probeSync } from '../helpers/peering-probe.js';

const test = anyTest as TestFn;
const scope = fileScope(test);

const GROUPS = ['admin', 'clientrw', 'clientro', 'peering', 'monitoring'] as const;
type Group = (typeof GROUPS)[number];

let daemon: Daemon;
let admin: CouicClients;
const as: Partial<Record<Group, CouicClients>> = {};

function clientFor(group: Group): CouicClients {
  const clients = as[group];
  if (clients === undefined) throw new Error(`no client for ${group}`);
  return clients;
}

/** Per-cell fixture names/CIDRs, unique per group so cells never interfere. */
const gi = (group: Group): number => GROUPS.indexOf(group) + 1;
const fixtureCidr = (group: Group, slot: number): string => `10.${gi(group)}.${slot}.0/24`;

interface Cell {
  readonly row: string;
  readonly method: string;
  readonly allowed: readonly Group[];
  readonly call: (c: CouicClients, group: Group) => Promise<unknown>;
}

const RULES_WRITE: readonly Group[] = ['admin', 'clientrw'];
const RULES_READ: readonly Group[] = ['admin', 'clientrw', 'clientro'];
const CLIENTS: readonly Group[] = ['admin'];
const STATS: readonly Group[] = ['admin', 'monitoring'];
const SETS_WRITE: readonly Group[] = ['admin', 'clientrw'];
const SETS_READ: readonly Group[] = ['admin', 'clientrw', 'clientro'];
/** Whoever may list rules may watch them. */
const WATCH: readonly Group[] = ['admin', 'clientrw', 'clientro'];
const PEERS: readonly Group[] = ['admin', 'monitoring'];

/** The first message of a Watch stream (then the call is cancelled). */
async function firstWatchMessage(c: CouicClients): Promise<unknown> {
  for await (const response of c.replication.watch({ policy: Policy.POLICY_UNSPECIFIED, tags: [], cursor: '' })) return response;
  return undefined;
}

const CELLS: readonly Cell[] = [
  // clients add/get/list/delete: admin only
  { row: 'clients add', method: 'AddClient', allowed: CLIENTS, call: (c, g) => c.clients.addClient({ name: `new-by-${g}`, group: 'clientro' }) },
  { row: 'clients get', method: 'GetClient', allowed: CLIENTS, call: (c) => c.clients.getClient({ name: 'couicctl' }) },
  { row: 'clients list', method: 'ListClients', allowed: CLIENTS, call: (c) => c.clients.listClients({}) },
  { row: 'clients delete', method: 'DeleteClient', allowed: CLIENTS, call: (c, g) => c.clients.deleteClient({ name: `victim-${g}` }) },
  // drop/ignore add, delete: admin, clientrw
  { row: 'drop add', method: 'AddRule', allowed: RULES_WRITE, call: (c, g) => c.rules.addRule({ rule: dropSpec(fixtureCidr(g, 1)) }) },
  {
    row: 'ignore add',
    method: 'AddRule',
    allowed: RULES_WRITE,
    call: (c, g) => c.rules.addRule({ rule: { ...dropSpec(fixtureCidr(g, 2)), policy: Policy.POLICY_IGNORE } }),
  },
  { row: 'drop add (batch)', method: 'AddRules', allowed: RULES_WRITE, call: (c, g) => c.rules.addRules({ rules: [dropSpec(fixtureCidr(g, 3))] }) },
  { row: 'drop delete', method: 'DeleteRule', allowed: RULES_WRITE, call: (c, g) => c.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: fixtureCidr(g, 10) }) },
  {
    row: 'drop delete (batch)',
    method: 'DeleteRules',
    allowed: RULES_WRITE,
    call: (c, g) => c.rules.deleteRules({ keys: [{ policy: Policy.POLICY_DROP, cidr: fixtureCidr(g, 11) }] }),
  },
  // drop/ignore get, list: admin, clientrw, clientro
  { row: 'drop get', method: 'GetRule', allowed: RULES_READ, call: (c) => c.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '10.200.0.0/16' }) },
  { row: 'drop list', method: 'ListRules', allowed: RULES_READ, call: (c) => collect(c.rules.listRules({ policy: Policy.POLICY_DROP, tags: [], includeSets: false })) },
  { row: 'ignore list', method: 'ListRules', allowed: RULES_READ, call: (c) => collect(c.rules.listRules({ policy: Policy.POLICY_IGNORE, tags: [], includeSets: false })) },
  { row: 'check', method: 'CheckAddress', allowed: RULES_READ, call: (c) => c.rules.checkAddress({ address: '10.200.1.1' }) },
  // stats get/list: admin, monitoring
  { row: 'stats global', method: 'GetGlobalStats', allowed: STATS, call: (c) => c.stats.getGlobalStats({}) },
  { row: 'stats drop (tags)', method: 'GetTagStats', allowed: STATS, call: (c) => c.stats.getTagStats({ policy: Policy.POLICY_DROP }) },
  // sets add, delete, reload: admin, clientrw
  { row: 'sets add', method: 'CreateSet', allowed: SETS_WRITE, call: (c, g) => c.sets.createSet({ policy: Policy.POLICY_DROP, name: `created-by-${g}`, cidrs: [fixtureCidr(g, 20)] }) },
  { row: 'sets update', method: 'UpdateSet', allowed: SETS_WRITE, call: (c, g) => c.sets.updateSet({ policy: Policy.POLICY_DROP, name: `upd-${g}`, cidrs: [fixtureCidr(g, 21)] }) },
  { row: 'sets delete', method: 'DeleteSet', allowed: SETS_WRITE, call: (c, g) => c.sets.deleteSet({ policy: Policy.POLICY_DROP, name: `del-${g}` }) },
  { row: 'sets reload', method: 'ReloadSets', allowed: SETS_WRITE, call: (c) => c.sets.reloadSets({}) },
  // sets get, list: admin, clientrw, clientro
  { row: 'sets get', method: 'GetSet', allowed: SETS_READ, call: (c) => c.sets.getSet({ policy: Policy.POLICY_DROP, name: 'fixture' }) },
  { row: 'sets list', method: 'ListSets', allowed: SETS_READ, call: (c) => c.sets.listSets({ policy: Policy.POLICY_UNSPECIFIED }) },
  // watch: like list; peers list: like stats
  { row: 'watch', method: 'Watch', allowed: WATCH, call: (c) => firstWatchMessage(c) },
  { row: 'peers list', method: 'ListPeers', allowed: PEERS, call: (c) => c.replication.listPeers({}) },
];

test.before(async () => {
  daemon = await startDaemon(scope);
  admin = connectUnix(scope, daemon.socketPath, daemon.adminToken);
  await admin.rules.addRule({ rule: dropSpec('10.200.0.0/16') });
  await admin.sets.createSet({ policy: Policy.POLICY_DROP, name: 'fixture', cidrs: ['10.201.0.0/16'] });
  for (const group of GROUPS) {
    const { client } = await admin.clients.addClient({ name: `member-${group}`, group });
    if (client === undefined) throw new Error('AddClient returned no client');
    as[group] = connectUnix(scope, daemon.socketPath, client.token);
    await admin.clients.addClient({ name: `victim-${group}`, group: 'clientro' });
    await admin.rules.addRules({ rules: [dropSpec(fixtureCidr(group, 10)), dropSpec(fixtureCidr(group, 11))] });
    await admin.sets.createSet({ policy: Policy.POLICY_DROP, name: `upd-${group}`, cidrs: [fixtureCidr(group, 22)] });
    await admin.sets.createSet({ policy: Policy.POLICY_DROP, name: `del-${group}`, cidrs: [fixtureCidr(group, 23)] });
  }
});

test('AddClient returns a UUIDv4 token and the group asked for', async (t) => {
  const { client } = await admin.clients.addClient({ name: 'uuid-check', group: 'monitoring' });
  t.is(client?.name, 'uuid-check');
  t.is(client?.group, 'monitoring');
  t.regex(client?.token ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

for (const cell of CELLS) {
  for (const group of GROUPS) {
    const allowed = cell.allowed.includes(group);
    test(`${cell.row} (${cell.method}): ${group} ${allowed ? 'allowed' : 'refused'}`, async (t) => {
      const result = await statusOf(cell.call(clientFor(group), group));
      if (allowed) {
        t.is(result.code, 'OK', result.details);
      } else {
        t.is(result.code, 'PERMISSION_DENIED', result.details);
        t.regex(result.details, new RegExp(`member-${group}|${group}`));
      }
    });
  }
}

// peer (replicate entries in): PeeringService.Sync on a peering-enabled node, called
// over TLS with a valid node certificate of the cluster CA and each group's token.
let peeringNode: Promise<{ daemon: Daemon; tokens: Record<Group, string>; certs: TestCerts; peerCerts: TestCerts }> | undefined;

function startPeeringNode(): NonNullable<typeof peeringNode> {
  peeringNode ??= (async () => {
    const certs = await makeClusterCerts(join(await makeTempDir(scope, 'couic-rp-'), 'certs'), ['rbac-node', 'rbac-peer']);
    const own = certs.get('rbac-node');
    const peerCerts = certs.get('rbac-peer');
    if (own === undefined || peerCerts === undefined) throw new Error('no cluster certificates');
    const node = await startDaemon(scope, { tls: true, certs: own, nodeId: 'rbac-node', configExtra: '[peering]\nenabled = true' });
    const nodeAdmin = connectUnix(scope, node.socketPath, node.adminToken);
    const tokens: Partial<Record<Group, string>> = {};
    for (const group of GROUPS) {
      const { client } = await nodeAdmin.clients.addClient({ name: `peer-${group}`, group });
      tokens[group] = client?.token ?? '';
    }
    return { daemon: node, tokens: tokens as Record<Group, string>, certs: own, peerCerts };
  })();
  return peeringNode;
}

const PEER: readonly Group[] = ['admin', 'peering'];
for (const group of GROUPS) {
  const allowed = PEER.includes(group);
  test(`peer (Sync): ${group} ${allowed ? 'allowed' : 'refused'}`, async (t) => {
    const { daemon: node, tokens, peerCerts } = await startPeeringNode();
    const listen = node.listen;
    if (listen === undefined) return t.fail('no TLS listener');
    const result = await probeSync({
      host: '127.0.0.1',
      port: listen.port,
      caPem: peerCerts.ca.certPem,
      certPem: peerCerts.client.certPem,
      keyPem: peerCerts.client.keyPem,
      token: tokens[group],
      nodeId: `probe-${group}`,
    });
    if (allowed) {
      t.is(result.code, 'OK', result.details);
      t.is(result.first?.message?.$case, 'hello');
    } else {
      t.is(result.code, 'PERMISSION_DENIED', result.details);
      t.regex(result.details, new RegExp(`peer-${group}.*may not peering; allowed groups: admin, peering`));
    }
  });
}

// ---------------------------------------------------------------- authentication

for (const cell of CELLS) {
  test(`${cell.method} (${cell.row}) without a token is UNAUTHENTICATED`, async (t) => {
    const anonymous = connectUnix(t, daemon.socketPath, undefined);
    const result = await statusOf(cell.call(anonymous, 'admin'));
    t.is(result.code, 'UNAUTHENTICATED', result.details);
  });
  test(`${cell.method} (${cell.row}) with an unknown token is UNAUTHENTICATED`, async (t) => {
    const stranger = connectUnix(t, daemon.socketPath, randomUUID());
    const result = await statusOf(cell.call(stranger, 'admin'));
    t.is(result.code, 'UNAUTHENTICATED', result.details);
  });
}

for (const header of ['', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Token x', 'Bearer a b', 'Bearer not-a-uuid']) {
  test(`authorization header ${JSON.stringify(header)} is UNAUTHENTICATED`, async (t) => {
    const anonymous = connectUnix(t, daemon.socketPath, undefined);
    const metadata = Metadata({ authorization: header });
    await expectGrpcError(t, anonymous.clients.listClients({}, { metadata }), Status.UNAUTHENTICATED);
  });
}

test('the admin token in another scheme case still works ("bearer")', async (t) => {
  const anonymous = connectUnix(t, daemon.socketPath, undefined);
  const metadata = Metadata({ authorization: `bearer ${daemon.adminToken}` });
  const result = await statusOf(anonymous.clients.listClients({}, { metadata }));
  t.is(result.code, 'OK', result.details);
});

test('a deleted client is refused afterwards (UNAUTHENTICATED)', async (t) => {
  const { client } = await admin.clients.addClient({ name: 'short-lived', group: 'clientrw' });
  const own = connectUnix(t, daemon.socketPath, client?.token);
  t.is((await statusOf(collect(own.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: false })))).code, 'OK');
  await admin.clients.deleteClient({ name: 'short-lived' });
  await expectGrpcError(t, collect(own.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: false })), Status.UNAUTHENTICATED);
});

test('health needs no token', async (t) => {
  const anonymous = connectUnix(t, daemon.socketPath, undefined);
  const answer = await anonymous.health.check({ service: '' });
  t.is(answer.status, 1);
});

// ---------------------------------------------------------------- clients service errors

test('clients: bad name or group is INVALID_ARGUMENT, duplicates ALREADY_EXISTS, unknown NOT_FOUND', async (t) => {
  await expectGrpcError(t, admin.clients.addClient({ name: 'n'.repeat(49), group: 'admin' }), Status.INVALID_ARGUMENT, /name/);
  await expectGrpcError(t, admin.clients.addClient({ name: 'bad name', group: 'admin' }), Status.INVALID_ARGUMENT, /name/);
  await expectGrpcError(t, admin.clients.addClient({ name: '', group: 'admin' }), Status.INVALID_ARGUMENT, /name/);
  await expectGrpcError(t, admin.clients.addClient({ name: 'ok-name', group: 'root' }), Status.INVALID_ARGUMENT, /group/);
  await expectGrpcError(t, admin.clients.addClient({ name: 'couicctl', group: 'admin' }), Status.ALREADY_EXISTS);
  await expectGrpcError(t, admin.clients.getClient({ name: 'nobody' }), Status.NOT_FOUND);
  await expectGrpcError(t, admin.clients.deleteClient({ name: 'nobody' }), Status.NOT_FOUND);
  const { client } = await admin.clients.addClient({ name: 'n'.repeat(48), group: 'clientro' });
  t.is(client?.name, 'n'.repeat(48));
});

test('clients list and get show the created clients with their groups', async (t) => {
  const { clients } = await admin.clients.listClients({});
  const byName = new Map(clients.map((c) => [c.name, c.group]));
  t.is(byName.get('couicctl'), 'admin');
  for (const group of GROUPS) t.is(byName.get(`member-${group}`), group);
  const { client } = await admin.clients.getClient({ name: 'member-peering' });
  t.is(client?.group, 'peering');
});

// ---------------------------------------------------------------- client files on disk (own daemons)

test('client files written by hand: mode 600 is loaded at start, mode 644 is refused with a log line', async (t) => {
  const dir = await makeTempDir(t, 'couic-r-');
  const workingDir = join(dir, 'work');
  const clientsDir = join(workingDir, 'rbac', 'clients');
  await mkdir(clientsDir, { recursive: true, mode: 0o700 });
  const goodToken = randomUUID();
  const looseToken = randomUUID();
  // The default admin client is only made on a first start with no clients at all.
  await writeFile(join(clientsDir, 'couicctl.toml'), `name = "couicctl"\ngroup = "admin"\ntoken = "${randomUUID()}"\n`, { mode: 0o600 });
  await writeFile(join(clientsDir, 'handmade.toml'), `name = "handmade"\ngroup = "clientro"\ntoken = "${goodToken}"\n`, { mode: 0o600 });
  await writeFile(join(clientsDir, 'loose.toml'), `name = "loose"\ngroup = "admin"\ntoken = "${looseToken}"\n`, { mode: 0o600 });
  await chmod(join(clientsDir, 'loose.toml'), 0o644);
  const own = await startDaemon(t, { workingDir });
  const handmade = connectUnix(t, own.socketPath, goodToken);
  t.is((await statusOf(collect(handmade.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: false })))).code, 'OK');
  t.is((await statusOf(handmade.rules.addRule({ rule: dropSpec('192.0.2.1/32') }))).code, 'PERMISSION_DENIED');
  const loose = connectUnix(t, own.socketPath, looseToken);
  t.is((await statusOf(loose.clients.listClients({}))).code, 'UNAUTHENTICATED');
  t.true(await own.waitForOutput(/loose/), 'the refused file is named in the log');
});

test('AddClient writes a private client file with the token', async (t) => {
  const own = await startDaemon(t);
  const api = connectUnix(t, own.socketPath, own.adminToken);
  const { client } = await api.clients.addClient({ name: 'filed', group: 'monitoring' });
  const file = join(own.workingDir, 'rbac', 'clients', 'filed.toml');
  t.is((await stat(file)).mode & 0o777, 0o600);
  const text = await readFile(file, 'utf8');
  t.regex(text, new RegExp(`token = "${client?.token ?? 'missing'}"`));
  t.regex(text, /group = "monitoring"/);
  await api.clients.deleteClient({ name: 'filed' });
  await t.throwsAsync(stat(file), { code: 'ENOENT' });
});
