// One watcher: a snapshot (or a resume from a cursor), then every change, pulled by
// the stream writer as fast as the client reads. Between pulls, changes only mark
// keys in a PendingKeys queue, so a slow client costs memory per distinct key, never
// per change, and the stream's own backpressure decides the pace.
import { nowSeconds, type Clock } from '../../domain/clock.js';
import { CapacityExceededError, InvalidArgumentError } from '../../domain/errors.js';
import { isExpired } from '../../domain/entry.js';
import { quotePrefix } from '../../domain/validation.js';
import { recordKey, type LiveRecord, type ReplicatedRecord } from '../../domain/replicated-record.js';
import type { ChangeFeed } from '../core/change-feed.js';
import type { Scheduler } from '../../domain/scheduler.js';
import type { ReplicaStore } from '../replica-store.js';
import { PendingKeys } from './pending-keys.js';
import { decideItem } from './watch-decision.js';
import { formatWatchCursor, parseWatchCursor } from './watch-cursor.js';
import type { WatchFilter } from './watch-filter.js';
import type { SnapshotReason, WatchItem } from './watch-item.js';

export interface WatchSessionOptions {
  /** Most items handed out per pull (one gRPC message). */
  readonly maxBatch: number;
  /** Least time between two checkpoints of one watcher. */
  readonly checkpointIntervalMs: number;
  /**
   * Most distinct keys one watcher may have waiting (its memory bound). A watcher
   * that falls further behind is ended with RESOURCE_EXHAUSTED and its queue freed
   * at once; it resumes from its last cursor (or takes a new snapshot).
   */
  readonly maxPendingKeys: number;
}

export interface WatchContext {
  readonly store: Pick<ReplicaStore, 'records' | 'recordOf'>;
  readonly feed: Pick<ChangeFeed, 'feedId' | 'currentSeq' | 'since'>;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  /** Every expiration at or before this UNIX second has been reported to the sessions. */
  expiredThrough(): number;
  readonly options: WatchSessionOptions;
}

/** A record change with its key, as the broker passes it on. */
export interface KeyedChange {
  readonly key: string;
  readonly before: ReplicatedRecord | undefined;
  readonly after: ReplicatedRecord | undefined;
}

const MAX_CURSOR_LENGTH = 128;
/** Records walked per turn of the event loop while a snapshot is collected. */
const SNAPSHOT_STEP = 20_000;
const CURSOR_EXPECTED = 'expected a cursor printed by an earlier watch (snapshot end or checkpoint), like "9f1c2e0a5b7d3c4e:1234@1700000000"';

export class WatchSession {
  private readonly queue = new PendingKeys();
  /** Control items to send first (snapshot begin, resumed). */
  private head: WatchItem[] = [];
  private snapshot: LiveRecord[] | undefined;
  /**
   * While the snapshot is being collected: the walk over the store, SNAPSHOT_STEP
   * records per turn of the event loop (a store at the rated size would otherwise
   * hold the loop for the whole walk on every Watch call). Nothing is handed out
   * until it is done; changes meanwhile are queued and follow the snapshot.
   */
  private collecting: { readonly walk: Iterator<ReplicatedRecord>; readonly reason: SnapshotReason; readonly records: LiveRecord[] } | undefined;
  private snapshotIndex = 0;
  private snapshotEndCursor = '';
  private lastCursorSeq = 0;
  private lastCursorAtMs = Number.NEGATIVE_INFINITY;
  /** Items were sent since the last cursor. */
  private unreported = false;
  private cancelCheckpointTimer: (() => void) | undefined;
  private waiter: (() => void) | undefined;
  private closed = false;
  /** Set when the watcher fell too far behind: next() throws it. */
  private overflow: CapacityExceededError | undefined;

  constructor(
    private readonly ctx: WatchContext,
    readonly filter: WatchFilter,
    cursorText: string | undefined,
    private readonly onClose: (session: WatchSession) => void = () => undefined,
  ) {
    if (cursorText === undefined || cursorText === '') {
      this.startSnapshot('no-cursor');
      return;
    }
    // A real cursor is ~40 characters: longer input is refused before parsing.
    const cursor = cursorText.length > MAX_CURSOR_LENGTH ? undefined : parseWatchCursor(cursorText);
    if (cursor === undefined) throw InvalidArgumentError.single('cursor', `${quotePrefix(cursorText)} is not a watch cursor: ${CURSOR_EXPECTED}`);
    const since = cursor.feedId === ctx.feed.feedId ? ctx.feed.since(cursor.seq) : ({ reset: true } as const);
    if (since.reset) {
      this.startSnapshot('cursor-reset');
      return;
    }
    this.head.push({ type: 'resumed', cursor: cursorText });
    for (const change of since.changes) if (filter.coversKey(change.key)) this.queue.add(change.key, true);
    // Entries that expired while the client was away: not changes, so not in the feed.
    const through = ctx.expiredThrough();
    if (cursor.expiredThrough < through) {
      for (const record of ctx.store.records()) {
        if (record.kind !== 'live' || !filter.matchesLive(record)) continue;
        const expiration = record.entry.expiration;
        if (expiration > cursor.expiredThrough && expiration <= through) this.queue.add(recordKey(record), true);
      }
    }
    this.lastCursorSeq = cursor.seq;
    this.unreported = this.queue.size > 0;
  }

  /** Keys waiting to be sent (the memory a slow watcher costs). */
  get pending(): number {
    return this.queue.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Record changes (synchronously from the store, in order); any change may make a checkpoint due. */
  noteChanges(changes: readonly KeyedChange[], expiredThrough: number): void {
    for (const { key, before, after } of changes) {
      if (!this.filter.coversKey(key)) continue;
      // A before-entry already reported expired is no longer held by the watcher.
      const beforeHeld =
        before?.kind === 'live' &&
        this.filter.matchesLive(before) &&
        (before.entry.expiration === 0 || before.entry.expiration > expiredThrough);
      if (beforeHeld || this.filter.matchesLive(after)) this.queue.add(key, beforeHeld);
    }
    if (this.queue.size > this.ctx.options.maxPendingKeys) this.fellBehind();
    this.wake();
  }

  /** Entries whose expiration just passed. */
  noteExpired(expired: readonly LiveRecord[]): void {
    let any = false;
    for (const record of expired) {
      if (!this.filter.matchesLive(record)) continue;
      this.queue.add(recordKey(record), true);
      any = true;
    }
    if (this.queue.size > this.ctx.options.maxPendingKeys) this.fellBehind();
    if (any) this.wake();
  }

  /** The next items, waiting until there are some; undefined once closed or aborted. */
  async next(signal?: AbortSignal): Promise<WatchItem[] | undefined> {
    for (;;) {
      if (this.overflow !== undefined) throw this.overflow;
      if (this.closed || signal?.aborted === true) return undefined;
      if (this.collecting !== undefined) {
        this.collectStep();
        // Let other calls run between steps of a large snapshot.
        if (this.collecting !== undefined) await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      const items = this.take();
      if (items.length > 0) return items;
      await this.waitForWork(signal);
    }
  }

  /** What is ready now, without waiting (may be empty; empty too while a large snapshot is being collected). */
  take(): WatchItem[] {
    if (this.collecting !== undefined) this.collectStep();
    if (this.collecting !== undefined) return [];
    const items = this.head;
    this.head = [];
    const { maxBatch } = this.ctx.options;
    const now = nowSeconds(this.ctx.clock);
    if (this.snapshot !== undefined) {
      const snapshot = this.snapshot;
      while (items.length < maxBatch && this.snapshotIndex < snapshot.length) {
        const record = snapshot[this.snapshotIndex++] as LiveRecord;
        // The snapshot state of a key changed since is still sent (the snapshot is the
        // state at its cursor); the queued change follows it after snapshot end.
        const send = !isExpired(record.entry, now);
        this.queue.setHeld(recordKey(record), send);
        if (send) items.push({ type: 'upsert', entry: record.entry });
      }
      if (this.snapshotIndex < snapshot.length) return items;
      this.snapshot = undefined;
      items.push({ type: 'snapshot-end', cursor: this.snapshotEndCursor });
      this.lastCursorAtMs = this.ctx.clock.nowMs();
    }
    while (items.length < maxBatch) {
      const pending = this.queue.shift();
      if (pending === undefined) break;
      const item = decideItem(pending, this.ctx.store.recordOf(pending.key), this.filter, now);
      if (item === undefined) continue;
      items.push(item);
      this.unreported = true;
    }
    if (this.queue.size === 0) this.maybeCheckpoint(items);
    return items;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelCheckpointTimer?.();
    this.cancelCheckpointTimer = undefined;
    this.queue.clear();
    this.snapshot = undefined;
    this.collecting = undefined;
    this.wake();
    this.onClose(this);
  }

  /** Frees everything this watcher holds now (it may not be reading at all) and ends it. */
  private fellBehind(): void {
    if (this.closed) return;
    const bound = this.ctx.options.maxPendingKeys;
    this.overflow = new CapacityExceededError(
      `this watcher fell more than ${bound} changed keys behind (it reads too slowly); ` +
        'its queue was dropped: resume from the last cursor received, or watch again for a snapshot',
    );
    this.close();
  }

  private startSnapshot(reason: SnapshotReason): void {
    // The cursor is taken now: every change from here on is queued and follows the snapshot.
    this.lastCursorSeq = this.ctx.feed.currentSeq;
    this.snapshotEndCursor = formatWatchCursor({
      feedId: this.ctx.feed.feedId,
      seq: this.lastCursorSeq,
      expiredThrough: this.ctx.expiredThrough(),
    });
    this.collecting = { walk: this.ctx.store.records()[Symbol.iterator](), reason, records: [] };
    // A store of up to SNAPSHOT_STEP records is collected at once (the session is ready on return).
    this.collectStep();
  }

  /**
   * One step of the snapshot walk. A record changed after the cursor may be collected
   * in its newer state (its queued change then repeats it), and one deleted before the
   * walk reaches it is left out (its queued removal then names a rule the client never
   * held, which clients apply idempotently): either way the client ends up with the
   * current state once the queue is drained.
   */
  private collectStep(): void {
    const collecting = this.collecting;
    if (collecting === undefined) return;
    const now = nowSeconds(this.ctx.clock);
    for (let i = 0; i < SNAPSHOT_STEP; i++) {
      const next = collecting.walk.next();
      if (next.done === true) {
        this.collecting = undefined;
        this.snapshot = collecting.records;
        this.snapshotIndex = 0;
        this.head.push({ type: 'snapshot-begin', reason: collecting.reason, entries: collecting.records.length });
        return;
      }
      const record = next.value;
      if (record.kind === 'live' && this.filter.holds(record, now)) collecting.records.push(record);
    }
  }

  /** With nothing queued, everything up to the feed's current sequence has been handed out. */
  private maybeCheckpoint(items: WatchItem[]): void {
    const seq = this.ctx.feed.currentSeq;
    if (!this.unreported && seq === this.lastCursorSeq) return;
    const nowMs = this.ctx.clock.nowMs();
    const waitMs = this.lastCursorAtMs + this.ctx.options.checkpointIntervalMs - nowMs;
    if (waitMs > 0) {
      this.cancelCheckpointTimer ??= this.ctx.scheduler.after(waitMs, () => {
        this.cancelCheckpointTimer = undefined;
        this.wake();
      });
      return;
    }
    const cursor = formatWatchCursor({ feedId: this.ctx.feed.feedId, seq, expiredThrough: this.ctx.expiredThrough() });
    items.push({ type: 'checkpoint', cursor });
    this.lastCursorSeq = seq;
    this.lastCursorAtMs = nowMs;
    this.unreported = false;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  private waitForWork(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiter = done;
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
