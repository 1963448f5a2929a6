// The node's replication core, shared by every link (mesh peers, the NATS bus) and
// the Watch API: it watches the store, fans local changes out to one coalescing
// outbox per link, relays what a link brought in to the other links only when it
// changed local state (so loops die out), keeps the bucket digests used for
// reconciliation and the change feed, and drives the flush and GC ticks.
import type { Clock } from '../../domain/clock.js';
import { recordKey, recordVersion, type ReplicatedRecord } from '../../domain/replicated-record.js';
import type { HybridClock } from '../../domain/version.js';
import type { RecordChange, RecordChangeOrigin, ReplicaStore } from '../replica-store.js';
import { BucketDigests, DEFAULT_BUCKET_COUNT } from './bucket-digests.js';
import { ChangeFeed } from './change-feed.js';
import { CoalescingOutbox } from './coalescing-outbox.js';
import type { Scheduler } from '../../domain/scheduler.js';

export const DEFAULT_FLUSH_INTERVAL_MS = 250;
export const DEFAULT_MAX_CHUNK_BYTES = 1024 * 1024;
/**
 * Delta chunk size while little is pending: a flush under load is cut into a few
 * chunks, so the peer decodes, merges and shows the first ones while the rest are
 * still on the wire (a backlog goes out in larger chunks, see CoalescingOutbox).
 */
export const DEFAULT_DELTA_CHUNK_RECORDS = 512;
export const DEFAULT_GC_INTERVAL_MS = 60 * 1000;

export interface ReplicationHubOptions {
  readonly store: ReplicaStore;
  readonly hlc: HybridClock;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly flushIntervalMs?: number;
  readonly maxChunkBytes?: number;
  /** Delta chunk size while little is pending (see DEFAULT_DELTA_CHUNK_RECORDS). */
  readonly deltaChunkRecords?: number;
  readonly bucketCount?: number;
  readonly gcIntervalMs?: number;
  /** Feed id for the Watch cursors (default: random per process). */
  readonly feedId?: string;
}

export class ReplicationHub {
  readonly digests: BucketDigests;
  readonly feed: ChangeFeed;
  readonly flushIntervalMs: number;
  readonly maxChunkBytes: number;
  readonly deltaChunkRecords: number;
  readonly gcIntervalMs: number;
  private readonly outboxes = new Map<string, CoalescingOutbox>();
  /** Per link whose far end is one node (a mesh peer): that node's id. */
  private readonly linkPeers = new Map<string, string>();
  private readonly flushListeners = new Map<string, Set<() => void>>();
  /** Per link: when it last flushed, and the armed flush timer if any. */
  private readonly flushState = new Map<string, LinkFlushState>();
  private readonly cancels: (() => void)[] = [];
  private started = false;
  private listening = false;
  /** Records collected by the GC tick so far. */
  collected = 0;

  constructor(private readonly options: ReplicationHubOptions) {
    this.digests = new BucketDigests(options.bucketCount ?? DEFAULT_BUCKET_COUNT);
    this.feed = new ChangeFeed(options.feedId);
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.maxChunkBytes = options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES;
    this.deltaChunkRecords = Math.max(1, options.deltaChunkRecords ?? DEFAULT_DELTA_CHUNK_RECORDS);
    this.gcIntervalMs = options.gcIntervalMs ?? DEFAULT_GC_INTERVAL_MS;
  }

  get nodeId(): string {
    return this.options.hlc.nodeId;
  }

  get clock(): Clock {
    return this.options.clock;
  }

  get scheduler(): Scheduler {
    return this.options.scheduler;
  }

  /** Digests the current state, then follows every store change and starts the GC tick and the flushes. */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (!this.listening) {
      // ReplicaStore has no unsubscribe: listen once for the hub's lifetime (digests and
      // feed must stay exact across stop/start; stop() only ends the ticks).
      this.listening = true;
      for (const record of this.options.store.records()) this.digests.add(record);
      this.options.store.onRecordChange((changes, origin) => this.onChanges(changes, origin));
    }
    for (const linkId of this.outboxes.keys()) this.scheduleFlush(linkId);
    this.cancels.push(
      this.options.scheduler.every(this.gcIntervalMs, () => {
        this.collected += this.options.store.collectGarbage(this.options.clock.nowMs());
      }),
    );
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    for (const cancel of this.cancels.splice(0)) cancel();
    for (const state of this.flushState.values()) {
      state.cancel?.();
      state.cancel = undefined;
    }
  }

  /**
   * A fresh, empty outbox for a link (reconciliation covers what exists already).
   * Replaces any previous one. peerNodeId: the node at the far end, when the link
   * is one node (a mesh peer): records written by that node are not relayed back to it.
   */
  openOutbox(linkId: string, options: { readonly peerNodeId?: string } = {}): CoalescingOutbox {
    const outbox = new CoalescingOutbox(this.deltaChunkRecords);
    this.outboxes.get(linkId)?.clear();
    this.outboxes.set(linkId, outbox);
    if (options.peerNodeId !== undefined) this.linkPeers.set(linkId, options.peerNodeId);
    else this.linkPeers.delete(linkId);
    // A new connection starts idle: its first deltas go out without waiting an interval.
    const state = this.flushState.get(linkId);
    if (state !== undefined) state.lastFlushAtMs = Number.NEGATIVE_INFINITY;
    return outbox;
  }

  /** Forgets a link's outbox, only if it is still `outbox` when given (a newer session may own the link). */
  closeOutbox(linkId: string, outbox?: CoalescingOutbox): void {
    const current = this.outboxes.get(linkId);
    if (current === undefined || (outbox !== undefined && current !== outbox)) return;
    current.clear();
    this.outboxes.delete(linkId);
    this.linkPeers.delete(linkId);
    this.flushState.get(linkId)?.cancel?.();
    this.flushState.delete(linkId);
  }

  outboxOf(linkId: string): CoalescingOutbox | undefined {
    return this.outboxes.get(linkId);
  }

  linkIds(): string[] {
    return [...this.outboxes.keys()];
  }

  /**
   * listener runs on each flush of the link while its outbox has pending records: at
   * once (next timer turn) when the link has not flushed for a full interval, else
   * one interval after its previous flush. So a sparse change goes out without
   * waiting, and under load the link still flushes at most once per interval (the
   * coalescing). While records stay pending (window full), it runs again each interval.
   */
  onFlush(linkId: string, listener: () => void): () => void {
    let listeners = this.flushListeners.get(linkId);
    if (listeners === undefined) {
      listeners = new Set();
      this.flushListeners.set(linkId, listeners);
    }
    listeners.add(listener);
    this.scheduleFlush(linkId);
    return () => {
      const set = this.flushListeners.get(linkId);
      if (set === undefined) return;
      set.delete(listener);
      if (set.size === 0) this.flushListeners.delete(linkId);
    };
  }

  /**
   * Records that came in over `linkId`: the clock moves past their versions, the
   * link's own pending records that they cover are dropped, the store merges them,
   * and those that changed local state go to every other link. Resolves with those
   * changed records.
   */
  async receive(linkId: string, records: readonly ReplicatedRecord[]): Promise<readonly ReplicatedRecord[]> {
    for (const record of records) this.options.hlc.observe(recordVersion(record));
    // What the peer just sent, it has: our pending copies of those versions need not go back.
    const back = this.outboxes.get(linkId);
    if (back !== undefined && back.pendingKeys > 0) for (const record of records) back.discardCovered(record);
    const changed = await this.options.store.mergeRemote(records);
    if (changed.length > 0) {
      for (const [id, outbox] of this.outboxes) {
        if (id === linkId) continue;
        // The writer of a record has it (or something newer): no echo back to its origin
        // (a node that lost its own write gets it back from the reconciliation on reconnect).
        const peer = this.linkPeers.get(id);
        for (const record of changed) if (peer === undefined || recordVersion(record).origin !== peer) outbox.put(record);
        this.scheduleFlush(id);
      }
    }
    return changed;
  }

  /** Every current record (one pass over the store): the mesh reconciliation groups them by bucket itself. */
  records(): Iterable<ReplicatedRecord> {
    return this.options.store.records();
  }

  /** The current records of the given buckets (all of them when a bucket count mismatch forces a snapshot). */
  recordsInBuckets(buckets: readonly number[]): ReplicatedRecord[] {
    const out: ReplicatedRecord[] = [];
    if (buckets.length === 0) return out;
    const wanted = new Uint8Array(this.digests.bucketCount);
    for (const b of buckets) if (b >= 0 && b < wanted.length) wanted[b] = 1;
    for (const record of this.options.store.records()) {
      if (wanted[this.digests.bucketOf(recordKey(record))] === 1) out.push(record);
    }
    return out;
  }

  private onChanges(changes: readonly RecordChange[], origin: RecordChangeOrigin): void {
    // One key per change, shared by every outbox and the feed.
    const keys: (string | undefined)[] = new Array<string | undefined>(changes.length);
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i] as RecordChange;
      this.digests.apply(change);
      const record = change.after ?? change.before;
      keys[i] = record === undefined ? undefined : (change.key ?? recordKey(record));
    }
    if (origin === 'local' && this.outboxes.size > 0) {
      for (const [linkId, outbox] of this.outboxes) {
        for (let i = 0; i < changes.length; i++) {
          const after = (changes[i] as RecordChange).after;
          if (after !== undefined) outbox.put(after, keys[i]);
        }
        this.scheduleFlush(linkId);
      }
    }
    this.feed.record(changes, origin, keys);
  }

  /** Arms the link's next flush if records are pending and none is armed (see onFlush). */
  private scheduleFlush(linkId: string): void {
    if (!this.started || !this.flushListeners.has(linkId)) return;
    const outbox = this.outboxes.get(linkId);
    if (outbox === undefined || outbox.pendingKeys === 0) return;
    let state = this.flushState.get(linkId);
    if (state === undefined) {
      state = { lastFlushAtMs: Number.NEGATIVE_INFINITY, cancel: undefined };
      this.flushState.set(linkId, state);
    }
    if (state.cancel !== undefined) return;
    const armed = state;
    const delayMs = Math.max(0, armed.lastFlushAtMs + this.flushIntervalMs - this.options.clock.nowMs());
    armed.cancel = this.options.scheduler.after(delayMs, () => {
      armed.cancel = undefined;
      this.flush(linkId, armed);
    });
  }

  private flush(linkId: string, state: LinkFlushState): void {
    const outbox = this.outboxes.get(linkId);
    const listeners = this.flushListeners.get(linkId);
    if (outbox === undefined || listeners === undefined || outbox.pendingKeys === 0) return;
    state.lastFlushAtMs = this.options.clock.nowMs();
    for (const listener of [...listeners]) listener();
    // Still pending (the window is full): try again an interval later, as acks also do.
    this.scheduleFlush(linkId);
  }
}

interface LinkFlushState {
  lastFlushAtMs: number;
  cancel: (() => void) | undefined;
}
