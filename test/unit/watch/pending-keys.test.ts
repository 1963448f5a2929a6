// The per-watcher queue: one slot per key whatever the number of changes, oldest
// first, a queued key keeps its place and its "may be held" flag.
import test from 'ava';
import fc from 'fast-check';
import { PendingKeys } from '../../../src/replication/watch/pending-keys.js';

test('a key changed many times is queued once, in its first position, with its first flag', (t) => {
  const q = new PendingKeys();
  q.add('a', false);
  q.add('b', true);
  for (let i = 0; i < 10_000; i++) q.add('a', true);
  t.is(q.size, 2);
  t.deepEqual(q.shift(), { key: 'a', maybeHeld: false });
  t.deepEqual(q.shift(), { key: 'b', maybeHeld: true });
  t.is(q.shift(), undefined);
});

test('setHeld corrects a queued key only; a shifted key re-added goes to the back', (t) => {
  const q = new PendingKeys();
  q.add('a', true);
  q.add('b', true);
  q.setHeld('a', false);
  q.setHeld('zzz', true);
  t.false(q.has('zzz'));
  t.deepEqual(q.shift(), { key: 'a', maybeHeld: false });
  q.add('a', true);
  q.add('c', false);
  t.deepEqual(
    [q.shift(), q.shift(), q.shift()].map((p) => p?.key),
    ['b', 'a', 'c'],
  );
  t.is(q.size, 0);
});

test('property: shift order is first-insertion order among keys not yet shifted, and each key comes out once per add burst', (t) => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.record({ op: fc.constant('add' as const), key: fc.integer({ min: 0, max: 20 }) }), fc.record({ op: fc.constant('shift' as const) }))), (ops) => {
      const q = new PendingKeys();
      const model: string[] = [];
      for (const op of ops) {
        if (op.op === 'add') {
          const key = `k${op.key}`;
          q.add(key, true);
          if (!model.includes(key)) model.push(key);
        } else {
          t.is(q.shift()?.key, model.shift());
        }
        t.is(q.size, model.length);
      }
    }),
  );
});
