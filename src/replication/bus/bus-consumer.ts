// Consuming side of the bus link, one run per session: follows the stream from the
// sequence after the last one applied. Batches arrive once each through a reader
// (a hand-driven pull consumer on JetStream) carrying their stream sequence;
// in-order ones are merged as they come (consecutive ones in one merge), a gap (a
// purge, a reader that skipped) is filled by reading those sequences directly, and
// a reader that breaks or stays silent while the stream is ahead is replaced by a
// new one from the node's own sequence, after reading what it missed by sequence.
// Every retry stays in our hands; the slow poll (on the injected scheduler) is the
// safety net.
import type { Logger } from 'pino';
import type { Clock } from '../../domain/clock.js';
import type { ReplicatedRecord } from '../../domain/replicated-record.js';
import { splitByClockOffset } from '../core/clock-offset-guard.js';
import type { Scheduler } from '../../domain/scheduler.js';
import { decodeBatch } from './bus-batch-codec.js';
import type { BusCursorKeeper } from './bus-cursor.js';
import type { BusSession } from './bus-session.js';
import type { BusStatus } from './bus-status.js';
import type { BusMessage, BusStreamReader } from './bus-stream.js';

/** The consumer re-checks the stream this often even without a wake-up. */
export const CONSUMER_POLL_INTERVAL_MS = 1_000;
/** Records merged (and committed) at once when several batches are waiting: fewer commits, bounded pauses. */
const MAX_RECORDS_PER_MERGE = 20_000;
/** After a failed attempt to create a stream reader, read by sequence this long before trying again. */
const READER_RETRY_MS = 2_000;

export interface BusConsumerOptions {
  readonly cursor: BusCursorKeeper;
  readonly status: BusStatus;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  readonly streamName: string;
  /** `[replication] max_clock_offset_ms`: records dated further ahead are refused. */
  readonly maxClockOffsetMs: number;
  /** Merges records into the store (the hub's receive for the bus link). */
  readonly merge: (records: readonly ReplicatedRecord[]) => Promise<unknown>;
}

export class BusConsumer {
  constructor(private readonly options: BusConsumerOptions) {}

  private get consumedSeq(): number {
    return this.options.cursor.consumedSeq;
  }

  /** Runs until the session ends; rejects on a failed read (the caller ends the session). */
  async run(session: BusSession, lastSeqAtStart: number): Promise<void> {
    if (this.consumedSeq >= lastSeqAtStart) this.markCaughtUp(session);
    const wake = new Wake();
    let polled = false;
    const cancelPoll = this.options.scheduler.every(CONSUMER_POLL_INTERVAL_MS, () => {
      polled = true;
      wake.poke();
    });
    let reader: BusStreamReader | undefined;
    const nowMs = (): number => this.options.clock.nowMs();
    /** consumedSeq seen at the previous poll while the stream was ahead of it (stall detection). */
    let behindAt: number | undefined;
    let readerRetryAtMs = 0;
    const stopWatching = session.onEnd(() => wake.poke());
    try {
      while (!session.ended) {
        if (reader !== undefined && (reader.brokenReason !== undefined || reader.silent())) {
          this.options.logger.info({ reason: reader.brokenReason ?? 'silent', seq: this.consumedSeq }, 'bus: replacing the stream reader');
          reader.close();
          reader = undefined;
        }
        if (reader === undefined && nowMs() >= readerRetryAtMs) {
          try {
            reader = await session.stream.read(this.consumedSeq + 1, () => wake.poke());
          } catch (error) {
            // E.g. a cluster electing a new meta leader: read by sequence meanwhile, retry later.
            this.options.logger.info({ err: this.options.status.describe(error), seq: this.consumedSeq }, 'bus: cannot create a stream reader; reading by sequence');
            readerRetryAtMs = nowMs() + READER_RETRY_MS;
          }
          if (session.ended) return;
        }
        if (reader === undefined) {
          const info = await session.stream.info();
          await this.readBySequence(session, this.consumedSeq + 1, info.lastSeq);
          if (!session.caughtUp && this.consumedSeq >= lastSeqAtStart) this.markCaughtUp(session);
          await wake.wait();
          continue;
        }
        const delivered = reader.take();
        if (delivered.length > 0) {
          await this.applyDelivered(session, delivered);
          continue;
        }
        if (!session.caughtUp && this.consumedSeq >= lastSeqAtStart) this.markCaughtUp(session);
        if (polled) {
          polled = false;
          const info = await session.stream.info();
          if (session.ended) return;
          if (info.lastSeq > this.consumedSeq && reader.queued === 0) {
            if (behindAt === this.consumedSeq) {
              // Two polls behind without progress: read what is missing directly and start a new reader.
              this.options.logger.info({ seq: this.consumedSeq, lastSeq: info.lastSeq, consumer: reader.name }, 'bus: stream reader stalled; reading by sequence');
              await this.readBySequence(session, this.consumedSeq + 1, info.lastSeq);
              reader.close();
              reader = undefined;
              behindAt = undefined;
              continue;
            }
            behindAt = this.consumedSeq;
          } else {
            behindAt = undefined;
          }
        }
        await wake.wait();
      }
    } finally {
      stopWatching();
      cancelPoll();
      reader?.close();
    }
  }

  private markCaughtUp(session: BusSession): void {
    session.caughtUp = true;
    this.options.logger.info({ seq: this.consumedSeq, recordsReceived: this.options.status.recordsReceived }, 'bus: caught up with the stream');
  }

  /** Merges delivered batches in sequence order: consecutive ones together, gaps read by sequence, duplicates skipped. */
  private async applyDelivered(session: BusSession, delivered: readonly BusMessage[]): Promise<void> {
    let pending: ReplicatedRecord[] = [];
    let pendingThrough = this.consumedSeq;
    const flush = async (): Promise<void> => {
      if (pending.length > 0) {
        const records = pending;
        pending = [];
        this.options.status.recordsReceived += records.length;
        await this.options.merge(records);
      }
      this.options.cursor.advanceConsumed(pendingThrough);
    };
    for (const m of delivered) {
      if (session.ended) return;
      if (m.seq <= pendingThrough) continue;
      if (m.seq > pendingThrough + 1) {
        await flush();
        await this.readBySequence(session, pendingThrough + 1, m.seq - 1);
        if (session.ended) return;
        pendingThrough = this.consumedSeq;
        if (m.seq <= pendingThrough) continue;
      }
      this.options.status.bytesReceived += m.data.byteLength;
      if (!session.ownSeqs.delete(m.seq)) {
        for (const record of this.decode(m)) pending.push(record);
      }
      pendingThrough = m.seq;
      if (pending.length >= MAX_RECORDS_PER_MERGE) await flush();
    }
    if (session.ended) return;
    await flush();
  }

  /** Reads [from, to] one message at a time (gaps, stalled readers); purged sequences are skipped. */
  private async readBySequence(session: BusSession, from: number, to: number): Promise<void> {
    if (from > to) return;
    const info = await session.stream.info();
    let seq = Math.max(from, info.firstSeq);
    if (session.ended) return;
    if (seq > from) this.options.cursor.advanceConsumed(seq - 1);
    for (; seq <= to && !session.ended; seq++) {
      const m = await session.stream.get(seq);
      if (session.ended) return;
      if (m !== undefined) {
        this.options.status.bytesReceived += m.data.byteLength;
        if (!session.ownSeqs.delete(m.seq)) {
          const records = this.decode(m);
          if (records.length > 0) {
            this.options.status.recordsReceived += records.length;
            await this.options.merge(records);
            if (session.ended) return;
          }
        }
      }
      this.options.cursor.advanceConsumed(seq);
    }
  }

  /**
   * A batch's records, or none (logged and counted) when it does not decode; records
   * dated beyond the clock offset bound are left out (logged, counted, in peers list).
   */
  private decode(m: BusMessage): readonly ReplicatedRecord[] {
    let records: ReplicatedRecord[];
    const from = m.node || '?';
    try {
      records = decodeBatch(m.data);
    } catch (error) {
      this.options.status.badBatches++;
      this.options.logger.error({ err: error, seq: m.seq, from, stream: this.options.streamName }, 'bus: skipped a batch that does not decode');
      return [];
    }
    const { maxClockOffsetMs } = this.options;
    const { accepted, refused, aheadMs, example } = splitByClockOffset(records, this.options.clock.nowMs(), maxClockOffsetMs);
    if (refused > 0) {
      this.options.status.recordsRefused += refused;
      this.options.status.setLastError(
        `refused ${refused} record(s) published by ${from} whose version is up to ${aheadMs} ms ahead of this node's clock (beyond max_clock_offset_ms = ${maxClockOffsetMs}; e.g. ${example})`,
      );
      this.options.logger.warn(
        { seq: m.seq, from, refused, aheadMs, example, maxClockOffsetMs },
        `bus: refused ${refused} record(s): version up to ${aheadMs} ms ahead of this node's clock (beyond [replication] max_clock_offset_ms); check the clocks (NTP) of the nodes`,
      );
    }
    return accepted;
  }
}

/** A one-shot wake-up the loop waits on; a poke before the wait is not lost. */
class Wake {
  private waiter: (() => void) | undefined;
  private woken = false;

  poke(): void {
    this.woken = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async wait(): Promise<void> {
    if (!this.woken) await new Promise<void>((resolve) => (this.waiter = resolve));
    this.woken = false;
  }
}
