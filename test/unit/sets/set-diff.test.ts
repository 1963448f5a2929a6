import test from 'ava';
import { parseCidr } from '../../../src/domain/cidr.js';
import type { Policy } from '../../../src/domain/policy.js';
import { diffSets, toAppliedSets, type NewSet } from '../../../src/sets/set-diff.js';

const loaded = (policy: Policy, name: string, ...cidrs: string[]): NewSet => ({
  policy,
  name,
  cidrs: cidrs.map((c) => parseCidr(c)),
});
const texts = (cidrs: ReadonlyArray<{ text: string }>): string[] => cidrs.map((c) => c.text).sort();

test('identical state: every set unchanged, nothing to do', (t) => {
  const sets = [loaded('drop', 'a', '10.0.0.0/8', '11.0.0.0/8'), loaded('ignore', 'b', '2001:db8::/32')];
  const diff = diffSets(toAppliedSets(sets), sets);
  t.deepEqual(
    diff.sets.map((d) => [d.policy, d.name, d.status, d.added.length, d.removed.length, d.unchanged]),
    [
      ['drop', 'a', 'unchanged', 0, 0, 2],
      ['ignore', 'b', 'unchanged', 0, 0, 1],
    ],
  );
  t.deepEqual(diff.addedSets, []);
  t.deepEqual(diff.removedSets, []);
  t.deepEqual(diff.byPolicy, [
    { policy: 'drop', upserts: [], removals: [] },
    { policy: 'ignore', upserts: [], removals: [] },
  ]);
});

test('entries added and removed inside a set; unchanged ones are left alone', (t) => {
  const applied = [{ policy: 'drop' as const, name: 'a', cidrs: new Set(['10.0.0.0/8', '11.0.0.0/8', '12.0.0.0/8']) }];
  const diff = diffSets(applied, [loaded('drop', 'a', '10.0.0.0/8', '12.0.0.0/8', '13.0.0.0/8', '14.0.0.0/8')]);
  const [delta] = diff.sets;
  t.is(delta?.status, 'changed');
  t.deepEqual(texts(delta?.added ?? []), ['13.0.0.0/8', '14.0.0.0/8']);
  t.deepEqual(texts(delta?.removed ?? []), ['11.0.0.0/8']);
  t.is(delta?.unchanged, 2);
  const drop = diff.byPolicy[0];
  t.deepEqual(texts(drop?.upserts.map((u) => u.cidr) ?? []), ['13.0.0.0/8', '14.0.0.0/8']);
  t.deepEqual(
    drop?.upserts.map((u) => u.set),
    ['a', 'a'],
  );
  t.deepEqual(texts(drop?.removals ?? []), ['11.0.0.0/8']);
});

test('a set whose file disappeared is removed entirely', (t) => {
  const applied = toAppliedSets([loaded('drop', 'keep', '10.0.0.0/8'), loaded('drop', 'gone', '1.1.1.0/24', '2.2.2.0/24')]);
  const diff = diffSets(applied, [loaded('drop', 'keep', '10.0.0.0/8')]);
  t.deepEqual(diff.removedSets, [{ policy: 'drop', name: 'gone' }]);
  const gone = diff.sets.find((d) => d.name === 'gone');
  t.is(gone?.status, 'removed');
  t.deepEqual(texts(gone?.removed ?? []), ['1.1.1.0/24', '2.2.2.0/24']);
  t.is(gone?.unchanged, 0);
  t.deepEqual(texts(diff.byPolicy[0]?.removals ?? []), ['1.1.1.0/24', '2.2.2.0/24']);
});

test('a new set file is added entirely', (t) => {
  const diff = diffSets([], [loaded('ignore', 'office', '192.0.2.0/24', '2001:db8::/48')]);
  t.deepEqual(diff.addedSets, [{ policy: 'ignore', name: 'office' }]);
  t.is(diff.sets[0]?.status, 'added');
  t.deepEqual(texts(diff.sets[0]?.added ?? []), ['192.0.2.0/24', '2001:db8::/48']);
  t.deepEqual(diff.byPolicy[0], { policy: 'drop', upserts: [], removals: [] });
  t.deepEqual(
    diff.byPolicy[1]?.upserts.map((u) => [u.cidr.text, u.set]),
    [
      ['192.0.2.0/24', 'office'],
      ['2001:db8::/48', 'office'],
    ],
  );
});

test('an empty set that stays empty is unchanged, one that is emptied is changed', (t) => {
  const diff = diffSets(
    toAppliedSets([loaded('drop', 'empty'), loaded('drop', 'emptied', '10.0.0.0/8')]),
    [loaded('drop', 'empty'), loaded('drop', 'emptied')],
  );
  t.deepEqual(
    diff.sets.map((d) => [d.name, d.status]),
    [
      ['emptied', 'changed'],
      ['empty', 'unchanged'],
    ],
  );
});

test('same name under both policies are two different sets', (t) => {
  const diff = diffSets(toAppliedSets([loaded('drop', 'x', '10.0.0.0/8')]), [loaded('ignore', 'x', '10.0.0.0/8')]);
  t.deepEqual(diff.removedSets, [{ policy: 'drop', name: 'x' }]);
  t.deepEqual(diff.addedSets, [{ policy: 'ignore', name: 'x' }]);
  t.deepEqual(texts(diff.byPolicy[0]?.removals ?? []), ['10.0.0.0/8']);
  t.deepEqual(texts(diff.byPolicy[1]?.upserts.map((u) => u.cidr) ?? []), ['10.0.0.0/8']);
});

test('applied texts are normalised before comparing', (t) => {
  const diff = diffSets([{ policy: 'drop', name: 'a', cidrs: ['192.168.1.200/24'] }], [loaded('drop', 'a', '192.168.1.0/24')]);
  t.is(diff.sets[0]?.status, 'unchanged');
});

test('a CIDR shared by two sets survives removal from one of them (owner change, not removal)', (t) => {
  const applied = toAppliedSets([loaded('drop', 'a', '10.0.0.0/8', '11.0.0.0/8'), loaded('drop', 'b', '10.0.0.0/8')]);
  const diff = diffSets(applied, [loaded('drop', 'a', '11.0.0.0/8'), loaded('drop', 'b', '10.0.0.0/8')]);
  t.deepEqual(texts(diff.sets[0]?.removed ?? []), ['10.0.0.0/8']); // per-set view: a lost it
  const drop = diff.byPolicy[0];
  t.deepEqual(drop?.removals, []); // store view: b still lists it
  t.deepEqual(
    drop?.upserts.map((u) => [u.cidr.text, u.set]),
    [['10.0.0.0/8', 'b']],
  );
});

test('a CIDR listed by a second set is owned by the first set in name order (retag)', (t) => {
  const diff = diffSets(toAppliedSets([loaded('drop', 'z', '10.0.0.0/8')]), [
    loaded('drop', 'z', '10.0.0.0/8'),
    loaded('drop', 'm', '10.0.0.0/8'),
  ]);
  t.deepEqual(
    diff.byPolicy[0]?.upserts.map((u) => [u.cidr.text, u.set]),
    [['10.0.0.0/8', 'm']],
  );
  t.deepEqual(diff.byPolicy[0]?.removals, []);
});

test('outputs are plain data (structured-clone safe)', (t) => {
  const diff = diffSets(toAppliedSets([loaded('drop', 'a', '10.0.0.0/8')]), [loaded('drop', 'a', '11.0.0.0/8')]);
  t.deepEqual(structuredClone(diff), diff);
});
