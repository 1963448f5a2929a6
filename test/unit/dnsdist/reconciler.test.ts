// The pure reconciler and the applier, driven on the fake dnsdist with a fake clock.
import test from 'ava';
import { BlockApplier } from '../../../src/dnsdist/block-applier.js';
import { computeDesiredBlocks } from '../../../src/dnsdist/desired-blocks.js';
import { FakeDnsdist } from '../../../src/dnsdist/fake-dnsdist.js';
import { RuleMirror, type MirroredRule } from '../../../src/dnsdist/mirrored-rule.js';
import { lifetimeBucket, NEVER_SECONDS, planBlocks } from '../../../src/dnsdist/reconciler.js';

const T0 = 1_800_000_000;
const drop = (cidr: string, expiration = 0, tag = 't'): MirroredRule => ({ policy: 'drop', cidr, tag, expiration });
const ignore = (cidr: string, expiration = 0): MirroredRule => ({ policy: 'ignore', cidr, tag: '', expiration });
const opts = { reasonPrefix: 'couic:', action: 'DNSAction.Drop' };

function setup() {
  const clock = { now: T0 };
  const dnsdist = new FakeDnsdist(() => clock.now);
  const applier = new BlockApplier({ reasonPrefix: 'couic:', action: 'drop' });
  const mirror = new RuleMirror();
  const sync = () => applier.sync(dnsdist, computeDesiredBlocks(mirror.values(), clock.now), clock.now);
  return { clock, dnsdist, applier, mirror, sync };
}

test('desired: hosts, wide prefixes with ignore exceptions, drops covered by an ignore left out', (t) => {
  const d = computeDesiredBlocks(
    [drop('192.0.2.1/32'), drop('10.0.0.0/8'), ignore('10.9.9.9/32'), drop('198.51.100.7/32'), ignore('198.51.100.0/24'), drop('2001:db8::1/128'), drop('203.0.113.0/24', T0 - 1)],
    T0,
  );
  t.deepEqual([...d.hosts.keys()].sort(), ['192.0.2.1/32', '2001:db8::1/128']);
  t.deepEqual(d.netmasks, ['10.0.0.0/8', '!10.9.9.9/32', '!198.51.100.0/24']);
  t.is(d.ignoredDrops, 1, '198.51.100.7 lies inside an ignore');
});

test('desired: an ignore wider than a drop prefix removes the drop; an equal one too', (t) => {
  const d = computeDesiredBlocks([drop('10.1.0.0/16'), ignore('10.0.0.0/8'), drop('172.16.0.0/12'), ignore('172.16.0.0/12')], T0);
  t.deepEqual(d.netmasks, []);
  t.is(d.ignoredDrops, 2);
});

test('lifetime buckets: exact up to 5 minutes, then rounded up', (t) => {
  t.is(lifetimeBucket(60), 60);
  t.is(lifetimeBucket(300), 300);
  t.is(lifetimeBucket(301), 360);
  t.is(lifetimeBucket(86_401), 90_000);
  t.is(lifetimeBucket(10 ** 12), NEVER_SECONDS);
});

test('first sync rebuilds; later additions are grouped by lifetime and tag (one table copy each)', async (t) => {
  const { clock, dnsdist, mirror, sync } = setup();
  mirror.upsert(drop('192.0.2.1/32', T0 + 60, 'a'));
  const first = await sync();
  t.is(first.hosts, 'rebuild');
  t.is(dnsdist.verdict('192.0.2.1'), 'dynblock');
  t.is(dnsdist.hosts.get('192.0.2.1/32')?.reason, 'couic:a');
  for (let i = 2; i < 102; i++) mirror.upsert(drop(`192.0.2.${i}/32`, T0 + 60, i % 2 === 0 ? 'a' : 'b'));
  const copies = dnsdist.tableCopies;
  const second = await sync();
  t.is(second.hosts, 'add');
  t.is(second.hostsInstalled, 100);
  t.is(dnsdist.tableCopies - copies, 2, '100 addresses, 2 tags, one lifetime: 2 addDynBlocks calls');
  t.is(dnsdist.clears, 1);
  const idle = await sync();
  t.is(idle.hosts, 'none');
  clock.now += 61;
  t.is(dnsdist.verdict('192.0.2.1'), 'pass', 'dnsdist lifts it at its end');
});

test('a delete lifts the block by rebuilding, keeping the dnsdist\'s own blocks', async (t) => {
  const { dnsdist, mirror, sync } = setup();
  mirror.upsert(drop('192.0.2.1/32', T0 + 600));
  mirror.upsert(drop('192.0.2.2/32', T0 + 600));
  await sync();
  dnsdist.generate('127.0.0.2', 60, 'Exceeded query rate');
  mirror.remove('drop', '192.0.2.1/32');
  const report = await sync();
  t.is(report.hosts, 'rebuild');
  t.is(report.ownBlocksKept, 1);
  t.is(dnsdist.verdict('192.0.2.1'), 'pass');
  t.is(dnsdist.verdict('192.0.2.2'), 'dynblock');
  t.is(dnsdist.hosts.get('127.0.0.2/32')?.reason, 'Exceeded query rate', 'own block kept with its reason');
  t.is(dnsdist.hosts.get('127.0.0.2/32')?.until, T0 + 60);
});

test('an expiry is left to dnsdist when the block ends with the rule; a rounded-up block is lifted', async (t) => {
  const { clock, dnsdist, mirror, sync } = setup();
  mirror.upsert(drop('192.0.2.1/32', T0 + 30));
  mirror.upsert(drop('192.0.2.2/32', T0 + 1000)); // bucket 1020 s: outlives the rule by 20 s
  await sync();
  clock.now = T0 + 31;
  mirror.remove('drop', '192.0.2.1/32'); // the Watch's EXPIRED removal
  t.is((await sync()).hosts, 'none', 'dnsdist already lifted it');
  clock.now = T0 + 1001;
  mirror.remove('drop', '192.0.2.2/32');
  t.is(dnsdist.verdict('192.0.2.2'), 'dynblock');
  t.is((await sync()).hosts, 'rebuild');
  t.is(dnsdist.verdict('192.0.2.2'), 'pass');
});

test('an ignore added later lifts a covered host block and opens a hole in a wide drop', async (t) => {
  const { dnsdist, mirror, sync } = setup();
  mirror.upsert(drop('192.0.2.9/32'));
  mirror.upsert(drop('10.0.0.0/8'));
  await sync();
  t.is(dnsdist.verdict('192.0.2.9'), 'dynblock');
  t.is(dnsdist.verdict('10.1.2.3'), 'netmask-rule');
  mirror.upsert(ignore('192.0.2.0/24'));
  mirror.upsert(ignore('10.1.2.3/32'));
  await sync();
  t.is(dnsdist.verdict('192.0.2.9'), 'pass');
  t.is(dnsdist.verdict('10.1.2.3'), 'pass');
  t.is(dnsdist.verdict('10.1.2.4'), 'netmask-rule');
});

test('the netmask rule is replaced only when its content changes, and removed when empty', async (t) => {
  const { dnsdist, mirror, sync } = setup();
  mirror.upsert(drop('10.0.0.0/8'));
  await sync();
  t.is(dnsdist.ruleReplacements, 1);
  mirror.upsert(drop('192.0.2.1/32'));
  await sync();
  t.is(dnsdist.ruleReplacements, 1, 'a host change leaves the rule alone');
  mirror.remove('drop', '10.0.0.0/8');
  await sync();
  t.is(dnsdist.netmaskRule, undefined);
});

test('after a dnsdist restart, reset() makes the next sync install everything again', async (t) => {
  const { dnsdist, applier, mirror, sync } = setup();
  mirror.upsert(drop('192.0.2.1/32'));
  mirror.upsert(drop('10.0.0.0/8'));
  await sync();
  dnsdist.restart();
  applier.reset();
  await sync();
  t.is(dnsdist.verdict('192.0.2.1'), 'dynblock');
  t.is(dnsdist.verdict('10.2.3.4'), 'netmask-rule');
});

test('stale blocks of an earlier bridge run are cleared by the first rebuild', async (t) => {
  const { dnsdist, mirror, sync } = setup();
  await dnsdist.addHostBlocks([{ items: ['192.0.2.77'], seconds: 600, reason: 'couic:old', action: 'DNSAction.Drop' }]);
  await dnsdist.replaceNetmaskRule(['172.16.0.0/12'], 'drop');
  mirror.upsert(drop('192.0.2.1/32'));
  await sync();
  t.is(dnsdist.verdict('192.0.2.77'), 'pass');
  t.is(dnsdist.verdict('172.16.1.1'), 'pass');
  t.is(dnsdist.verdict('192.0.2.1'), 'dynblock');
});

test('an extended rule re-adds the block with the later end; a shortened one rebuilds', (t) => {
  const desired = (exp: number) => computeDesiredBlocks([drop('192.0.2.1/32', exp)], T0);
  const applied = { hosts: new Map([['192.0.2.1/32', { until: T0 + 60, end: T0 + 60 }]]), netmasks: [] };
  t.is(planBlocks(desired(T0 + 60), applied, T0, opts).hosts.kind, 'none');
  t.is(planBlocks(desired(T0 + 120), applied, T0, opts).hosts.kind, 'add');
  t.is(planBlocks(desired(T0 + 30), applied, T0, opts).hosts.kind, 'rebuild');
});
