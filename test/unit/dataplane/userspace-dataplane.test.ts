// UserspaceDataPlane: the in-process twin of the XDP maps. Checks LPM
// classification (ignore before drop), per-action and per-tag counters, the 64-tag
// cap, and that removals run before upserts within one apply().
import test from 'ava';
import { parseAddress, parseCidr } from '../../../src/domain/cidr.js';
import { MAX_TRACKED_TAGS, UserspaceDataPlane } from '../../../src/dataplane/userspace-dataplane.js';

const cidr = parseCidr;
const addr = parseAddress;

test('an empty data plane passes everything and counts PASS', async (t) => {
  const dp = new UserspaceDataPlane();
  t.is(dp.kind, 'userspace');
  t.is(dp.classify(addr('10.0.0.1'), 100), 'PASS');
  t.is(dp.classify(addr('2001:db8::1'), 50), 'PASS');
  const c = await dp.readCounters();
  t.deepEqual(c.actions.PASS, { packets: 2, bytes: 150 });
  t.deepEqual(c.actions.DROP, { packets: 0, bytes: 0 });
  for (const a of ['ABORTED', 'TX', 'REDIRECT'] as const) t.deepEqual(c.actions[a], { packets: 0, bytes: 0 });
  t.is(c.tags.drop.size, 0);
  t.is(c.tags.ignore.size, 0);
});

test('drop rules drop, ignore rules win over drop, LPM decides within a map', async (t) => {
  const dp = new UserspaceDataPlane();
  await dp.apply({
    upserts: [
      { policy: 'drop', cidr: cidr('192.168.0.0/24'), tag: 'wide' },
      { policy: 'drop', cidr: cidr('192.168.0.0/25'), tag: 'narrow' },
      { policy: 'ignore', cidr: cidr('192.168.0.64/26'), tag: 'ok' },
      { policy: 'drop', cidr: cidr('2001:db8::/32'), tag: 'v6' },
    ],
    removals: [],
  });
  t.is(dp.entryCount('drop'), 3);
  t.is(dp.entryCount('ignore'), 1);
  t.is(dp.classify(addr('192.168.0.10'), 10), 'DROP'); // /25
  t.is(dp.classify(addr('192.168.0.200'), 20), 'DROP'); // /24
  t.is(dp.classify(addr('192.168.0.70'), 30), 'PASS'); // ignore /26 beats drop /25
  t.is(dp.classify(addr('192.168.1.1'), 40), 'PASS'); // no rule
  t.is(dp.classify(addr('2001:db8::5'), 50), 'DROP');
  t.is(dp.classify(addr('2001:db9::5'), 60), 'PASS');
  const c = await dp.readCounters();
  t.deepEqual(c.actions.DROP, { packets: 3, bytes: 80 });
  t.deepEqual(c.actions.PASS, { packets: 3, bytes: 130 });
  t.deepEqual(c.tags.drop.get('narrow'), { packets: 1, bytes: 10 });
  t.deepEqual(c.tags.drop.get('wide'), { packets: 1, bytes: 20 });
  t.deepEqual(c.tags.drop.get('v6'), { packets: 1, bytes: 50 });
  t.deepEqual(c.tags.ignore.get('ok'), { packets: 1, bytes: 30 });
  t.is(c.tags.ignore.size, 1);
  // A pass with no rule feeds no tag counter.
  t.is(c.tags.drop.size, 3);
});

test('untagged rules count under the empty tag; hits accumulate per tag', async (t) => {
  const dp = new UserspaceDataPlane();
  await dp.apply({
    upserts: [
      { policy: 'drop', cidr: cidr('10.0.0.0/8'), tag: '' },
      { policy: 'drop', cidr: cidr('11.0.0.0/8'), tag: 'x' },
      { policy: 'drop', cidr: cidr('12.0.0.0/8'), tag: 'x' },
    ],
    removals: [],
  });
  dp.classify(addr('10.1.1.1'), 5);
  dp.classify(addr('11.1.1.1'), 7);
  dp.classify(addr('12.1.1.1'), 9);
  dp.classify(addr('12.1.1.2'), 1);
  const c = await dp.readCounters();
  t.deepEqual(c.tags.drop.get(''), { packets: 1, bytes: 5 });
  t.deepEqual(c.tags.drop.get('x'), { packets: 3, bytes: 17 });
  t.deepEqual(c.actions.DROP, { packets: 4, bytes: 22 });
});

test('readCounters returns a snapshot, not live objects', async (t) => {
  const dp = new UserspaceDataPlane();
  await dp.apply({ upserts: [{ policy: 'drop', cidr: cidr('10.0.0.0/8'), tag: 't' }], removals: [] });
  dp.classify(addr('10.0.0.1'), 1);
  const before = await dp.readCounters();
  dp.classify(addr('10.0.0.1'), 1);
  t.deepEqual(before.actions.DROP, { packets: 1, bytes: 1 });
  t.deepEqual(before.tags.drop.get('t'), { packets: 1, bytes: 1 });
  const after = await dp.readCounters();
  t.deepEqual(after.actions.DROP, { packets: 2, bytes: 2 });
});

test(`at most ${MAX_TRACKED_TAGS} tags are tracked per policy; the rest still drop but are not counted per tag`, async (t) => {
  t.is(MAX_TRACKED_TAGS, 64);
  const dp = new UserspaceDataPlane();
  const n = MAX_TRACKED_TAGS + 6;
  const upserts = Array.from({ length: n }, (_, i) => ({
    policy: 'drop' as const,
    cidr: cidr(`10.${i}.0.0/16`),
    tag: `tag-${i}`,
  }));
  // A second key with an already tracked tag.
  upserts.push({ policy: 'drop', cidr: cidr('10.250.0.0/16'), tag: 'tag-0' });
  // The ignore policy has its own tag budget.
  await dp.apply({ upserts: [...upserts, { policy: 'ignore', cidr: cidr('20.0.0.0/8'), tag: 'ign' }], removals: [] });
  for (let i = 0; i < n; i++) t.is(dp.classify(addr(`10.${i}.1.1`), 1), 'DROP');
  // An already tracked tag keeps counting after the cap is reached.
  dp.classify(addr('10.250.1.1'), 1);
  dp.classify(addr('20.0.0.1'), 1);
  const c = await dp.readCounters();
  t.is(c.tags.drop.size, MAX_TRACKED_TAGS);
  for (let i = 0; i < MAX_TRACKED_TAGS; i++) t.true(c.tags.drop.has(`tag-${i}`));
  for (let i = MAX_TRACKED_TAGS; i < n; i++) t.false(c.tags.drop.has(`tag-${i}`));
  t.deepEqual(c.tags.drop.get('tag-0'), { packets: 2, bytes: 2 });
  t.deepEqual(c.tags.ignore.get('ign'), { packets: 1, bytes: 1 });
  t.deepEqual(c.actions.DROP, { packets: n + 1, bytes: n + 1 });
});

test('within one apply, removals are applied before upserts', async (t) => {
  const dp = new UserspaceDataPlane();
  const key = cidr('10.0.0.0/8');
  await dp.apply({ upserts: [{ policy: 'drop', cidr: key, tag: 'old' }], removals: [] });
  // Remove and re-add the same key in one batch: the upsert must survive.
  await dp.apply({ upserts: [{ policy: 'drop', cidr: key, tag: 'new' }], removals: [{ policy: 'drop', cidr: key }] });
  t.is(dp.entryCount('drop'), 1);
  t.is(dp.classify(addr('10.1.2.3'), 4), 'DROP');
  const c = await dp.readCounters();
  t.deepEqual(c.tags.drop.get('new'), { packets: 1, bytes: 4 });
  t.false(c.tags.drop.has('old'));
});

test('removals delete only the named policy/key; unknown removals are harmless', async (t) => {
  const dp = new UserspaceDataPlane();
  await dp.apply({
    upserts: [
      { policy: 'drop', cidr: cidr('10.0.0.0/8'), tag: '' },
      { policy: 'ignore', cidr: cidr('10.0.0.0/8'), tag: '' },
      { policy: 'drop', cidr: cidr('10.0.0.0/16'), tag: '' },
    ],
    removals: [],
  });
  await dp.apply({
    upserts: [],
    removals: [
      { policy: 'ignore', cidr: cidr('10.0.0.0/8') },
      { policy: 'drop', cidr: cidr('99.0.0.0/8') },
    ],
  });
  t.is(dp.entryCount('drop'), 2);
  t.is(dp.entryCount('ignore'), 0);
  t.is(dp.classify(addr('10.0.0.1'), 1), 'DROP');
  await dp.apply({ upserts: [], removals: [{ policy: 'drop', cidr: cidr('10.0.0.0/16') }] });
  t.is(dp.entryCount('drop'), 1);
  t.is(dp.classify(addr('10.0.0.1'), 1), 'DROP'); // falls back to the /8
});

test('re-upserting a key replaces its tag without growing the map', async (t) => {
  const dp = new UserspaceDataPlane();
  await dp.apply({ upserts: [{ policy: 'drop', cidr: cidr('10.0.0.0/8'), tag: 'a' }], removals: [] });
  await dp.apply({ upserts: [{ policy: 'drop', cidr: cidr('10.0.0.0/8'), tag: 'b' }], removals: [] });
  t.is(dp.entryCount('drop'), 1);
  dp.classify(addr('10.0.0.1'), 1);
  const c = await dp.readCounters();
  t.false(c.tags.drop.has('a'));
  t.deepEqual(c.tags.drop.get('b'), { packets: 1, bytes: 1 });
});

test('close empties both maps', async (t) => {
  const dp = new UserspaceDataPlane();
  await dp.apply({
    upserts: [
      { policy: 'drop', cidr: cidr('10.0.0.0/8'), tag: '' },
      { policy: 'ignore', cidr: cidr('2001:db8::/32'), tag: '' },
    ],
    removals: [],
  });
  await dp.close();
  t.is(dp.entryCount('drop'), 0);
  t.is(dp.entryCount('ignore'), 0);
  t.is(dp.classify(addr('10.0.0.1'), 1), 'PASS');
});
