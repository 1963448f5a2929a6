// A watch broker over the in-memory replica store, a change feed fed by the store (as
// the replication hub does), a manual clock and scheduler; and a client model that
// applies watch items the way an enforcement agent would.
import { parseCidr } from '../../../src/domain/cidr.js';
import { ManualClock } from '../../../src/domain/clock.js';
import { ruleKey } from '../../../src/domain/entry.js';
import type { Policy } from '../../../src/domain/policy.js';
import type { ReplicatedRecord, VersionedEntry } from '../../../src/domain/replicated-record.js';
import { HybridClock } from '../../../src/domain/version.js';
import { ChangeFeed } from '../../../src/replication/core/change-feed.js';
import { MemoryReplicaStore } from '../../../src/replication/core/memory-replica-store.js';
import { ManualScheduler } from '../../../src/domain/scheduler.js';
import { WatchBroker } from '../../../src/replication/watch/watch-broker.js';
import type { WatchItem } from '../../../src/replication/watch/watch-item.js';
import type { WatchSessionOptions } from '../../../src/replication/watch/watch-session.js';

export const START_MS = 1_700_000_000_000;
export const TOMBSTONE_LIFETIME_MS = 3_600_000;

export interface Env {
  readonly clock: ManualClock;
  readonly scheduler: ManualScheduler;
  readonly store: MemoryReplicaStore;
  readonly feed: ChangeFeed;
  readonly hlc: HybridClock;
  readonly broker: WatchBroker;
  add(policy: Policy, cidr: string, opts?: { tag?: string; expiresInS?: number }): ReplicatedRecord;
  del(policy: Policy, cidr: string): ReplicatedRecord;
  nowS(): number;
}

export function makeEnv(options: Partial<WatchSessionOptions> = {}, feedId = 'feed0'): Env {
  const clock = new ManualClock(START_MS);
  const scheduler = new ManualScheduler(clock);
  const store = new MemoryReplicaStore({ clock, tombstoneLifetimeMs: TOMBSTONE_LIFETIME_MS });
  const feed = new ChangeFeed(feedId);
  store.onRecordChange((changes, origin) => feed.record(changes, origin));
  const hlc = new HybridClock(clock, 'node-a');
  const broker = new WatchBroker({ store, feed, clock, scheduler, options });
  const nowS = (): number => Math.floor(clock.nowMs() / 1000);
  return {
    clock,
    scheduler,
    store,
    feed,
    hlc,
    broker,
    nowS,
    add(policy, cidr, opts = {}) {
      const entry: VersionedEntry = {
        policy,
        cidr: parseCidr(cidr),
        tag: opts.tag ?? '',
        expiration: opts.expiresInS === undefined ? 0 : nowS() + opts.expiresInS,
        createdAt: nowS(),
        originNode: 'node-a',
        source: 'api',
        version: hlc.next(),
      };
      const record: ReplicatedRecord = { kind: 'live', entry };
      store.applyLocal(record);
      return record;
    },
    del(policy, cidr) {
      const record: ReplicatedRecord = { kind: 'tombstone', policy, cidr: parseCidr(cidr), version: hlc.next(), deletedExpiration: 0 };
      store.applyLocal(record);
      return record;
    },
  };
}

/** What an agent holds: key -> tag, built from upserts and removals. */
export class ClientModel {
  readonly held = new Map<string, string>();
  readonly items: WatchItem[] = [];
  cursor: string | undefined;

  apply(items: readonly WatchItem[]): void {
    for (const item of items) {
      this.items.push(item);
      switch (item.type) {
        case 'snapshot-begin':
          this.held.clear();
          break;
        case 'upsert':
          this.held.set(ruleKey(item.entry.policy, item.entry.cidr), item.entry.tag);
          break;
        case 'removal':
          this.held.delete(ruleKey(item.policy, item.cidr));
          break;
        case 'snapshot-end':
        case 'checkpoint':
          this.cursor = item.cursor;
          break;
        case 'resumed':
          break;
      }
    }
  }
}

/** Short text per item, for readable assertions. */
export function describe(item: WatchItem): string {
  switch (item.type) {
    case 'snapshot-begin':
      return `begin(${item.reason},${item.entries})`;
    case 'upsert':
      return `+${item.entry.policy} ${item.entry.cidr.text}${item.entry.tag === '' ? '' : ` [${item.entry.tag}]`}`;
    case 'removal':
      return `-${item.policy} ${item.cidr.text} (${item.reason})`;
    case 'snapshot-end':
      return 'end';
    case 'checkpoint':
      return 'checkpoint';
    case 'resumed':
      return 'resumed';
  }
}
