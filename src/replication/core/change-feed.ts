// Resumable change cursors for the Watch API: every record change on this node gets
// the next sequence number; per key only the sequence of its latest change is kept
// (memory bounded by keys, a number per key: the record itself is the store's), so a
// client that reconnects with a cursor gets each key changed since, once, in
// sequence order. What GC forgot (or what happened before this process started)
// cannot be replayed: such a cursor gets { reset: true } and takes a fresh snapshot.
import { randomBytes } from 'node:crypto';
import { recordKey, type ReplicatedRecord } from '../../domain/replicated-record.js';
import type { RecordChange, RecordChangeOrigin } from '../replica-store.js';

export interface FeedChange {
  readonly seq: number;
  readonly key: string;
  /** The key's record after the change; undefined = forgotten by garbage collection. */
  readonly record: ReplicatedRecord | undefined;
  readonly origin: RecordChangeOrigin;
}

/** A key changed after a cursor: its latest change's sequence (read the record from the store). */
export interface FeedKey {
  readonly seq: number;
  readonly key: string;
}

export type FeedSince = { readonly reset: false; readonly changes: readonly FeedKey[] } | { readonly reset: true };

export type FeedListener = (changes: readonly FeedChange[]) => void;

export interface FeedCursor {
  readonly feedId: string;
  readonly seq: number;
}

export function formatCursor(feedId: string, seq: number): string {
  return `${feedId}:${seq}`;
}

/** Undefined when the text is not a cursor at all. */
export function parseCursor(text: string): FeedCursor | undefined {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const digits = text.slice(colon + 1);
  if (!/^[0-9]{1,15}$/.test(digits)) return undefined;
  return { feedId: text.slice(0, colon), seq: Number(digits) };
}

export class ChangeFeed {
  /** Random per process start: cursors from an earlier run are recognised as too old. */
  readonly feedId: string;
  private seq = 0;
  private horizonSeq = 0;
  /** Sequence of the latest change per key; Map order = sequence order (a key is re-inserted on each change). */
  private readonly latest = new Map<string, number>();
  private readonly listeners = new Set<FeedListener>();

  constructor(feedId: string = randomBytes(8).toString('hex')) {
    if (feedId.includes(':') || feedId === '') throw new RangeError(`feedId must be non-empty without ':', got "${feedId}"`);
    this.feedId = feedId;
  }

  get currentSeq(): number {
    return this.seq;
  }

  /** Changes at or below the horizon are no longer replayable. */
  get horizon(): number {
    return this.horizonSeq;
  }

  /** Keys remembered (the memory bound). */
  get size(): number {
    return this.latest.size;
  }

  get cursor(): string {
    return formatCursor(this.feedId, this.seq);
  }

  /** keys: each change's record key, when the caller has them (same order as changes). */
  record(changes: readonly RecordChange[], origin: RecordChangeOrigin, keys?: readonly (string | undefined)[]): void {
    if (changes.length === 0) return;
    // Built only for subscribers: the feed itself keeps one change per key.
    const out: FeedChange[] | undefined = this.listeners.size > 0 ? [] : undefined;
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i] as RecordChange;
      const record = change.after ?? change.before;
      if (record === undefined) continue;
      const key = keys?.[i] ?? recordKey(record);
      const seq = ++this.seq;
      this.latest.delete(key);
      if (change.after === undefined) {
        // Forgotten for good: a cursor before this point can no longer be served exactly.
        this.horizonSeq = seq;
      } else {
        this.latest.set(key, seq);
      }
      out?.push({ seq, key, record: change.after, origin });
    }
    if (out !== undefined) for (const listener of this.listeners) listener(out);
  }

  /** Every key changed after `cursor`, in sequence order, or reset when the cursor is too old. */
  since(cursor: number): FeedSince {
    if (cursor < this.horizonSeq || cursor > this.seq) return { reset: true };
    const changes: FeedKey[] = [];
    for (const [key, seq] of this.latest) if (seq > cursor) changes.push({ seq, key });
    return { reset: false, changes };
  }

  /** Same as since(), for a cursor string; another feed's (or garbage) cursor means reset. */
  sinceCursor(text: string): FeedSince {
    const cursor = parseCursor(text);
    if (cursor === undefined || cursor.feedId !== this.feedId) return { reset: true };
    return this.since(cursor.seq);
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}
