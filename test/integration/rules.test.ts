// Rules API against the real daemon: CRUD, normalisation, batches (10,000 entries,
// all-or-nothing), every error code of the rules service, capacity, LPM and
// ignore-over-drop in CheckAddress, and expiry.
import anyTest, { type TestFn } from 'ava';
import { Verdict } from '../../src/generated/couic/v1/rules.js';
import { EntrySource } from '../../src/generated/couic/v1/entry.js';
import { ChannelCredentials } from '@grpc/grpc-js';
import { collect, connectUnix, expectGrpcError, openClients, Status, type CouicClients } from '../helpers/clients.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { dropSpec, eventually, ignoreSpec, nowSeconds, Policy, v4Hosts, v6Hosts } from '../helpers/rules.js';
import { fileScope } from '../helpers/tmp.js';

const test = anyTest as TestFn;
const scope = fileScope(test);
let api: CouicClients;
let shared: Daemon;

// One daemon for the tests that use disjoint CIDRs/tags; tests that fill maps start their own.
test.before(async () => {
  shared = await startDaemon(scope);
  api = connectUnix(scope, shared.socketPath, shared.adminToken);
});

test('add, get, list, delete one rule; the CIDR is normalised', async (t) => {
  const added = await api.rules.addRule({ rule: dropSpec('192.168.1.200/24', { tag: 'crud' }) });
  t.is(added.entry?.cidr, '192.168.1.0/24');
  t.is(added.entry?.policy, Policy.POLICY_DROP);
  t.is(added.entry?.tag, 'crud');
  t.is(added.entry?.expiration, 0);
  t.is(added.entry?.source, EntrySource.ENTRY_SOURCE_API);
  t.truthy(added.entry?.originNode);
  t.true(Math.abs((added.entry?.createdAt ?? 0) - nowSeconds()) < 120, 'createdAt is about now');

  // Any address of the network finds it.
  const got = await api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '192.168.1.7/24' });
  t.deepEqual(got.entry, added.entry);

  const listed = await collect(api.rules.listRules({ policy: Policy.POLICY_DROP, tags: ['crud'], includeSets: false }));
  t.deepEqual(listed, [added.entry]);
  const ignoreListed = await collect(api.rules.listRules({ policy: Policy.POLICY_IGNORE, tags: ['crud'], includeSets: false }));
  t.deepEqual(ignoreListed, []);

  const deleted = await api.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '192.168.1.0/24' });
  t.is(deleted.entry?.cidr, '192.168.1.0/24');
  await expectGrpcError(t, api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '192.168.1.0/24' }), Status.NOT_FOUND);
  t.deepEqual(await collect(api.rules.listRules({ policy: Policy.POLICY_DROP, tags: ['crud'], includeSets: false })), []);
});

test('IPv6 normalisation is visible through the API', async (t) => {
  const added = await api.rules.addRule({ rule: dropSpec('2001:DB8::1/32', { tag: 'v6norm' }) });
  t.is(added.entry?.cidr, '2001:db8::/32');
  const got = await api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '2001:db8:ffff::/32' });
  t.is(got.entry?.cidr, '2001:db8::/32');
  const mapped = await api.rules.addRule({ rule: dropSpec('::ffff:1.2.3.4/128', { tag: 'v6norm' }) });
  t.is(mapped.entry?.cidr, '::ffff:1.2.3.4/128');
});

test('adding the same network twice is one entry (replaced, not duplicated)', async (t) => {
  const first = await api.rules.addRules({ rules: [dropSpec('172.16.5.9/16', { tag: 'twice' })] });
  t.deepEqual(first, { added: 1, replaced: 0 });
  const second = await api.rules.addRules({ rules: [dropSpec('172.16.200.1/16', { tag: 'twice' })] });
  t.deepEqual(second, { added: 0, replaced: 1 });
  const listed = await collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: ['twice'], includeSets: false }));
  t.deepEqual(listed.map((e) => e.cidr), ['172.16.0.0/16']);
});

test('the same CIDR may exist once per policy', async (t) => {
  await api.rules.addRule({ rule: dropSpec('100.64.0.0/10', { tag: 'both' }) });
  await api.rules.addRule({ rule: ignoreSpec('100.64.0.0/10', { tag: 'both' }) });
  const listed = await collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: ['both'], includeSets: false }));
  t.deepEqual(listed.map((e) => e.policy).sort(), [Policy.POLICY_DROP, Policy.POLICY_IGNORE]);
  await api.rules.deleteRule({ policy: Policy.POLICY_IGNORE, cidr: '100.64.0.0/10' });
  const after = await collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: ['both'], includeSets: false }));
  t.deepEqual(after.map((e) => e.policy), [Policy.POLICY_DROP]);
});

test('list filters by tag with * wildcards and "untagged"', async (t) => {
  await api.rules.addRules({
    rules: [
      dropSpec('198.18.1.0/24', { tag: 'scan-ssh' }),
      dropSpec('198.18.2.0/24', { tag: 'scan-http' }),
      dropSpec('198.18.3.0/24', { tag: 'bruteforce' }),
      ignoreSpec('198.18.4.0/24'),
    ],
  });
  const cidrs = async (tags: string[]) =>
    (await collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags, includeSets: false })))
      .map((e) => e.cidr)
      .filter((c) => c.startsWith('198.18.'))
      .sort();
  t.deepEqual(await cidrs(['scan-*']), ['198.18.1.0/24', '198.18.2.0/24']);
  t.deepEqual(await cidrs(['*ssh', 'brute*']), ['198.18.1.0/24', '198.18.3.0/24']);
  t.deepEqual(await cidrs(['untagged']), ['198.18.4.0/24']);
  t.deepEqual(await cidrs(['scan-ssh']), ['198.18.1.0/24']);
  t.deepEqual(await cidrs(['scan']), []);
});

test('metadata is kept and returned', async (t) => {
  const added = await api.rules.addRule({
    rule: dropSpec('203.0.113.7/32', { tag: 'meta', metadata: { kind: 'ids', detail: 'sid 2001219', extra: { score: 9, why: 'ssh' } } }),
  });
  t.deepEqual(added.entry?.metadata, { kind: 'ids', detail: 'sid 2001219', extra: { score: 9, why: 'ssh' } });
  const got = await api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '203.0.113.7/32' });
  t.deepEqual(got.entry?.metadata, added.entry?.metadata);
});

test('batch of 10,000 entries, then list counts them', async (t) => {
  const cidrs = v4Hosts(10_000, 11);
  const answer = await api.rules.addRules({ rules: cidrs.map((cidr) => dropSpec(cidr, { tag: 'batch10k' })) });
  t.deepEqual(answer, { added: 10_000, replaced: 0 });
  const listed = await collect(api.rules.listRules({ policy: Policy.POLICY_DROP, tags: ['batch10k'], includeSets: false }));
  t.is(listed.length, 10_000);
  t.deepEqual(new Set(listed.map((e) => e.cidr)), new Set(cidrs));
  // DeleteRules removes them in one call.
  const removed = await api.rules.deleteRules({ keys: cidrs.map((cidr) => ({ policy: Policy.POLICY_DROP, cidr })) });
  t.is(removed.deleted, 10_000);
  t.is((await collect(api.rules.listRules({ policy: Policy.POLICY_DROP, tags: ['batch10k'], includeSets: false }))).length, 0);
});

test('batch is all-or-nothing: one bad entry adds nothing and the error names its index', async (t) => {
  const rules = [
    dropSpec('192.0.2.1/32', { tag: 'aon' }),
    dropSpec('192.0.2.2/32', { tag: 'aon' }),
    ignoreSpec('192.0.2.3/32', { tag: 'aon' }),
    dropSpec('192.0.2.4/33', { tag: 'aon' }),
    dropSpec('192.0.2.5/32', { tag: 'aon' }),
  ];
  const error = await expectGrpcError(t, api.rules.addRules({ rules }), Status.INVALID_ARGUMENT, /rules\[3\]\.cidr/);
  t.notRegex(error?.details ?? '', /rules\[[0124]\]/);
  const listed = await collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: ['aon'], includeSets: false }));
  t.deepEqual(listed, []);
});

test('batch reports every bad entry and field at once', async (t) => {
  const rules = [
    dropSpec('192.0.2.10/32', { tag: 'aon2' }),
    dropSpec('192.0.2.11/32', { tag: 'bad.couic' }),
    dropSpec('192.0.2.12/32', { tag: 'aon2', expiration: 5 }),
    { ...dropSpec('192.0.2.13/32', { tag: 'aon2' }), policy: Policy.POLICY_UNSPECIFIED },
    dropSpec('not-a-cidr', { tag: 'x'.repeat(65) }),
  ];
  const error = await expectGrpcError(t, api.rules.addRules({ rules }), Status.INVALID_ARGUMENT);
  const details = error?.details ?? '';
  for (const field of ['rules[1].tag', 'rules[2].expiration', 'rules[3].policy', 'rules[4].cidr', 'rules[4].tag']) {
    t.true(details.includes(field), `${field} in: ${details}`);
  }
  t.false(details.includes('rules[0]'), details);
  await expectGrpcError(t, api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '192.0.2.10/32' }), Status.NOT_FOUND);
});

test('an empty batch is refused', async (t) => {
  await expectGrpcError(t, api.rules.addRules({ rules: [] }), Status.INVALID_ARGUMENT, /rules/);
  await expectGrpcError(t, api.rules.deleteRules({ keys: [] }), Status.INVALID_ARGUMENT, /keys/);
});

const badSingles: ReadonlyArray<[string, ReturnType<typeof dropSpec>, RegExp]> = [
  ['cidr without prefix', dropSpec('10.9.9.9'), /cidr/],
  ['cidr /33', dropSpec('10.9.9.9/33'), /cidr/],
  ['cidr /0', dropSpec('10.9.9.9/0'), /cidr/],
  ['cidr with whitespace', dropSpec(' 10.9.9.9/32'), /cidr/],
  ['empty cidr', dropSpec(''), /cidr/],
  ['cidr /129', dropSpec('2001:db8::/129'), /cidr/],
  ['tag of 65 chars', dropSpec('10.9.9.9/32', { tag: 'a'.repeat(65) }), /tag/],
  ['tag with a space', dropSpec('10.9.9.9/32', { tag: 'a b' }), /tag/],
  ['tag ending in .couic', dropSpec('10.9.9.9/32', { tag: 'x.COUIC' }), /tag/],
  ['tag "untagged"', dropSpec('10.9.9.9/32', { tag: 'Untagged' }), /tag/],
  ['expiration in the past', dropSpec('10.9.9.9/32', { expiration: 1_000 }), /expiration/],
  ['negative expiration', dropSpec('10.9.9.9/32', { expiration: -5 }), /expiration/],
  ['unspecified policy', { ...dropSpec('10.9.9.9/32'), policy: Policy.POLICY_UNSPECIFIED }, /policy/],
  ['unknown policy number', { ...dropSpec('10.9.9.9/32'), policy: 7 as Policy }, /policy/],
];

for (const [why, rule, field] of badSingles) {
  test(`AddRule refuses ${why} with INVALID_ARGUMENT naming the field`, async (t) => {
    await expectGrpcError(t, api.rules.addRule({ rule }), Status.INVALID_ARGUMENT, field);
  });
}

test('AddRule without a rule is INVALID_ARGUMENT', async (t) => {
  await expectGrpcError(t, api.rules.addRule({ rule: undefined }), Status.INVALID_ARGUMENT, /rule/);
});

test('AddRule names every bad field of one rule', async (t) => {
  const rule = { ...dropSpec('10.9.9.9/40', { tag: 'b@d', expiration: -1 }), policy: Policy.POLICY_UNSPECIFIED };
  const error = await expectGrpcError(t, api.rules.addRule({ rule }), Status.INVALID_ARGUMENT);
  for (const field of ['policy', 'cidr', 'tag', 'expiration']) t.regex(error?.details ?? '', new RegExp(field));
});

test('Get/Delete/Check with bad input are INVALID_ARGUMENT', async (t) => {
  await expectGrpcError(t, api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '10.0.0.0/99' }), Status.INVALID_ARGUMENT, /cidr/);
  await expectGrpcError(t, api.rules.getRule({ policy: Policy.POLICY_UNSPECIFIED, cidr: '10.0.0.0/8' }), Status.INVALID_ARGUMENT, /policy/);
  await expectGrpcError(t, api.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: 'x' }), Status.INVALID_ARGUMENT, /cidr/);
  await expectGrpcError(t, api.rules.deleteRule({ policy: Policy.POLICY_UNSPECIFIED, cidr: '10.0.0.0/8' }), Status.INVALID_ARGUMENT, /policy/);
  await expectGrpcError(t, api.rules.checkAddress({ address: '10.0.0.0/8' }), Status.INVALID_ARGUMENT, /address/);
  await expectGrpcError(t, api.rules.checkAddress({ address: '' }), Status.INVALID_ARGUMENT, /address/);
  await expectGrpcError(
    t,
    api.rules.deleteRules({ keys: [{ policy: Policy.POLICY_DROP, cidr: '10.0.0.0/8' }, { policy: Policy.POLICY_DROP, cidr: 'bad' }] }),
    Status.INVALID_ARGUMENT,
    /keys\[1\]\.cidr/,
  );
  await expectGrpcError(t, collect(api.rules.listRules({ policy: 9 as Policy, tags: [], includeSets: false })), Status.INVALID_ARGUMENT, /policy/);
});

test('NOT_FOUND on get and delete of an unknown rule', async (t) => {
  await expectGrpcError(t, api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '198.51.100.0/24' }), Status.NOT_FOUND);
  await expectGrpcError(t, api.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '198.51.100.0/24' }), Status.NOT_FOUND);
  // Present as ignore only: drop lookup is still NOT_FOUND.
  await api.rules.addRule({ rule: ignoreSpec('198.51.100.0/25') });
  await expectGrpcError(t, api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '198.51.100.0/25' }), Status.NOT_FOUND);
  // A longer or shorter prefix is another key.
  await expectGrpcError(t, api.rules.getRule({ policy: Policy.POLICY_IGNORE, cidr: '198.51.100.0/26' }), Status.NOT_FOUND);
});

test('DeleteRules is all-or-nothing when one key is unknown', async (t) => {
  await api.rules.addRules({ rules: [dropSpec('192.0.2.100/32'), dropSpec('192.0.2.101/32')] });
  const keys = [
    { policy: Policy.POLICY_DROP, cidr: '192.0.2.100/32' },
    { policy: Policy.POLICY_DROP, cidr: '192.0.2.199/32' },
    { policy: Policy.POLICY_DROP, cidr: '192.0.2.101/32' },
  ];
  await expectGrpcError(t, api.rules.deleteRules({ keys }), Status.NOT_FOUND, /192\.0\.2\.199/);
  t.is((await api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '192.0.2.100/32' })).entry?.cidr, '192.0.2.100/32');
  t.is((await api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '192.0.2.101/32' })).entry?.cidr, '192.0.2.101/32');
});

test('CheckAddress: longest prefix match (reference example)', async (t) => {
  await api.rules.addRules({ rules: [dropSpec('192.168.50.0/24', { tag: 'lpm24' }), dropSpec('192.168.50.0/25', { tag: 'lpm25' })] });
  const inside = await api.rules.checkAddress({ address: '192.168.50.10' });
  t.is(inside.verdict, Verdict.VERDICT_DROP);
  t.is(inside.decisive?.cidr, '192.168.50.0/25');
  t.is(inside.dropMatch?.cidr, '192.168.50.0/25');
  t.is(inside.ignoreMatch, undefined);
  const upper = await api.rules.checkAddress({ address: '192.168.50.200' });
  t.is(upper.decisive?.cidr, '192.168.50.0/24');
  const outside = await api.rules.checkAddress({ address: '192.168.51.1' });
  t.is(outside.verdict, Verdict.VERDICT_PASS);
  t.is(outside.decisive, undefined);
  t.is(outside.dropMatch, undefined);
});

test('CheckAddress: ignore beats drop, even a more specific drop', async (t) => {
  await api.rules.addRules({
    rules: [ignoreSpec('10.77.0.0/16', { tag: 'wl' }), dropSpec('10.77.1.2/32', { tag: 'bl' }), dropSpec('10.0.0.0/8', { tag: 'bl' })],
  });
  const hit = await api.rules.checkAddress({ address: '10.77.1.2' });
  t.is(hit.verdict, Verdict.VERDICT_PASS);
  t.is(hit.decisive?.cidr, '10.77.0.0/16');
  t.is(hit.decisive?.policy, Policy.POLICY_IGNORE);
  t.is(hit.ignoreMatch?.cidr, '10.77.0.0/16');
  t.is(hit.dropMatch?.cidr, '10.77.1.2/32');
  const dropped = await api.rules.checkAddress({ address: '10.78.0.1' });
  t.is(dropped.verdict, Verdict.VERDICT_DROP);
  t.is(dropped.decisive?.cidr, '10.0.0.0/8');
  t.is(dropped.ignoreMatch, undefined);
});

test('CheckAddress: IPv6, and v4 rules never match v6 addresses', async (t) => {
  await api.rules.addRules({ rules: [dropSpec('2001:db8:aa::/48'), dropSpec('2001:db8:aa:1::/64'), dropSpec('1.2.3.0/24')] });
  const hit = await api.rules.checkAddress({ address: '2001:db8:aa:1::99' });
  t.is(hit.verdict, Verdict.VERDICT_DROP);
  t.is(hit.decisive?.cidr, '2001:db8:aa:1::/64');
  t.is((await api.rules.checkAddress({ address: '2001:db8:aa:2::1' })).decisive?.cidr, '2001:db8:aa::/48');
  // (::ffff:1.2.3.4/128 itself is added by another test of this file.)
  const mapped = await api.rules.checkAddress({ address: '::ffff:1.2.3.5' });
  t.is(mapped.verdict, Verdict.VERDICT_PASS);
  t.is(mapped.dropMatch, undefined);
  t.is((await api.rules.checkAddress({ address: '1.2.3.5' })).decisive?.cidr, '1.2.3.0/24');
});

test('a rule with a near expiration disappears from get, list and check on its own', async (t) => {
  // Far enough ahead that the checks right after the add run before it (the box may be loaded).
  const expiration = nowSeconds() + 4;
  await api.rules.addRule({ rule: dropSpec('192.0.2.77/32', { tag: 'expiring', expiration }) });
  const got = await api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '192.0.2.77/32' });
  t.is(got.entry?.expiration, expiration);
  const verdict = (await api.rules.checkAddress({ address: '192.0.2.77' })).verdict;
  t.true(verdict === Verdict.VERDICT_DROP || nowSeconds() >= expiration, 'dropped until it expires');

  const gone = await eventually(async () => {
    const listed = await collect(api.rules.listRules({ policy: Policy.POLICY_DROP, tags: ['expiring'], includeSets: false }));
    return listed.length === 0;
  }, 30_000);
  t.true(gone, 'gone from list');
  t.true(nowSeconds() >= expiration, 'not before its expiration');
  // Once gone from the list, it is gone everywhere (reads hide expired entries at once).
  await expectGrpcError(t, api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '192.0.2.77/32' }), Status.NOT_FOUND);
  t.is((await api.rules.checkAddress({ address: '192.0.2.77' })).verdict, Verdict.VERDICT_PASS);
});

test('each rule change is logged with client, group, policy, cidr, tag and expiry', async (t) => {
  const expiration = nowSeconds() + 3_600;
  await api.rules.addRule({ rule: dropSpec('192.0.2.201/32', { tag: 'audited', expiration }) });
  await api.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '192.0.2.201/32' });
  const audit = (): Record<string, unknown>[] =>
    shared
      .output()
      .split('\n')
      .filter((line) => line.startsWith('[out] {'))
      .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>)
      .filter((r) => r['cidr'] === '192.0.2.201/32');
  // The log reaches us through a pipe, possibly after the call's answer.
  await eventually(async () => audit().length >= 2, 5_000, 50);
  const records = audit();
  t.is(records.length, 2, 'one record for the add, one for the delete');
  for (const record of records) {
    t.like(record, { client: 'couicctl', group: 'admin', policy: 'drop', cidr: '192.0.2.201/32', tag: 'audited', expiration });
  }
});

// ---------------------------------------------------------------- capacity (own daemons)

test('drop map holds 262,144 IPv4 entries; one more is RESOURCE_EXHAUSTED', async (t) => {
  const daemon = await startDaemon(t);
  const own = connectUnix(t, daemon.socketPath, daemon.adminToken);
  t.deepEqual(await own.rules.addRules({ rules: v4Hosts(262_144, 40).map((c) => dropSpec(c)) }), { added: 262_144, replaced: 0 });
  await expectGrpcError(t, own.rules.addRule({ rule: dropSpec('41.0.0.1/32') }), Status.RESOURCE_EXHAUSTED);
  await expectGrpcError(t, own.rules.addRules({ rules: [dropSpec('41.0.0.2/32'), dropSpec('2001:db8::9/128')] }), Status.RESOURCE_EXHAUSTED);
  await expectGrpcError(t, own.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '2001:db8::9/128' }), Status.NOT_FOUND);
  t.is((await own.rules.addRule({ rule: dropSpec('2001:db8::9/128') })).entry?.cidr, '2001:db8::9/128');
  t.is((await own.stats.getGlobalStats({})).dropCidrCount, 262_145);
  // Listing them all works with grpc-js default limits (4 MiB per message): the list is chunked.
  const plain = openClients({ target: `unix:${daemon.socketPath}`, credentials: ChannelCredentials.createInsecure(), channelOptions: {} }, daemon.adminToken);
  t.teardown(() => plain.close());
  const listed = await collect(plain.rules.listRules({ policy: Policy.POLICY_DROP, tags: [], includeSets: false }));
  t.is(listed.length, 262_145);
});

test('ignore map holds 65,536 IPv4 entries; one more is RESOURCE_EXHAUSTED and nothing changes', async (t) => {
  const daemon = await startDaemon(t);
  const own = connectUnix(t, daemon.socketPath, daemon.adminToken);
  const cidrs = v4Hosts(65_536, 20);
  t.deepEqual(await own.rules.addRules({ rules: cidrs.map((c) => ignoreSpec(c)) }), { added: 65_536, replaced: 0 });
  await expectGrpcError(t, own.rules.addRule({ rule: ignoreSpec('21.0.0.1/32') }), Status.RESOURCE_EXHAUSTED);
  await expectGrpcError(t, own.rules.getRule({ policy: Policy.POLICY_IGNORE, cidr: '21.0.0.1/32' }), Status.NOT_FOUND);
  // Replacing an existing key does not need room.
  const replaced = await own.rules.addRules({ rules: [ignoreSpec(cidrs[0] ?? '', { tag: 'again' })] });
  t.deepEqual(replaced, { added: 0, replaced: 1 });
  // Capacity is per family and per policy.
  t.is((await own.rules.addRule({ rule: ignoreSpec('2001:db8::1/128') })).entry?.cidr, '2001:db8::1/128');
  t.is((await own.rules.addRule({ rule: dropSpec('21.0.0.1/32') })).entry?.cidr, '21.0.0.1/32');
  const ignored = await collect(own.rules.listRules({ policy: Policy.POLICY_IGNORE, tags: [], includeSets: false }));
  t.is(ignored.filter((e) => !e.cidr.includes(':')).length, 65_536);
});

test('a batch crossing the capacity adds nothing (not half-applied)', async (t) => {
  const daemon = await startDaemon(t);
  const own = connectUnix(t, daemon.socketPath, daemon.adminToken);
  await own.rules.addRules({ rules: v4Hosts(65_000, 30).map((c) => ignoreSpec(c)) });
  // 536 still fit; 1,000 new ones (plus a v6 one that would fit) do not.
  const crossing = [...v4Hosts(1_000, 31).map((c) => ignoreSpec(c, { tag: 'crossing' })), ignoreSpec('2001:db8::2/128', { tag: 'crossing' })];
  await expectGrpcError(t, own.rules.addRules({ rules: crossing }), Status.RESOURCE_EXHAUSTED);
  const listed = await collect(own.rules.listRules({ policy: Policy.POLICY_IGNORE, tags: [], includeSets: false }));
  t.is(listed.length, 65_000);
  t.is(listed.filter((e) => e.tag === 'crossing').length, 0);
  // Exactly the remaining room still fits.
  t.deepEqual(await own.rules.addRules({ rules: v4Hosts(536, 32).map((c) => ignoreSpec(c)) }), { added: 536, replaced: 0 });
  await expectGrpcError(t, own.rules.addRule({ rule: ignoreSpec('33.0.0.1/32') }), Status.RESOURCE_EXHAUSTED);
});

test('IPv6 ignore capacity is separate and also 65,536', async (t) => {
  const daemon = await startDaemon(t);
  const own = connectUnix(t, daemon.socketPath, daemon.adminToken);
  t.deepEqual(await own.rules.addRules({ rules: v6Hosts(65_536, 7).map((c) => ignoreSpec(c)) }), { added: 65_536, replaced: 0 });
  await expectGrpcError(t, own.rules.addRule({ rule: ignoreSpec('2001:db8:8::1/128') }), Status.RESOURCE_EXHAUSTED);
  t.is((await own.rules.addRule({ rule: ignoreSpec('9.9.9.9/32') })).entry?.cidr, '9.9.9.9/32');
});
