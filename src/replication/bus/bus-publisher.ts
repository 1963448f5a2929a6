// Publishing side of the bus link: every flush tick (and whenever a publish is
// acked) the 'bus' outbox is cut into batches, up to MAX_PUBLISHES_IN_FLIGHT at
// once; a batch leaves the outbox only once the stream acked it. A failed publish
// puts every un-acked record back and ends the session (the next one starts from
// known points). After a restart, records a previous run may not have got acked
// are queued again (all of them on a new stream incarnation): those stamped after
// the last moment nothing was owed (publishedThroughMs). A change that arrives with
// an older stamp (relayed late from a mesh peer that was cut off) moves that moment
// back to its stamp, so it is not forgotten if the process dies before publishing it.
import type { Logger } from 'pino';
import type { Clock } from '../../domain/clock.js';
import { recordVersion, type ReplicatedRecord } from '../../domain/replicated-record.js';
import type { CoalescingOutbox } from '../core/coalescing-outbox.js';
import type { RecordChange, RecordChangeOrigin, ReplicaStore } from '../replica-store.js';
import { encodeBatches } from './bus-batch-codec.js';
import type { BusCursorKeeper } from './bus-cursor.js';
import type { BusBatchKind } from './bus-names.js';
import type { BusSession } from './bus-session.js';
import type { BusStatus } from './bus-status.js';

/** Publishes in flight at once (each a batch of up to maxChunkBytes). */
const MAX_PUBLISHES_IN_FLIGHT = 4;
/** Changes stamped this close before the last "all acked" moment are republished after a restart anyway. */
const PUBLISHED_THROUGH_MARGIN_MS = 1_000;

export interface BusPublisherOptions {
  readonly outbox: CoalescingOutbox;
  readonly nodeId: string;
  readonly maxChunkBytes: number;
  readonly store: ReplicaStore;
  readonly cursor: BusCursorKeeper;
  readonly status: BusStatus;
  readonly clock: Clock;
  readonly logger: Logger;
  /** This node also consumes: its own deltas are remembered by sequence, to skip them when read back. */
  readonly consumes: boolean;
}

/** What to queue again when a session starts. */
export type Republish = 'everything' | 'unacked-by-previous-run' | 'nothing';

export class BusPublisher {
  private session: BusSession | undefined;
  private inFlight = 0;
  private pumping = false;
  private watching = true;
  /** The bus consumer's merge is being applied: its changes are not owed to the bus (they are in the stream). */
  private mergingFromBus = false;
  /**
   * Oldest stamp among the changes seen since publishedThroughMs last moved: a change the
   * store has applied may reach the outbox only once the merge is durable, so "nothing
   * owed" alone does not prove it was published.
   */
  private oldestSinceAdvance = Number.POSITIVE_INFINITY;

  constructor(private readonly options: BusPublisherOptions) {
    options.store.onRecordChange((changes, origin) => this.onStoreChanges(changes, origin));
  }

  /**
   * Runs the consumer's merge of records read from the stream. The store reports its
   * changes synchronously within the merge call (ReplicaStore.onRecordChange), so the
   * changes seen meanwhile are the bus's own. (A store reporting them later would make
   * them count as relayed: that only republishes more after a restart.)
   */
  mergeFromBus<T>(merge: () => T): T {
    this.mergingFromBus = true;
    try {
      return merge();
    } finally {
      this.mergingFromBus = false;
    }
  }

  /** The link stopped: the store listener (which cannot be removed) goes quiet. */
  close(): void {
    this.watching = false;
  }

  get pendingDeltas(): number {
    return this.options.outbox.heldKeys;
  }

  attach(session: BusSession, republish: Republish): void {
    this.options.outbox.requeueInFlight();
    if (republish === 'everything') this.enqueueStamped(0);
    else if (republish === 'unacked-by-previous-run') this.enqueueStamped(this.options.cursor.publishedThroughMs);
    this.session = session;
    this.pump();
  }

  detach(): void {
    this.session = undefined;
    this.options.outbox.requeueInFlight();
  }

  /** Publishes pending batches while the session lasts, a few in flight at once. */
  pump(): void {
    const session = this.session;
    const { outbox } = this.options;
    if (session === undefined || session.ended || this.pumping) return;
    this.pumping = true;
    try {
      const checkedAtMs = this.options.clock.nowMs();
      while (this.inFlight < MAX_PUBLISHES_IN_FLIGHT) {
        const chunk = outbox.takeChunk(session.batchBytes(this.options.maxChunkBytes));
        if (chunk === undefined) break;
        this.options.status.lastFlushAtMs = checkedAtMs;
        this.inFlight++;
        void this.publish(session, chunk.records, 'delta')
          .then(() => {
            // (After a requeue the chunk is unknown to the outbox: the ack is a no-op.)
            outbox.ack(chunk.seq);
            this.options.status.recordsSent += chunk.records.length;
          })
          .catch((error: unknown) => {
            if (session.ended) return;
            this.options.status.recordError(error, 'bus publish failed', outbox.heldKeys);
            outbox.requeueInFlight();
            session.fail();
          })
          .finally(() => {
            this.inFlight--;
            if (this.session === session) this.pump();
          });
      }
      // Everything stamped before this check is acked: a restart need not republish it.
      if (nothingOwed(outbox)) {
        this.options.cursor.advancePublishedThrough(Math.min(checkedAtMs, this.oldestSinceAdvance));
        this.oldestSinceAdvance = Number.POSITIVE_INFINITY;
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Encodes records into batches that fit the server and publishes them in order. */
  async publish(session: BusSession, records: readonly ReplicatedRecord[], kind: BusBatchKind): Promise<void> {
    for (const data of encodeBatches(records, session.batchBytes(this.options.maxChunkBytes))) {
      const seq = await session.stream.publish(data, this.options.nodeId, kind);
      if (kind === 'delta' && this.options.consumes) session.ownSeqs.add(seq);
      this.options.status.bytesSent += data.byteLength;
    }
  }

  private onStoreChanges(changes: readonly RecordChange[], origin: RecordChangeOrigin): void {
    if (!this.watching || this.mergingFromBus || origin === 'gc') return;
    const through = this.options.cursor.publishedThroughMs;
    let oldest = Number.POSITIVE_INFINITY;
    for (const change of changes) {
      const after = change.after;
      if (after === undefined) continue;
      const wallMs = recordVersion(after).wallMs;
      if (wallMs < oldest) oldest = wallMs;
    }
    if (oldest < this.oldestSinceAdvance) this.oldestSinceAdvance = oldest;
    if (oldest < through) this.options.cursor.lowerPublishedThrough(oldest);
  }

  /** Queues records stamped at or after `throughMs` minus a margin (0: every record). */
  private enqueueStamped(throughMs: number): void {
    const since = throughMs === 0 ? 0 : throughMs - PUBLISHED_THROUGH_MARGIN_MS;
    let count = 0;
    for (const record of this.options.store.records()) {
      if (recordVersion(record).wallMs >= since) {
        this.options.outbox.put(record);
        count++;
      }
    }
    if (count > 0) this.options.logger.info({ records: count, full: throughMs === 0 }, 'bus: queued local state for publishing');
  }
}

/**
 * No record waits or is unacked. Counted in keys, not chunks: a chunk whose records
 * were all re-sent in later, acked chunks owes nothing, but the outbox may still
 * count it in inFlightChunks after a requeue.
 */
export function nothingOwed(outbox: CoalescingOutbox): boolean {
  return outbox.pendingKeys === 0 && outbox.inFlightKeys === 0;
}
