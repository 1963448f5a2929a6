// ExpiryQueue: popDue returns exactly the due items in expiration order and keeps
// the rest; checked by example and by a property against a plain sort.
import test from 'ava';
import fc from 'fast-check';
import { ExpiryQueue } from '../../../src/store/expiry-queue.js';

test('empty queue pops nothing', (t) => {
  const q = new ExpiryQueue<string>();
  t.deepEqual(q.popDue(Number.MAX_SAFE_INTEGER), []);
  t.is(q.size, 0);
});

test('popDue takes items with expiration <= now, earliest first, and keeps the rest', (t) => {
  const q = new ExpiryQueue<string>();
  for (const [expiration, ref] of [[30, 'c'], [10, 'a'], [20, 'b'], [40, 'd'], [20, 'b2']] as const) {
    q.push({ expiration, ref });
  }
  t.is(q.size, 5);
  t.deepEqual(q.popDue(9), []);
  const due = q.popDue(20);
  t.deepEqual(due.map((i) => i.expiration), [10, 20, 20]);
  t.deepEqual(due.map((i) => i.ref).sort(), ['a', 'b', 'b2']);
  t.is(q.size, 2);
  t.deepEqual(q.popDue(30).map((i) => i.ref), ['c']);
  t.deepEqual(q.popDue(1000).map((i) => i.ref), ['d']);
  t.is(q.size, 0);
});

test('clear empties the queue', (t) => {
  const q = new ExpiryQueue<number>();
  q.push({ expiration: 1, ref: 1 });
  q.push({ expiration: 2, ref: 2 });
  q.clear();
  t.is(q.size, 0);
  t.deepEqual(q.popDue(10), []);
});

test('property: interleaved pushes and popDue agree with a sorted array model', (t) => {
  type Op = { kind: 'push'; expiration: number } | { kind: 'pop'; now: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('push' as const), expiration: fc.integer({ min: 0, max: 100 }) }),
    fc.record({ kind: fc.constant('pop' as const), now: fc.integer({ min: -1, max: 110 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const q = new ExpiryQueue<number>();
      let model: { expiration: number; ref: number }[] = [];
      let id = 0;
      for (const o of ops) {
        if (o.kind === 'push') {
          const item = { expiration: o.expiration, ref: id++ };
          q.push(item);
          model.push(item);
        } else {
          const got = q.popDue(o.now);
          const want = model.filter((i) => i.expiration <= o.now).sort((a, b) => a.expiration - b.expiration);
          model = model.filter((i) => i.expiration > o.now);
          // Same multiset of refs, in non-decreasing expiration order.
          if (JSON.stringify(got.map((i) => i.expiration)) !== JSON.stringify(want.map((i) => i.expiration))) return false;
          if (JSON.stringify(got.map((i) => i.ref).sort((a, b) => a - b)) !== JSON.stringify(want.map((i) => i.ref).sort((a, b) => a - b))) return false;
        }
        if (q.size !== model.length) return false;
      }
      const rest = q.popDue(Number.MAX_SAFE_INTEGER).map((i) => i.expiration);
      return JSON.stringify(rest) === JSON.stringify(model.map((i) => i.expiration).sort((a, b) => a - b));
    }),
    { numRuns: 300 },
  );
  t.pass();
});
