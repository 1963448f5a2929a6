// Keeps the stream from growing without bound. When it holds more than
// max(threshold, 2 x its size right after the last compaction this node made or
// saw), a publishing node publishes a snapshot of the state the stream describes
// up to some sequence S, then purges everything before S+1. The snapshot lies after
// the purge point, so any reader, even one that was behind, still converges; two
// nodes compacting at once stay correct (each purge removes only what its own later
// snapshot covers), only wasteful. Merging is last-writer-wins, so the order of the
// records in the stream does not matter, only that the newest of each key stays.
//  - a node that also consumes, once caught up: its store holds every batch up to
//    its consumed sequence S, so the snapshot is its store;
//  - a publish-only node does not hold the others' changes: it folds the stream
//    [first, S] (S = last sequence when it starts) into the newest record per key.
import type { Logger } from 'pino';
import { newerRecord, recordKey, type ReplicatedRecord } from '../../domain/replicated-record.js';
import { CHUNK_OVERHEAD_BYTES, estimateRecordBytes } from '../core/record-size.js';
import type { ReplicaStore } from '../replica-store.js';
import { decodeBatch } from './bus-batch-codec.js';
import type { BusCursorKeeper } from './bus-cursor.js';
import type { BusPublisher } from './bus-publisher.js';
import type { BusSession } from './bus-session.js';
import type { BusStatus } from './bus-status.js';

/** Messages read at once while folding the stream. */
const FOLD_READS_IN_FLIGHT = 16;

export interface BusCompactorOptions {
  readonly store: ReplicaStore;
  readonly cursor: BusCursorKeeper;
  readonly publisher: BusPublisher;
  readonly status: BusStatus;
  readonly logger: Logger;
  readonly streamName: string;
  readonly maxChunkBytes: number;
  readonly consumes: boolean;
  /** Compact once the stream holds more than max(this, 2 x its size after the last compaction). */
  readonly minBytes: number;
}

export class BusCompactor {
  private running = false;
  /** Stream size right after the last compaction made or seen (0: none known). */
  private baselineBytes = 0;
  /** First sequence at the previous check: when it moves, someone purged. */
  private seenFirstSeq: number | undefined;

  constructor(private readonly options: BusCompactorOptions) {}

  /** Compacts if the stream is large enough (or `force`); true when it did. */
  async maybeCompact(session: BusSession | undefined, force = false): Promise<boolean> {
    if (session === undefined || session.ended || this.running) return false;
    if (this.options.consumes && !session.caughtUp) return false;
    this.running = true;
    try {
      const info = await session.stream.info();
      if (this.seenFirstSeq !== undefined && info.firstSeq !== this.seenFirstSeq) this.baselineBytes = info.bytes;
      this.seenFirstSeq = info.firstSeq;
      const threshold = Math.max(this.options.minBytes, 2 * this.baselineBytes);
      if (!force && info.bytes <= threshold) return false;
      const { coveredSeq, records } = this.options.consumes
        ? { coveredSeq: this.options.cursor.consumedSeq, records: [...this.options.store.records()] }
        : { coveredSeq: info.lastSeq, records: await this.foldStream(session, info.firstSeq, info.lastSeq) };
      if (session.ended) return false;
      const before = this.options.status.bytesSent;
      for (const batch of batchesOf(records, session.batchBytes(this.options.maxChunkBytes))) {
        await this.options.publisher.publish(session, batch, 'snapshot');
      }
      const snapshotBytes = this.options.status.bytesSent - before;
      const purged = await session.stream.purge(coveredSeq + 1);
      const after = await session.stream.info();
      this.baselineBytes = Math.max(snapshotBytes, after.bytes);
      this.seenFirstSeq = after.firstSeq;
      this.options.status.compactions++;
      this.options.logger.info(
        { stream: this.options.streamName, records: records.length, snapshotBytes, purged, bytesBefore: info.bytes, from: this.options.consumes ? 'store' : 'stream' },
        'bus: compacted the stream',
      );
      return true;
    } catch (error) {
      if (!session.ended) this.options.status.recordError(error, 'bus compaction failed', this.options.publisher.pendingDeltas);
      return false;
    } finally {
      this.running = false;
    }
  }

  /** The newest record per key among the batches [from, to] (purged ones are gone: skipped). */
  private async foldStream(session: BusSession, from: number, to: number): Promise<ReplicatedRecord[]> {
    const byKey = new Map<string, ReplicatedRecord>();
    for (let start = from; start <= to && !session.ended; start += FOLD_READS_IN_FLIGHT) {
      const seqs: number[] = [];
      for (let seq = start; seq <= to && seqs.length < FOLD_READS_IN_FLIGHT; seq++) seqs.push(seq);
      const messages = await Promise.all(seqs.map((seq) => session.stream.get(seq)));
      for (const m of messages) {
        if (m === undefined) continue;
        let records: ReplicatedRecord[];
        try {
          records = decodeBatch(m.data);
        } catch {
          this.options.status.badBatches++;
          continue;
        }
        for (const record of records) {
          const key = recordKey(record);
          const current = byKey.get(key);
          byKey.set(key, current === undefined ? record : newerRecord(current, record));
        }
      }
    }
    return [...byKey.values()];
  }
}

/** Cuts records into batches of at most maxBytes (estimated), one record at least. */
function* batchesOf(records: readonly ReplicatedRecord[], maxBytes: number): Generator<ReplicatedRecord[]> {
  let batch: ReplicatedRecord[] = [];
  let bytes = CHUNK_OVERHEAD_BYTES;
  for (const record of records) {
    const size = estimateRecordBytes(record);
    if (batch.length > 0 && bytes + size > maxBytes) {
      yield batch;
      batch = [];
      bytes = CHUNK_OVERHEAD_BYTES;
    }
    batch.push(record);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}
