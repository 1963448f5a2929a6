// Fans record changes and expirations out to the open watch sessions. Registered on
// the store once; costs nothing while nobody watches (the expiry timer runs only
// while at least one session is open).
import type { Clock } from '../../domain/clock.js';
import { recordKey, type ReplicatedRecord } from '../../domain/replicated-record.js';
import type { ChangeFeed } from '../core/change-feed.js';
import type { Scheduler } from '../../domain/scheduler.js';
import type { RecordChange, ReplicaStore } from '../replica-store.js';
import { ExpiryTimer } from './expiry-timer.js';
import type { WatchFilter } from './watch-filter.js';
import { WatchSession, type KeyedChange, type WatchContext, type WatchSessionOptions } from './watch-session.js';

/**
 * Pending-key bound: two of the largest AddRules batches (2 x 262,144), so a watcher
 * that reads keeps up through any single batch; ~40 MB at most per watcher.
 */
export const DEFAULT_WATCH_OPTIONS: WatchSessionOptions = { maxBatch: 1_000, checkpointIntervalMs: 200, maxPendingKeys: 524_288 };

export interface WatchBrokerDeps {
  readonly store: Pick<ReplicaStore, 'records' | 'recordOf' | 'onRecordChange'>;
  readonly feed: Pick<ChangeFeed, 'feedId' | 'currentSeq' | 'since'>;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly options?: Partial<WatchSessionOptions>;
}

export class WatchBroker {
  private readonly sessions = new Set<WatchSession>();
  private readonly expiry: ExpiryTimer;
  private readonly context: WatchContext;

  constructor(deps: WatchBrokerDeps) {
    this.expiry = new ExpiryTimer(deps.store, deps.clock, deps.scheduler, (expired) => {
      for (const session of this.sessions) session.noteExpired(expired);
    });
    this.context = {
      store: deps.store,
      feed: deps.feed,
      clock: deps.clock,
      scheduler: deps.scheduler,
      expiredThrough: () => this.expiry.expiredThrough,
      options: { ...DEFAULT_WATCH_OPTIONS, ...deps.options },
    };
    deps.store.onRecordChange((changes) => this.onChanges(changes));
  }

  /** Open sessions. */
  get watchers(): number {
    return this.sessions.size;
  }

  /** Keys queued over all sessions (what slow watchers cost). */
  get pendingKeys(): number {
    let total = 0;
    for (const session of this.sessions) total += session.pending;
    return total;
  }

  /** Opens a session; throws InvalidArgumentError for a malformed cursor. Close it when done. */
  open(filter: WatchFilter, cursor: string | undefined): WatchSession {
    const wasRunning = this.expiry.active;
    this.expiry.start();
    try {
      const session = new WatchSession(this.context, filter, cursor, (closed) => this.onSessionClosed(closed));
      this.sessions.add(session);
      return session;
    } catch (error) {
      if (!wasRunning && this.sessions.size === 0) this.expiry.stop();
      throw error;
    }
  }

  private onSessionClosed(session: WatchSession): void {
    this.sessions.delete(session);
    if (this.sessions.size === 0) this.expiry.stop();
  }

  private onChanges(changes: readonly RecordChange[]): void {
    if (this.sessions.size === 0 || changes.length === 0) return;
    this.expiry.noteRecords(changes.map((c) => c.after));
    const keyed: KeyedChange[] = [];
    for (const { before, after } of changes) {
      const record = (after ?? before) as ReplicatedRecord | undefined;
      if (record === undefined) continue;
      keyed.push({ key: recordKey(record), before, after });
    }
    const through = this.expiry.expiredThrough;
    for (const session of this.sessions) session.noteChanges(keyed, through);
  }
}
