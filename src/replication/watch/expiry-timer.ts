// Reports entries as they expire, for watchers: expiry is data in the replicated
// store (an expired entry stays a record, no change is emitted), but an agent that
// does not track expirations itself must be told. One timer, set on the earliest
// expiration, shared by every watcher; active only while someone watches.
import { nowSeconds, type Clock } from '../../domain/clock.js';
import { recordKey, type LiveRecord, type ReplicatedRecord } from '../../domain/replicated-record.js';
import type { ReplicaStore } from '../replica-store.js';
import type { Scheduler } from '../../domain/scheduler.js';
import { KeyExpiryHeap } from './key-expiry-heap.js';

/** Far-future expirations are re-checked at least this often (setTimeout's range is ~24.8 days). */
const MAX_DELAY_MS = 24 * 60 * 60 * 1000;
/** Rebuild the heap from the store when stale items (replaced entries) pile up past this. */
const MIN_REBUILD_SIZE = 65_536;

export type ExpiredListener = (expired: readonly LiveRecord[]) => void;

export class ExpiryTimer {
  private readonly queue = new KeyExpiryHeap();
  private horizonSeconds = 0;
  private running = false;
  private cancelTimer: (() => void) | undefined;
  private armedAtMs: number | undefined;
  private rebuildAbove = MIN_REBUILD_SIZE;

  constructor(
    private readonly store: Pick<ReplicaStore, 'records' | 'recordOf'>,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    private readonly onExpired: ExpiredListener,
  ) {}

  /** Every entry expiring at or before this UNIX second has been reported (while active). */
  get expiredThrough(): number {
    return this.running ? this.horizonSeconds : nowSeconds(this.clock);
  }

  get active(): boolean {
    return this.running;
  }

  /** Starts reporting expirations after now (what expired earlier is the caller's to handle). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.horizonSeconds = Math.max(this.horizonSeconds, nowSeconds(this.clock));
    this.rebuild();
  }

  stop(): void {
    this.running = false;
    this.queue.clear();
    this.disarm();
  }

  /** Follows record changes: new or replaced entries with an expiration get a heap slot. */
  noteRecords(records: Iterable<ReplicatedRecord | undefined>): void {
    if (!this.running) return;
    let earliestAdded = Number.POSITIVE_INFINITY;
    for (const record of records) {
      if (record?.kind !== 'live') continue;
      const expiration = record.entry.expiration;
      if (expiration === 0 || expiration <= this.horizonSeconds) continue;
      this.queue.push({ expiration, key: recordKey(record) });
      earliestAdded = Math.min(earliestAdded, expiration);
    }
    if (this.queue.size > this.rebuildAbove) this.rebuild();
    else if (earliestAdded !== Number.POSITIVE_INFINITY) this.arm();
  }

  /** Reports everything due now; called by the timer (and by tests). */
  fire(): void {
    if (!this.running) return;
    const now = nowSeconds(this.clock);
    const expired: LiveRecord[] = [];
    for (const { expiration, key } of this.queue.popDue(now)) {
      const record = this.store.recordOf(key);
      // Stale slots: the entry was replaced or deleted since it was queued.
      if (record?.kind === 'live' && record.entry.expiration === expiration) expired.push(record);
    }
    this.horizonSeconds = Math.max(this.horizonSeconds, now);
    this.disarm();
    this.arm();
    if (expired.length > 0) this.onExpired(expired);
  }

  private rebuild(): void {
    this.queue.clear();
    for (const record of this.store.records()) {
      if (record.kind !== 'live') continue;
      const expiration = record.entry.expiration;
      if (expiration !== 0 && expiration > this.horizonSeconds) this.queue.push({ expiration, key: recordKey(record) });
    }
    this.rebuildAbove = Math.max(MIN_REBUILD_SIZE, 2 * this.queue.size);
    this.disarm();
    this.arm();
  }

  /** Sets the timer on the earliest queued expiration, unless it is already set as early. */
  private arm(): void {
    const next = this.queue.peekExpiration();
    if (next === undefined) return;
    const dueMs = next * 1000;
    if (this.armedAtMs !== undefined && this.armedAtMs <= dueMs) return;
    this.disarm();
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, dueMs - this.clock.nowMs()));
    this.armedAtMs = this.clock.nowMs() + delay;
    this.cancelTimer = this.scheduler.after(delay, () => {
      this.cancelTimer = undefined;
      this.armedAtMs = undefined;
      this.fire();
    });
  }

  private disarm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.armedAtMs = undefined;
  }
}
