// What one replication link still owes its peer: the newest record per key,
// waiting (pending) or sent but not yet acknowledged (in flight). Memory grows with
// the number of distinct keys, never with the number of operations, and nothing
// is dropped: un-acked records go back to pending when the link breaks.
import { newerRecord, recordKey, type ReplicatedRecord } from '../../domain/replicated-record.js';
import { CHUNK_OVERHEAD_BYTES, estimateRecordBytes } from './record-size.js';

export interface OutboxChunk {
  readonly seq: number;
  readonly records: ReplicatedRecord[];
  /** Estimated encoded size, envelope included (<= maxBytes unless one record alone is larger). */
  readonly bytes: number;
}

/** A large pending set goes out in this many chunks (at least chunkRecords each). */
export const DELTA_SPLIT = 4;

interface InFlight {
  readonly seq: number;
  readonly record: ReplicatedRecord;
}

export class CoalescingOutbox {
  private pending = new Map<string, ReplicatedRecord>();
  /**
   * Where takeChunk goes on in `pending` (a live Map iterator: it skips removed keys
   * and sees keys added later). Restarting from the front each time would walk over
   * the holes deleted keys leave in the Map until its next rehash.
   */
  private cursor: Iterator<[string, ReplicatedRecord]> | undefined;
  /** A key the cursor passed that did not fit in the previous chunk (goes first next time). */
  private carried: string | undefined;
  /** Per key, the newest record sent and not yet acked (older sends of it are superseded). */
  private readonly inFlightByKey = new Map<string, InFlight>();
  /** Per un-acked chunk, its keys (some may since have been re-sent in a later chunk). */
  private readonly chunks = new Map<number, string[]>();
  private nextSeq = 1;
  /** Puts that replaced a record still pending (the coalescing at work). */
  folded = 0;
  /** Pending records dropped because the peer sent the same or a newer version (see discardCovered). */
  covered = 0;

  /**
   * @param chunkRecords records per chunk while little is pending: what is pending is
   * cut into chunks of this size, or into DELTA_SPLIT chunks once more is pending (a
   * backlog then moves in fewer, larger chunks: the peer's window counts chunks).
   */
  constructor(private readonly chunkRecords = Number.POSITIVE_INFINITY) {}

  /** Queues a record (key: its recordKey, when the caller has it); a pending or in-flight record of the same key is kept only if newer. */
  put(record: ReplicatedRecord, key: string = recordKey(record)): void {
    const sent = this.inFlightByKey.get(key);
    // Already sent something at least as new: it will be acked or requeued, never lost.
    if (sent !== undefined && newerRecord(sent.record, record) === sent.record) {
      this.folded++;
      return;
    }
    const current = this.pending.get(key);
    if (current === undefined) {
      this.pending.set(key, record);
    } else {
      this.folded++;
      this.pending.set(key, newerRecord(current, record));
    }
  }

  /**
   * The peer sent us `record`, so it holds that version of the key or a newer one: a
   * pending record of the key that is not newer would change nothing there and is
   * dropped (in a mesh, the relay of a record the peer got from its origin too).
   */
  discardCovered(record: ReplicatedRecord, key: string = recordKey(record)): void {
    const current = this.pending.get(key);
    if (current === undefined || newerRecord(record, current) !== record) return;
    this.pending.delete(key);
    this.covered++;
  }

  get pendingKeys(): number {
    return this.pending.size;
  }

  /** Distinct keys sent and not yet acked. */
  get inFlightKeys(): number {
    return this.inFlightByKey.size;
  }

  /** Chunks sent and not yet acked. */
  get inFlightChunks(): number {
    return this.chunks.size;
  }

  /** Distinct keys held (pending or in flight): the memory bound. */
  get heldKeys(): number {
    let both = 0;
    for (const key of this.inFlightByKey.keys()) if (this.pending.has(key)) both++;
    return this.pending.size + this.inFlightByKey.size - both;
  }

  /** A fresh sequence number for a chunk sent outside the outbox (reconciliation). */
  allocateSeq(): number {
    return this.nextSeq++;
  }

  /**
   * Moves pending records, oldest first, into a new in-flight chunk whose estimated
   * size stays <= maxBytes and count <= max(chunkRecords, pending / DELTA_SPLIT) (at
   * least one record, so an oversized record cannot stall the link). Undefined when
   * nothing is pending.
   */
  takeChunk(maxBytes: number): OutboxChunk | undefined {
    if (this.pending.size === 0) return undefined;
    const maxRecords = Math.max(this.chunkRecords, Math.ceil(this.pending.size / DELTA_SPLIT));
    const seq = this.allocateSeq();
    const records: ReplicatedRecord[] = [];
    const keys: string[] = [];
    let bytes = CHUNK_OVERHEAD_BYTES;
    while (records.length < maxRecords) {
      const key = this.nextPendingKey();
      if (key === undefined) break;
      const record = this.pending.get(key) as ReplicatedRecord;
      const size = estimateRecordBytes(record);
      if (records.length > 0 && bytes + size > maxBytes) {
        this.carried = key;
        break;
      }
      // Out of pending at once: a cursor restarted below must not see it again.
      this.pending.delete(key);
      records.push(record);
      keys.push(key);
      bytes += size;
    }
    for (let i = 0; i < keys.length; i++) {
      this.inFlightByKey.set(keys[i] as string, { seq, record: records[i] as ReplicatedRecord });
    }
    this.chunks.set(seq, keys);
    return { seq, records, bytes };
  }

  /** The next pending key in insertion order, the carried one first; undefined at the end. */
  private nextPendingKey(): string | undefined {
    const carried = this.carried;
    this.carried = undefined;
    if (carried !== undefined && this.pending.has(carried)) return carried;
    for (let restarted = false; ; restarted = true) {
      this.cursor ??= this.pending.entries();
      const next = this.cursor.next();
      if (next.done !== true) return next.value[0];
      // Exhausted: a fresh iterator sees only what was added since (all before was taken).
      this.cursor = undefined;
      if (restarted || this.pending.size === 0) return undefined;
    }
  }

  /** The peer applied chunk `seq`: forget its records (unless re-sent since). Unknown seqs are ignored. */
  ack(seq: number): boolean {
    const keys = this.chunks.get(seq);
    if (keys === undefined) return false;
    this.chunks.delete(seq);
    for (const key of keys) {
      if (this.inFlightByKey.get(key)?.seq === seq) this.inFlightByKey.delete(key);
    }
    return true;
  }

  /** The link broke: every un-acked record goes back to pending (a newer pending one wins). */
  requeueInFlight(): void {
    // Chunks whose keys were all re-sent and acked since hold no key in flight but still
    // count as un-acked: forget them whatever is in flight.
    this.chunks.clear();
    if (this.inFlightByKey.size === 0) return;
    const merged = new Map<string, ReplicatedRecord>();
    // Re-sent first, in their original order, then what was queued meanwhile.
    for (const [key, { record }] of this.inFlightByKey) merged.set(key, record);
    for (const [key, record] of this.pending) {
      const sent = merged.get(key);
      merged.set(key, sent === undefined ? record : newerRecord(sent, record));
    }
    this.pending = merged;
    this.cursor = undefined;
    this.carried = undefined;
    this.inFlightByKey.clear();
    this.chunks.clear();
  }

  clear(): void {
    this.pending.clear();
    this.cursor = undefined;
    this.carried = undefined;
    this.inFlightByKey.clear();
    this.chunks.clear();
  }
}
