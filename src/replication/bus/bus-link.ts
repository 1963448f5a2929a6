// The NATS bus replication link. Publishing: every flush tick, the hub's coalesced
// outbox for 'bus' is cut into batches and published to one JetStream stream; a
// batch leaves the outbox only once NATS acked it. Consuming: a reader
// goes through the stream from the last applied sequence (persisted in working_dir) and
// merges each batch through hub.receive (last writer wins; own echoes are no-ops).
// Full state stays in NATS: the stream holds every batch until a node that both
// publishes and consumes compacts it (publishes its whole state as a snapshot,
// then purges what the snapshot covers). NATS down: rules keep working locally,
// the outbox keeps one record per key, and each new session resumes from scratch.
import { headers, type NatsConnection } from '@nats-io/transport-node';
import {
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { BusOptions } from '../../config/bus-options.js';
import type { Clock } from '../../domain/clock.js';
import { recordVersion, type ReplicatedRecord } from '../../domain/replicated-record.js';
import { DEFAULT_MAX_CLOCK_OFFSET_MS } from '../../domain/version.js';
import { splitByClockOffset } from '../core/clock-offset-guard.js';
import type { CoalescingOutbox } from '../core/coalescing-outbox.js';
import { CHUNK_OVERHEAD_BYTES, estimateRecordBytes } from '../core/record-size.js';
import type { Scheduler } from '../core/scheduler.js';
import type { LinkState, LinkStatus, LinkStatusSource } from '../link-status.js';
import type { ReplicaStore } from '../replica-store.js';
import { decodeBatch, encodeBatches } from './bus-batch-codec.js';
import { BusCursorFile, type BusCursor } from './bus-cursor-file.js';
import { describeBusError } from './bus-errors.js';
import { BusPullReader, type DeliveredMessage } from './bus-pull-reader.js';
import { BUS_HEADER_KIND, BUS_HEADER_NODE, busNames, type BusBatchKind, type BusNames } from './bus-names.js';
import { natsConnectionOptions } from './nats-connection-options.js';

export const BUS_LINK_ID = 'bus';

/** What the link needs from the replication hub (core/replication-hub.ts). */
export interface BusHub {
  readonly nodeId: string;
  readonly maxChunkBytes: number;
  readonly scheduler: Scheduler;
  openOutbox(linkId: string): CoalescingOutbox;
  closeOutbox(linkId: string, outbox?: CoalescingOutbox): void;
  onFlush(linkId: string, listener: () => void): () => void;
  receive(linkId: string, records: readonly ReplicatedRecord[]): Promise<readonly ReplicatedRecord[]>;
}

export type NatsConnector = (options: Awaited<ReturnType<typeof natsConnectionOptions>>) => Promise<NatsConnection>;

export interface BusLinkOptions {
  readonly hub: BusHub;
  readonly store: ReplicaStore;
  readonly bus: BusOptions;
  readonly workingDir: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly connect: NatsConnector;
  /** Reconnect backoff: exponential from 250 ms, jittered, capped here. */
  readonly reconnectMaxMs?: number;
  /** Compaction is considered this often (publish + consume nodes only). */
  readonly compactCheckIntervalMs?: number;
  /** The stream is compacted once it holds more than max(this, 2 x the last snapshot) bytes. */
  readonly compactMinBytes?: number;
  /** How often the consumed sequence is written to working_dir (and at stop). */
  readonly cursorSaveIntervalMs?: number;
  /** `[replication] max_clock_offset_ms`: records dated further ahead are refused (default DEFAULT_MAX_CLOCK_OFFSET_MS). */
  readonly maxClockOffsetMs?: number;
}

/** Publishes in flight at once (each a batch of up to maxChunkBytes). */
const MAX_PUBLISHES_IN_FLIGHT = 4;
const PUBLISH_TIMEOUT_MS = 10_000;
/** Changes stamped this close before the last "all acked" moment are republished after a restart anyway. */
const PUBLISHED_THROUGH_MARGIN_MS = 1_000;
const HEADERS_MARGIN_BYTES = 4_096;
/** The consumer re-checks the stream this often even without a wake-up message. */
const CONSUMER_POLL_INTERVAL_MS = 1_000;
/** Records merged (and committed) at once when several batches are waiting: fewer commits, bounded pauses. */
const MAX_RECORDS_PER_MERGE = 20_000;
/** After a failed attempt to create a stream reader, read by sequence this long before trying again. */
const READER_RETRY_MS = 2_000;

interface Session {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly maxPayload: number;
  stopConsumer?: () => void;
  caughtUp: boolean;
}

export class BusLink implements LinkStatusSource {
  private readonly names: BusNames;
  private readonly cursorFile: BusCursorFile;
  private readonly outbox: CoalescingOutbox | undefined;
  private readonly cancels: (() => void)[] = [];
  private cursor: BusCursor | undefined;
  private cursorDirty = false;
  private session: Session | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private firstSession = true;
  private publishesInFlight = 0;
  private pumping = false;
  private compacting = false;
  private lastSnapshotBytes = 0;
  /** Stream sequences of deltas this process published: skipped (not decoded) when read back. */
  private readonly ownSeqs = new Set<number>();

  private state: LinkState = 'connecting';
  private sinceMs: number;
  private lastError: string | undefined;
  private lastErrorAtMs: number | undefined;
  private lastFlushAtMs: number | undefined;
  private recordsSent = 0;
  private recordsReceived = 0;
  /** Received records refused for a version beyond the clock offset bound. */
  private recordsRefused = 0;
  private bytesSent = 0;
  private bytesReceived = 0;
  /** Batches skipped because they did not decode (logged). */
  badBatches = 0;
  compactions = 0;

  constructor(private readonly options: BusLinkOptions) {
    this.names = busNames(options.bus.prefix);
    this.cursorFile = new BusCursorFile(options.workingDir, options.bus.prefix);
    this.sinceMs = options.clock.nowMs();
    this.outbox = options.bus.publish ? options.hub.openOutbox(BUS_LINK_ID) : undefined;
    if (!options.bus.enabled) this.state = 'disabled';
  }

  get streamName(): string {
    return this.names.stream;
  }

  /** Connected, and the consumer (if any) has applied everything the stream held when it started. */
  get caughtUp(): boolean {
    return this.session?.caughtUp === true;
  }

  get consumedSeq(): number {
    return this.cursor?.consumedSeq ?? 0;
  }

  start(): void {
    if (!this.options.bus.enabled || this.running !== undefined) return;
    if (this.outbox !== undefined) this.cancels.push(this.options.hub.onFlush(BUS_LINK_ID, () => this.pump()));
    this.cancels.push(this.every(this.options.cursorSaveIntervalMs ?? 1_000, () => void this.saveCursor()));
    if (this.options.bus.publish && this.options.bus.consume) {
      this.cancels.push(this.every(this.options.compactCheckIntervalMs ?? 60_000, () => void this.maybeCompact()));
    }
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const cancel of this.cancels.splice(0)) cancel();
    this.wake?.();
    const session = this.session;
    if (session !== undefined) {
      // Let acked publishes land, then close: un-acked ones stay in the outbox (lost with the process,
      // republished at the next start because publishedThroughMs did not move past them).
      await session.nc.close().catch(() => undefined);
    }
    await this.running;
    await this.saveCursor();
    if (this.outbox !== undefined) this.options.hub.closeOutbox(BUS_LINK_ID, this.outbox);
  }

  linkStatuses(): readonly LinkStatus[] {
    const status: LinkStatus = {
      kind: 'bus',
      address: this.options.bus.servers.join(','),
      state: this.state,
      sinceMs: this.sinceMs,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(this.lastErrorAtMs !== undefined ? { lastErrorAtMs: this.lastErrorAtMs } : {}),
      pendingDeltas: this.outbox?.heldKeys ?? 0,
      ...(this.lastFlushAtMs !== undefined ? { lastFlushAtMs: this.lastFlushAtMs } : {}),
      recordsSent: this.recordsSent,
      recordsReceived: this.recordsReceived,
      recordsRefused: this.recordsRefused,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
    };
    return [status];
  }

  // ---- connection lifecycle ----

  private async run(): Promise<void> {
    this.cursor = await this.cursorFile.load();
    let attempt = 0;
    while (!this.stopped) {
      this.setState('connecting');
      let nc: NatsConnection | undefined;
      try {
        nc = await this.options.connect(await natsConnectionOptions(this.options.bus, `couic ${this.options.hub.nodeId}`));
        const closed = nc.closed();
        await this.openSession(nc);
        attempt = 0;
        const error = await closed;
        if (!this.stopped) this.recordError(error ?? new Error('connection closed'), 'NATS connection lost');
      } catch (error) {
        if (!this.stopped) this.recordError(error, 'NATS session failed');
        await nc?.close().catch(() => undefined);
      } finally {
        this.endSession();
      }
      if (this.stopped) break;
      this.setState('backoff');
      await this.sleep(this.backoffMs(attempt++));
    }
  }

  private async openSession(nc: NatsConnection): Promise<void> {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const info = await this.ensureStream(jsm);
    const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    const session: Session = { nc, js, jsm, maxPayload, caughtUp: !this.options.bus.consume };
    const sameStream = this.cursor?.stream === this.names.stream && this.cursor.streamCreated === info.created;
    if (!sameStream) {
      if (this.cursor !== undefined) {
        this.options.logger.warn({ stream: this.names.stream, created: info.created, was: this.cursor.streamCreated }, 'bus: stream was recreated; reading it whole');
      }
      this.cursor = { stream: this.names.stream, streamCreated: info.created, consumedSeq: 0, publishedThroughMs: 0 };
      this.cursorDirty = true;
    }
    if (this.outbox !== undefined) {
      this.outbox.requeueInFlight();
      if (!sameStream || this.firstSession) this.enqueueUnpublished(sameStream ? this.cursor?.publishedThroughMs ?? 0 : 0);
    }
    this.firstSession = false;
    this.session = session;
    this.setState('connected');
    this.options.logger.info(
      { servers: this.options.bus.servers, server: nc.getServer(), stream: this.names.stream, messages: info.state.messages, resumeAfterSeq: this.consumedSeq },
      'bus: connected',
    );
    if (this.options.bus.consume) {
      const lastSeq = info.state.last_seq;
      if (this.consumedSeq >= lastSeq) session.caughtUp = true;
      void this.consume(session, lastSeq).catch((error: unknown) => {
        if (this.session !== session || this.stopped) return;
        this.recordError(error, 'bus consumer failed');
        void nc.close().catch(() => undefined);
      });
    }
    this.pump();
  }

  private endSession(): void {
    const session = this.session;
    this.session = undefined;
    session?.stopConsumer?.();
    this.outbox?.requeueInFlight();
    this.ownSeqs.clear();
  }

  private async ensureStream(jsm: JetStreamManager): Promise<StreamInfo> {
    try {
      return await jsm.streams.info(this.names.stream);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    this.options.logger.info({ stream: this.names.stream, subject: this.names.subject, replicas: this.options.bus.replicas }, 'bus: creating stream');
    try {
      return await jsm.streams.add({
        name: this.names.stream,
        subjects: [this.names.subject],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        num_replicas: this.options.bus.replicas,
      });
    } catch (error) {
      // Another node created it meanwhile.
      if (/already in use|already exists/i.test(String(error))) return jsm.streams.info(this.names.stream);
      throw error;
    }
  }

  // ---- publishing ----

  /** Records a previous run may not have got acked: stamped at or after `throughMs` (0: all). */
  private enqueueUnpublished(throughMs: number): void {
    const outbox = this.outbox;
    if (outbox === undefined) return;
    const since = throughMs === 0 ? 0 : throughMs - PUBLISHED_THROUGH_MARGIN_MS;
    let count = 0;
    for (const record of this.options.store.records()) {
      if (recordVersion(record).wallMs >= since) {
        outbox.put(record);
        count++;
      }
    }
    if (count > 0) this.options.logger.info({ records: count, full: throughMs === 0 }, 'bus: queued local state for publishing');
  }

  /** Publishes pending batches while the session lasts, a few in flight at once. */
  private pump(): void {
    const session = this.session;
    const outbox = this.outbox;
    if (session === undefined || outbox === undefined || this.pumping) return;
    this.pumping = true;
    try {
      const checkedAtMs = this.options.clock.nowMs();
      while (this.publishesInFlight < MAX_PUBLISHES_IN_FLIGHT) {
        const chunk = outbox.takeChunk(Math.min(this.options.hub.maxChunkBytes, session.maxPayload - HEADERS_MARGIN_BYTES));
        if (chunk === undefined) break;
        this.lastFlushAtMs = checkedAtMs;
        this.publishesInFlight++;
        void this.publishChunk(session, chunk.records)
          .then(() => {
            outbox.ack(chunk.seq);
            this.recordsSent += chunk.records.length;
          })
          .catch((error: unknown) => {
            if (this.session !== session) return;
            this.recordError(error, 'bus publish failed');
            outbox.requeueInFlight();
            // Start over with a fresh session: publishes and the consumer resume from known points.
            void session.nc.close().catch(() => undefined);
          })
          .finally(() => {
            this.publishesInFlight--;
            if (this.session === session) this.pump();
          });
      }
      if (outbox.pendingKeys === 0 && outbox.inFlightChunks === 0 && this.cursor !== undefined) {
        // Everything stamped before this check is acked: a restart need not republish it.
        if (checkedAtMs > this.cursor.publishedThroughMs) {
          this.cursor = { ...this.cursor, publishedThroughMs: checkedAtMs };
          this.cursorDirty = true;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private async publishChunk(session: Session, records: readonly ReplicatedRecord[], kind: BusBatchKind = 'delta'): Promise<void> {
    for (const data of encodeBatches(records, session.maxPayload - HEADERS_MARGIN_BYTES)) {
      const h = headers();
      h.set(BUS_HEADER_NODE, this.options.hub.nodeId);
      h.set(BUS_HEADER_KIND, kind);
      const ack = await session.js.publish(this.names.subject, data, { headers: h, timeout: PUBLISH_TIMEOUT_MS });
      if (kind === 'delta' && this.options.bus.consume) this.ownSeqs.add(ack.seq);
      this.bytesSent += data.byteLength;
    }
  }

  // ---- consuming ----

  /**
   * Follows the stream from the resume point. Batches arrive once each through a pull
   * consumer (bus-pull-reader.ts) carrying their stream sequence; in-order ones are
   * merged as they come (consecutive ones in one merge), a gap (a purge, a consumer
   * that skipped) is filled by reading those sequences directly, and a reader that
   * breaks or stays silent while the stream is ahead is replaced by a new one from
   * the node's own sequence, after reading what it missed by sequence. Every
   * retry stays in our hands; the slow poll is the safety net.
   */
  private async consume(session: Session, lastSeqAtStart: number): Promise<void> {
    let waiter: (() => void) | undefined;
    let woken = false;
    let polled = false;
    const poke = (): void => {
      woken = true;
      const w = waiter;
      waiter = undefined;
      w?.();
    };
    const cancelPoll = this.every(CONSUMER_POLL_INTERVAL_MS, () => {
      polled = true;
      poke();
    });
    let reader: BusPullReader | undefined;
    session.stopConsumer = () => {
      cancelPoll();
      reader?.close();
      poke();
    };
    const nowMs = (): number => this.options.clock.nowMs();
    /** consumedSeq seen at the previous poll while the stream was ahead of it (stall detection). */
    let behindAt: number | undefined;
    let readerRetryAtMs = 0;
    try {
      while (this.session === session) {
        if (reader !== undefined && (reader.brokenReason !== undefined || reader.silent())) {
          this.options.logger.info({ reason: reader.brokenReason ?? 'silent', seq: this.consumedSeq }, 'bus: replacing the stream reader');
          reader.close();
          reader = undefined;
        }
        if (reader === undefined && nowMs() >= readerRetryAtMs) {
          try {
            reader = await BusPullReader.open(session.nc, session.jsm, this.names.stream, this.consumedSeq + 1, nowMs, poke);
          } catch (error) {
            // E.g. a cluster electing a new meta leader: read by sequence meanwhile, retry later.
            this.options.logger.info({ error: describeBusError(error, this.options.bus.servers), seq: this.consumedSeq }, 'bus: cannot create a stream reader; reading by sequence');
            readerRetryAtMs = nowMs() + READER_RETRY_MS;
          }
          if (this.session !== session) return;
        }
        if (reader === undefined) {
          const info = await session.jsm.streams.info(this.names.stream);
          await this.readBySequence(session, this.consumedSeq + 1, info.state.last_seq);
          if (!session.caughtUp && this.consumedSeq >= lastSeqAtStart) this.markCaughtUp(session);
          if (!woken) await new Promise<void>((resolve) => (waiter = resolve));
          woken = false;
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
          const info = await session.jsm.streams.info(this.names.stream);
          if (this.session !== session) return;
          if (info.state.last_seq > this.consumedSeq && reader.queued === 0) {
            if (behindAt === this.consumedSeq) {
              // Two polls behind without progress: read what is missing directly and start a new reader.
              this.options.logger.info({ seq: this.consumedSeq, lastSeq: info.state.last_seq, consumer: reader.consumerName }, 'bus: stream reader stalled; reading by sequence');
              await this.readBySequence(session, this.consumedSeq + 1, info.state.last_seq);
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
        if (!woken) await new Promise<void>((resolve) => (waiter = resolve));
        woken = false;
      }
    } finally {
      reader?.close();
      session.stopConsumer?.();
    }
  }

  private markCaughtUp(session: Session): void {
    session.caughtUp = true;
    this.options.logger.info({ seq: this.consumedSeq, recordsReceived: this.recordsReceived }, 'bus: caught up with the stream');
  }

  /** Merges delivered batches in sequence order: consecutive ones together, gaps read by sequence, duplicates skipped. */
  private async applyDelivered(session: Session, delivered: readonly DeliveredMessage[]): Promise<void> {
    let pending: ReplicatedRecord[] = [];
    let pendingThrough = this.consumedSeq;
    const flush = async (): Promise<void> => {
      if (pending.length > 0) {
        const records = pending;
        pending = [];
        this.recordsReceived += records.length;
        await this.options.hub.receive(BUS_LINK_ID, records);
      }
      this.advanceCursor(pendingThrough);
    };
    for (const m of delivered) {
      if (this.session !== session) return;
      if (m.seq <= pendingThrough) continue;
      if (m.seq > pendingThrough + 1) {
        await flush();
        await this.readBySequence(session, pendingThrough + 1, m.seq - 1);
        if (this.session !== session) return;
        pendingThrough = this.consumedSeq;
        if (m.seq <= pendingThrough) continue;
      }
      this.bytesReceived += m.data.byteLength;
      if (!this.ownSeqs.delete(m.seq)) {
        const records = this.decode(m.data, m.seq, m.node || '?');
        for (const record of records) pending.push(record);
      }
      pendingThrough = m.seq;
      if (pending.length >= MAX_RECORDS_PER_MERGE) await flush();
    }
    await flush();
  }

  /** Reads [from, to] one message at a time (gaps, stalled readers); purged sequences are skipped. */
  private async readBySequence(session: Session, from: number, to: number): Promise<void> {
    if (from > to) return;
    const info = await session.jsm.streams.info(this.names.stream);
    let seq = Math.max(from, info.state.first_seq);
    if (seq > from) this.advanceCursor(seq - 1);
    for (; seq <= to && this.session === session; seq++) {
      const m = await session.jsm.streams.getMessage(this.names.stream, { seq });
      if (this.session !== session) return;
      if (m !== null) {
        this.bytesReceived += m.data.byteLength;
        if (!this.ownSeqs.delete(m.seq)) {
          const records = this.decode(m.data, m.seq, m.header.get(BUS_HEADER_NODE) || '?');
          if (records.length > 0) {
            this.recordsReceived += records.length;
            await this.options.hub.receive(BUS_LINK_ID, records);
          }
        }
      }
      this.advanceCursor(seq);
    }
  }

  private advanceCursor(seq: number): void {
    if (seq <= this.consumedSeq) return;
    this.cursor = { ...(this.cursor as BusCursor), consumedSeq: seq };
    this.cursorDirty = true;
  }

  /** A batch's records, or none (logged and counted) when it does not decode. */
  private decode(data: Uint8Array, seq: number, from: string): readonly ReplicatedRecord[] {
    let records: ReplicatedRecord[];
    try {
      records = decodeBatch(data);
    } catch (error) {
      this.badBatches++;
      this.options.logger.error({ err: error, seq, from, stream: this.names.stream }, 'bus: skipped a batch that does not decode');
      return [];
    }
    const maxOffsetMs = this.options.maxClockOffsetMs ?? DEFAULT_MAX_CLOCK_OFFSET_MS;
    const { accepted, refused, aheadMs, example } = splitByClockOffset(records, this.options.clock.nowMs(), maxOffsetMs);
    if (refused > 0) {
      this.recordsRefused += refused;
      this.lastError = `refused ${refused} record(s) published by ${from} whose version is up to ${aheadMs} ms ahead of this node's clock (beyond max_clock_offset_ms = ${maxOffsetMs}; e.g. ${example})`;
      this.lastErrorAtMs = this.options.clock.nowMs();
      this.options.logger.warn(
        { seq, from, refused, aheadMs, example, maxClockOffsetMs: maxOffsetMs },
        `bus: refused ${refused} record(s): version up to ${aheadMs} ms ahead of this node's clock (beyond [replication] max_clock_offset_ms); check the clocks (NTP) of the nodes`,
      );
    }
    return accepted;
  }

  // ---- compaction ----

  /**
   * When the stream has grown well past the state it describes: publish this node's
   * whole state (which includes every batch up to the consumed sequence S), then
   * purge everything before S+1. Readers that were behind still converge: the
   * snapshot comes after the purge point. Concurrent compactions by two nodes are
   * safe for the same reason, only wasteful.
   */
  async maybeCompact(force = false): Promise<boolean> {
    const session = this.session;
    if (session === undefined || !session.caughtUp || this.compacting || this.outbox === undefined) return false;
    this.compacting = true;
    try {
      const info = await session.jsm.streams.info(this.names.stream);
      const threshold = Math.max(this.options.compactMinBytes ?? 64 * 1024 * 1024, 2 * this.lastSnapshotBytes);
      if (!force && info.state.bytes <= threshold) return false;
      const coveredSeq = this.consumedSeq;
      const records = [...this.options.store.records()];
      const before = this.bytesSent;
      const maxBytes = Math.min(this.options.hub.maxChunkBytes, session.maxPayload - HEADERS_MARGIN_BYTES);
      let batch: ReplicatedRecord[] = [];
      let bytes = CHUNK_OVERHEAD_BYTES;
      for (const record of records) {
        const size = estimateRecordBytes(record);
        if (batch.length > 0 && bytes + size > maxBytes) {
          await this.publishChunk(session, batch, 'snapshot');
          batch = [];
          bytes = CHUNK_OVERHEAD_BYTES;
        }
        batch.push(record);
        bytes += size;
      }
      if (batch.length > 0) await this.publishChunk(session, batch, 'snapshot');
      this.lastSnapshotBytes = this.bytesSent - before;
      const purged = await session.jsm.streams.purge(this.names.stream, { seq: coveredSeq + 1 });
      this.compactions++;
      this.options.logger.info(
        { stream: this.names.stream, records: records.length, snapshotBytes: this.lastSnapshotBytes, purged: purged.purged, bytesBefore: info.state.bytes },
        'bus: compacted the stream',
      );
      return true;
    } catch (error) {
      if (this.session === session) this.recordError(error, 'bus compaction failed');
      return false;
    } finally {
      this.compacting = false;
    }
  }

  // ---- helpers ----

  private async saveCursor(): Promise<void> {
    if (!this.cursorDirty || this.cursor === undefined) return;
    this.cursorDirty = false;
    try {
      await this.cursorFile.save(this.cursor);
    } catch (error) {
      this.cursorDirty = true;
      this.options.logger.error({ err: error, file: this.cursorFile.path }, 'bus: cannot save the cursor');
    }
  }

  private setState(state: LinkState): void {
    if (this.state === state) return;
    this.state = state;
    this.sinceMs = this.options.clock.nowMs();
  }

  private recordError(error: unknown, what: string): void {
    const message = describeBusError(error, this.options.bus.servers);
    const repeated = message === this.lastError;
    this.lastError = message;
    this.lastErrorAtMs = this.options.clock.nowMs();
    // Every failed attempt would repeat the same line: log a repeat at debug only.
    if (repeated) this.options.logger.debug({ error: message }, what);
    else this.options.logger.warn({ error: message, pendingDeltas: this.outbox?.heldKeys ?? 0 }, what);
  }

  private backoffMs(attempt: number): number {
    const cap = this.options.reconnectMaxMs ?? 30_000;
    const base = Math.min(cap, 250 * 2 ** Math.min(attempt, 16));
    return base / 2 + Math.random() * (base / 2);
  }

  /** Backoff wait, cut short by stop(). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let cancel = (): void => undefined;
      const done = (): void => {
        cancel();
        this.wake = undefined;
        resolve();
      };
      cancel = this.options.hub.scheduler.after(ms, done);
      this.wake = done;
    });
  }

  private every(ms: number, fn: () => void): () => void {
    return this.options.hub.scheduler.every(ms, fn);
  }
}

function isNotFound(error: unknown): boolean {
  return /stream not found/i.test(error instanceof Error ? error.message : String(error));
}
