// Resumable change cursors for the Watch API: every record change on this node gets
// the next sequence number; per key only the sequence of its latest change is kept
// (memory bounded by keys, a number per key: the record itself is the store's), so a
// client that reconnects with a cursor gets each key changed since, once, in
// sequence order. What GC forgot (or what happened before this process started)
// cannot be replayed: such a cursor gets { reset: true } and takes a fresh snapshot.
import { randomBytes } from 'node:crypto';
import { KeyIndex } from '../../domain/key-index.js';
import { recordCidr, recordKey, recordPolicy, type ReplicatedRecord } from '../../domain/replicated-record.js';
import { encodeCidrKey, KEY_BYTES, KEY_WORDS, textKeyOf } from '../../domain/rule-key.js';
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
  /**
   * Sequence of the latest change per key, by the key's slot in a binary-key index (no
   * string or object per key), and the keys in sequence order as a doubly linked list
   * of slots (a key moves to the tail on each change).
   */
  private readonly index = new KeyIndex();
  private seqOf = new Float64Array(this.index.capacity);
  private prev = new Int32Array(this.index.capacity);
  private next = new Int32Array(this.index.capacity);
  private tail = -1;
  private readonly key = new Uint32Array(KEY_WORDS);
  private readonly keyBytes = new Uint8Array(this.key.buffer);
  private readonly listeners = new Set<FeedListener>();

  constructor(feedId: string = randomBytes(8).toString('hex')) {
    if (feedId.includes(':') || feedId === '') throw new RangeError(`feedId must be non-empty without ':', got "${feedId}"`);
    this.feedId = feedId;
    this.index.onGrow = (capacity) => {
      this.seqOf = grownTo(this.seqOf, new Float64Array(capacity));
      this.prev = grownTo(this.prev, new Int32Array(capacity));
      this.next = grownTo(this.next, new Int32Array(capacity));
    };
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
    return this.index.size;
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
      const seq = ++this.seq;
      encodeCidrKey(recordPolicy(record), recordCidr(record), this.keyBytes);
      if (change.after === undefined) {
        // Forgotten for good: a cursor before this point can no longer be served exactly.
        this.horizonSeq = seq;
        const slot = this.index.find(this.key);
        if (slot >= 0) {
          this.unlink(slot);
          this.index.remove(slot);
        }
      } else {
        const slot = this.index.insert(this.key);
        if (!this.index.created) this.unlink(slot);
        this.seqOf[slot] = seq;
        this.append(slot);
      }
      if (out !== undefined) out.push({ seq, key: keys?.[i] ?? recordKey(record), record: change.after, origin });
    }
    if (out !== undefined) for (const listener of this.listeners) listener(out);
  }

  /** Every key changed after `cursor`, in sequence order, or reset when the cursor is too old. */
  since(cursor: number): FeedSince {
    if (cursor < this.horizonSeq || cursor > this.seq) return { reset: true };
    // Walk back from the newest change to the first one after the cursor.
    let first = this.tail;
    let count = 0;
    while (first >= 0 && (this.seqOf[first] ?? 0) > cursor) {
      count++;
      const before = this.prev[first] ?? -1;
      if (before < 0 || (this.seqOf[before] ?? 0) <= cursor) break;
      first = before;
    }
    const changes: FeedKey[] = [];
    const keys = this.index.keyBytes;
    for (let slot = count > 0 ? first : -1; slot >= 0; slot = this.next[slot] ?? -1) {
      changes.push({ seq: this.seqOf[slot] ?? 0, key: textKeyOf(keys, slot * KEY_BYTES) });
    }
    return { reset: false, changes };
  }

  /** Same as since(), for a cursor string; another feed's (or garbage) cursor means reset. */
  sinceCursor(text: string): FeedSince {
    const cursor = parseCursor(text);
    if (cursor === undefined || cursor.feedId !== this.feedId) return { reset: true };
    return this.since(cursor.seq);
  }

  private unlink(slot: number): void {
    const before = this.prev[slot] ?? -1;
    const after = this.next[slot] ?? -1;
    if (before >= 0) this.next[before] = after;
    if (after >= 0) this.prev[after] = before;
    else this.tail = before;
  }

  private append(slot: number): void {
    this.prev[slot] = this.tail;
    this.next[slot] = -1;
    if (this.tail >= 0) this.next[this.tail] = slot;
    this.tail = slot;
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}

function grownTo<T extends Float64Array | Int32Array>(old: T, next: T): T {
  (next as Float64Array).set(old as Float64Array);
  return next;
}
