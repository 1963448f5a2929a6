// Watch sessions over an in-memory store with a manual clock: snapshot then live
// changes, tag filters, expiry reported by the shared timer, per-key coalescing for a
// slow watcher, resume from a cursor, and a model-based property over random
// schedules (a client applying every item ends holding exactly the watched state).
import test from 'ava';
import fc from 'fast-check';
import { isExpired, ruleKey } from '../../../src/domain/entry.js';
import { InvalidArgumentError } from '../../../src/domain/errors.js';
import { WatchFilter } from '../../../src/replication/watch/watch-filter.js';
import type { WatchItem } from '../../../src/replication/watch/watch-item.js';
import { ClientModel, describe, makeEnv, type Env } from './fixtures.js';

const ALL = new WatchFilter(undefined);

function drain(_env: Env, session: { take(): WatchItem[] }, client?: ClientModel): string[] {
  const out: string[] = [];
  for (;;) {
    const items = session.take();
    if (items.length === 0) return out;
    client?.apply(items);
    out.push(...items.map(describe));
  }
}

/** What a watcher with `filter` should hold now. */
function expected(env: Env, filter: WatchFilter): [string, string][] {
  const out = new Map<string, string>();
  for (const record of env.store.records()) {
    if (record.kind === 'live' && filter.holds(record, env.nowS())) out.set(ruleKey(record.entry.policy, record.entry.cidr), record.entry.tag);
  }
  return sorted(out);
}

function sorted(held: ReadonlyMap<string, string>): [string, string][] {
  return [...held].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

test('no cursor: snapshot of live entries (expired and deleted left out), end with a cursor, then live add and delete', (t) => {
  const env = makeEnv({ checkpointIntervalMs: 100 });
  env.add('drop', '10.0.0.0/8', { tag: 'a' });
  env.add('ignore', '192.0.2.1/32');
  env.add('drop', '10.1.0.0/16', { expiresInS: 5 });
  env.add('drop', '10.2.0.0/16');
  env.del('drop', '10.2.0.0/16');
  env.clock.advanceMs(6_000);
  const session = env.broker.open(ALL, undefined);
  const client = new ClientModel();
  t.deepEqual(drain(env, session, client), ['begin(no-cursor,2)', '+drop 10.0.0.0/8 [a]', '+ignore 192.0.2.1/32', 'end']);
  t.regex(client.cursor ?? '', /^feed0:\d+@\d+$/);
  env.add('drop', '203.0.113.0/24', { tag: 'b' });
  env.del('drop', '10.0.0.0/8');
  t.deepEqual(drain(env, session, client), ['+drop 203.0.113.0/24 [b]', '-drop 10.0.0.0/8 (deleted)']);
  env.scheduler.advance(100);
  t.deepEqual(drain(env, session, client), ['checkpoint']);
  t.deepEqual(sorted(client.held), expected(env, ALL));
  session.close();
  t.is(env.broker.watchers, 0);
});

test('policy and tag filter: other keys are never sent; a retag out of the filter is a "filtered" removal', (t) => {
  const env = makeEnv();
  const filter = new WatchFilter('drop', ['web-*', 'untagged']);
  env.add('drop', '10.0.0.1/32', { tag: 'web-1' });
  env.add('drop', '10.0.0.2/32', { tag: 'db' });
  env.add('drop', '10.0.0.3/32');
  env.add('ignore', '10.0.0.4/32', { tag: 'web-1' });
  const session = env.broker.open(filter, undefined);
  t.deepEqual(drain(env, session), ['begin(no-cursor,2)', '+drop 10.0.0.1/32 [web-1]', '+drop 10.0.0.3/32', 'end']);
  env.add('drop', '10.0.0.5/32', { tag: 'db' });
  env.add('ignore', '10.0.0.6/32', { tag: 'web-2' });
  env.del('drop', '10.0.0.2/32');
  env.del('ignore', '10.0.0.4/32');
  env.add('drop', '10.0.0.1/32', { tag: 'db' });
  env.add('drop', '10.0.0.5/32', { tag: 'web-5' });
  t.deepEqual(drain(env, session), ['-drop 10.0.0.1/32 (filtered)', '+drop 10.0.0.5/32 [web-5]']);
});

test('expiry: a sent entry that expires gets an "expired" removal from the timer; the timer stops with the last watcher', (t) => {
  const env = makeEnv();
  env.add('drop', '10.0.0.1/32', { expiresInS: 10 });
  const session = env.broker.open(ALL, undefined);
  drain(env, session);
  env.add('drop', '10.0.0.2/32', { expiresInS: 3 });
  t.deepEqual(drain(env, session), ['+drop 10.0.0.2/32']);
  env.scheduler.advance(2_999);
  t.deepEqual(drain(env, session).filter((d) => d !== 'checkpoint'), []);
  env.scheduler.advance(1);
  t.deepEqual(drain(env, session).filter((d) => d !== 'checkpoint'), ['-drop 10.0.0.2/32 (expired)']);
  env.scheduler.advance(7_000);
  t.deepEqual(drain(env, session).filter((d) => d !== 'checkpoint'), ['-drop 10.0.0.1/32 (expired)']);
  session.close();
  t.is(env.scheduler.pending, 0, 'no timer left behind');
});

test('an entry replaced with a later expiration is not reported expired at the first one', (t) => {
  const env = makeEnv();
  const session = env.broker.open(ALL, undefined);
  drain(env, session);
  env.add('drop', '10.0.0.1/32', { expiresInS: 2 });
  env.add('drop', '10.0.0.1/32', { expiresInS: 20 });
  drain(env, session);
  env.scheduler.advance(5_000);
  t.deepEqual(drain(env, session).filter((d) => d !== 'checkpoint'), []);
  env.scheduler.advance(15_000);
  t.deepEqual(drain(env, session).filter((d) => d !== 'checkpoint'), ['-drop 10.0.0.1/32 (expired)']);
});

test('a slow watcher holds one slot per key: 100,000 changes over 100 keys queue 100 keys, then the latest states', (t) => {
  const env = makeEnv();
  const session = env.broker.open(ALL, undefined);
  drain(env, session);
  for (let i = 0; i < 100_000; i++) {
    const cidr = `10.0.${i % 100}.0/24`;
    if (i % 7 === 3) env.del('drop', cidr);
    else env.add('drop', cidr, { tag: `t${i % 13}` });
  }
  t.is(session.pending, 100);
  t.is(env.broker.pendingKeys, 100);
  const client = new ClientModel();
  // The watcher held nothing, so deleted keys need no removal at all.
  const items = drain(env, session, client);
  t.true(items.length <= 101);
  t.deepEqual(sorted(client.held), expected(env, ALL));
});

test('a change during a long snapshot: the snapshot sends the state at its cursor, the change follows after the end', (t) => {
  const env = makeEnv({ maxBatch: 2 });
  for (let i = 0; i < 6; i++) env.add('drop', `10.0.0.${i}/32`);
  const session = env.broker.open(ALL, undefined);
  const client = new ClientModel();
  const first = session.take();
  client.apply(first);
  env.del('drop', '10.0.0.4/32');
  env.add('drop', '10.0.0.5/32', { tag: 'new' });
  env.add('drop', '10.0.0.9/32');
  const rest = drain(env, session, client);
  t.deepEqual(first.map(describe), ['begin(no-cursor,6)', '+drop 10.0.0.0/32']);
  t.deepEqual(rest, [
    '+drop 10.0.0.1/32',
    '+drop 10.0.0.2/32',
    '+drop 10.0.0.3/32',
    '+drop 10.0.0.4/32',
    '+drop 10.0.0.5/32',
    'end',
    '-drop 10.0.0.4/32 (deleted)',
    '+drop 10.0.0.5/32 [new]',
    '+drop 10.0.0.9/32',
  ]);
  t.deepEqual(sorted(client.held), expected(env, ALL));
});

test('resume from a cursor: only what changed since, plus entries that expired meanwhile; no snapshot', (t) => {
  const env = makeEnv({ checkpointIntervalMs: 0 });
  env.add('drop', '10.0.0.1/32');
  env.add('drop', '10.0.0.2/32', { expiresInS: 30 });
  env.add('drop', '10.0.0.3/32');
  const first = env.broker.open(ALL, undefined);
  const client = new ClientModel();
  drain(env, first, client);
  const cursor = client.cursor;
  first.close();
  env.add('drop', '10.0.0.4/32');
  env.del('drop', '10.0.0.3/32');
  env.clock.advanceMs(60_000);
  const second = env.broker.open(ALL, cursor);
  t.deepEqual(drain(env, second, client), ['resumed', '+drop 10.0.0.4/32', '-drop 10.0.0.3/32 (deleted)', '-drop 10.0.0.2/32 (expired)', 'checkpoint']);
  t.deepEqual(sorted(client.held), expected(env, ALL));
  // Resuming from the newest cursor right away: nothing to send.
  const third = env.broker.open(ALL, client.cursor);
  t.deepEqual(drain(env, third), ['resumed']);
});

test('a cursor of another feed (an earlier daemon run) or past the feed gets a fresh snapshot; garbage is INVALID_ARGUMENT', (t) => {
  const env = makeEnv();
  env.add('drop', '10.0.0.1/32');
  t.deepEqual(drain(env, env.broker.open(ALL, 'otherfeed:3@1700000000')), ['begin(cursor-reset,1)', '+drop 10.0.0.1/32', 'end']);
  t.deepEqual(drain(env, env.broker.open(ALL, 'feed0:999@1700000000')), ['begin(cursor-reset,1)', '+drop 10.0.0.1/32', 'end']);
  const error = t.throws(() => env.broker.open(ALL, 'not a cursor'), { instanceOf: InvalidArgumentError });
  t.regex(error?.message ?? '', /cursor/);
});

test('garbage collection: a held record collected without a tombstone is a "collected" removal', (t) => {
  const env = makeEnv();
  env.add('drop', '10.0.0.1/32', { expiresInS: 1_000_000 });
  const session = env.broker.open(ALL, undefined);
  drain(env, session);
  // Far in the future: the entry expired long ago and is now collectable.
  env.clock.advanceMs(2_000_000_000);
  env.store.collectGarbage(env.clock.nowMs());
  const items = drain(env, session).filter((d) => d !== 'checkpoint');
  t.deepEqual(items, ['-drop 10.0.0.1/32 (collected)']);
});

test('a session pulled with next() waits for work and returns undefined once aborted', async (t) => {
  const env = makeEnv();
  const session = env.broker.open(ALL, undefined);
  t.deepEqual((await session.next())?.map(describe), ['begin(no-cursor,0)', 'end']);
  const waiting = session.next();
  env.add('drop', '10.0.0.1/32');
  t.deepEqual((await waiting)?.map(describe), ['+drop 10.0.0.1/32']);
  const controller = new AbortController();
  const aborted = session.next(controller.signal);
  controller.abort();
  t.is(await aborted, undefined);
});

test('issue 14: a watcher that does not read is ended once it falls maxPendingKeys behind, and its queue is freed at once', async (t) => {
  const env = makeEnv({ maxPendingKeys: 50 });
  const reader = env.broker.open(ALL, undefined);
  const idle = env.broker.open(ALL, undefined);
  t.deepEqual((await reader.next())?.map(describe), ['begin(no-cursor,0)', 'end']);
  for (let i = 0; i < 40; i++) env.add('drop', `10.0.0.${i}/32`);
  t.is(drain(env, reader).length, 40);
  t.is(idle.pending, 40);
  for (let i = 40; i < 60; i++) env.add('drop', `10.0.0.${i}/32`);
  // The idle watcher is over its bound: closed, nothing held, unregistered; the reader is not affected.
  t.true(idle.isClosed);
  t.is(idle.pending, 0);
  t.is(env.broker.watchers, 1);
  t.is(env.broker.pendingKeys, 20);
  const error = await t.throwsAsync(idle.next());
  t.is(error?.name, 'CapacityExceededError');
  t.regex(error?.message ?? '', /fell more than 50 changed keys behind/);
  t.is(drain(env, reader).length, 20);
  reader.close();
  t.is(env.broker.watchers, 0);
});

test('a snapshot larger than one walk step is collected across turns; changes meanwhile leave the client with the current state', async (t) => {
  const env = makeEnv({ checkpointIntervalMs: 0 });
  const total = 20_000 + 5;
  for (let i = 0; i < total; i++) env.add('drop', `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`, { tag: 'a' });
  const session = env.broker.open(ALL, undefined);
  // The first step walked 20,000 records; meanwhile a rule not walked yet is deleted and another retagged, one added.
  env.del('drop', `10.0.78.${(total - 1) & 255}/32`);
  env.add('drop', `10.0.78.${(total - 2) & 255}/32`, { tag: 'b' });
  env.add('drop', '192.0.2.1/32', { tag: 'c' });
  const client = new ClientModel();
  const first = await session.next();
  t.is(first?.[0]?.type, 'snapshot-begin');
  client.apply(first ?? []);
  drain(env, session, client);
  t.deepEqual(sorted(client.held), expected(env, ALL));
  session.close();
});

type Op =
  | { readonly op: 'add'; readonly cidr: number; readonly tag: number; readonly expiresInS: number }
  | { readonly op: 'del'; readonly cidr: number }
  | { readonly op: 'time'; readonly ms: number }
  | { readonly op: 'pull'; readonly max: number }
  | { readonly op: 'reconnect' }
  | { readonly op: 'gc' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), cidr: fc.integer({ min: 0, max: 15 }), tag: fc.integer({ min: 0, max: 2 }), expiresInS: fc.integer({ min: 0, max: 20 }) }),
  fc.record({ op: fc.constant('del' as const), cidr: fc.integer({ min: 0, max: 15 }) }),
  fc.record({ op: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 5_000 }) }),
  fc.record({ op: fc.constant('pull' as const), max: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ op: fc.constant('reconnect' as const) }),
  fc.record({ op: fc.constant('gc' as const) }),
);

test('property: whatever the schedule (changes, time, partial pulls, reconnects with the last cursor), a drained client holds exactly the watched state', (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 80 }), fc.boolean(), fc.integer({ min: 1, max: 4 }), (ops, tagFilter, maxBatch) => {
      const env = makeEnv({ maxBatch, checkpointIntervalMs: 50 });
      const filter = tagFilter ? new WatchFilter(undefined, ['t0', 'untagged']) : ALL;
      const client = new ClientModel();
      let session = env.broker.open(filter, undefined);
      for (const op of ops) {
        switch (op.op) {
          case 'add': {
            const opts = op.expiresInS === 0 ? { tag: `t${op.tag}` } : { tag: op.tag === 2 ? '' : `t${op.tag}`, expiresInS: op.expiresInS };
            env.add('drop', `10.0.0.${op.cidr}/32`, opts);
            break;
          }
          case 'del':
            env.del('drop', `10.0.0.${op.cidr}/32`);
            break;
          case 'time':
            env.scheduler.advance(op.ms);
            break;
          case 'pull':
            for (let i = 0; i < op.max; i++) client.apply(session.take());
            break;
          case 'reconnect':
            session.close();
            session = env.broker.open(filter, client.cursor);
            break;
          case 'gc':
            env.clock.advanceMs(4_000_000);
            env.scheduler.advance(0);
            env.store.collectGarbage(env.clock.nowMs());
            break;
        }
      }
      env.scheduler.advance(0);
      drain(env, session, client);
      const want = expected(env, filter);
      t.deepEqual(sorted(client.held), want);
      // Nothing expired is held.
      for (const key of client.held.keys()) {
        const record = env.store.recordOf(key);
        t.true(record?.kind === 'live' && !isExpired(record.entry, env.nowS()));
      }
      session.close();
      t.is(env.scheduler.pending, 0);
    }),
    { numRuns: 300 },
  );
});
