// ChangeFeed: sequence per change, latest per key, resumable cursors, reset when a
// cursor predates what GC forgot or comes from another process.
import test from 'ava';
import fc from 'fast-check';
import type { ReplicatedRecord } from '../../../src/domain/replicated-record.js';
import { ChangeFeed, formatCursor, parseCursor, type FeedChange } from '../../../src/replication/core/change-feed.js';
import { live, tomb, v } from './fixtures.js';

const NOW = 1_700_000_000_000;

test('since returns each key changed after the cursor once, in sequence order', (t) => {
  const f = new ChangeFeed('feed1');
  const a1 = live('10.0.0.0/8', v(NOW));
  const b1 = live('10.1.0.0/16', v(NOW));
  const a2 = tomb('10.0.0.0/8', v(NOW + 1));
  f.record([{ after: a1 }, { after: b1 }], 'local');
  const cursor = f.currentSeq;
  t.is(cursor, 2);
  f.record([{ before: a1, after: a2 }], 'remote');
  t.deepEqual(f.since(cursor), { reset: false, changes: [{ seq: 3, key: 'drop 10.0.0.0/8' }] });
  const all = f.since(0);
  t.deepEqual(all.reset ? [] : all.changes.map((c) => c.key), ['drop 10.1.0.0/16', 'drop 10.0.0.0/8']);
  t.deepEqual(f.since(3), { reset: false, changes: [] });
  t.is(f.size, 2);
});

test('GC moves the horizon: older cursors must take a fresh snapshot', (t) => {
  const f = new ChangeFeed('feed1');
  const a = live('10.0.0.0/8', v(NOW));
  const b = live('10.1.0.0/16', v(NOW));
  f.record([{ after: a }, { after: b }], 'local');
  const seen: FeedChange[] = [];
  const unsubscribe = f.subscribe((changes) => seen.push(...changes));
  f.record([{ before: a }], 'gc');
  t.is(f.horizon, 3);
  t.deepEqual(f.since(2), { reset: true });
  t.deepEqual(f.since(3), { reset: false, changes: [] });
  t.deepEqual(seen, [{ seq: 3, key: 'drop 10.0.0.0/8', record: undefined, origin: 'gc' }]);
  unsubscribe();
  f.record([{ before: b }], 'gc');
  t.is(seen.length, 1);
  t.is(f.size, 0);
});

test('cursor strings: format/parse, another feed id or garbage means reset', (t) => {
  const f = new ChangeFeed();
  t.regex(f.feedId, /^[0-9a-f]{16}$/);
  t.not(new ChangeFeed().feedId, f.feedId);
  f.record([{ after: live('10.0.0.0/8', v(NOW)) }], 'local');
  t.is(f.cursor, formatCursor(f.feedId, 1));
  t.deepEqual(parseCursor('abc:12'), { feedId: 'abc', seq: 12 });
  t.is(parseCursor('abc'), undefined);
  t.is(parseCursor(':1'), undefined);
  t.is(parseCursor('abc:-1'), undefined);
  t.deepEqual(f.sinceCursor(formatCursor(f.feedId, 0)).reset, false);
  t.deepEqual(f.sinceCursor(formatCursor('0123456789abcdef', 0)), { reset: true });
  t.deepEqual(f.sinceCursor('nonsense'), { reset: true });
  t.deepEqual(f.since(99), { reset: true }); // from the future: not this feed's history
});

test('property: a client resuming from any cursor ends with exactly the current records', (t) => {
  type Step = { key: number; wall: number; gc: boolean };
  fc.assert(
    fc.property(fc.array(fc.record({ key: fc.nat(7), wall: fc.nat(100), gc: fc.boolean() }), { maxLength: 100 }), fc.nat(100), (steps: Step[], cut) => {
      const f = new ChangeFeed('f');
      const state = new Map<string, ReplicatedRecord>();
      const client = new Map<string, ReplicatedRecord>();
      let clientCursor = 0;
      steps.forEach((s, i) => {
        const key = `drop 10.0.${s.key}.0/24`;
        const before = state.get(key);
        if (s.gc) {
          if (before === undefined) return;
          state.delete(key);
          f.record([{ before }], 'gc');
        } else {
          const after = live(`10.0.${s.key}.0/24`, v(NOW + i));
          state.set(key, after);
          f.record([before === undefined ? { after } : { before, after }], 'local');
        }
        if (i === cut) {
          // The client's snapshot at this point.
          client.clear();
          for (const [k, r] of state) client.set(k, r);
          clientCursor = f.currentSeq;
        }
      });
      const resumed = f.since(clientCursor);
      if (resumed.reset) {
        t.true(clientCursor < f.horizon);
        return;
      }
      // The feed names the keys; the records are read from the store (here: state).
      for (const c of resumed.changes) {
        const record = state.get(c.key);
        if (record === undefined) client.delete(c.key);
        else client.set(c.key, record);
      }
      t.deepEqual([...client.keys()].sort(), [...state.keys()].sort());
      for (const [k, r] of state) t.is(client.get(k), r);
    }),
    { numRuns: 300 },
  );
});
