// The NATS bus replication link: lifecycle and reconnection. Each session opens the
// stream (bus-stream.ts: JetStream in the daemon, in memory in tests), checks the
// cursor against the stream's incarnation, then runs the publisher
// (bus-publisher.ts), the consumer (bus-consumer.ts) and, on publishing nodes, the
// compactor (bus-compactor.ts) on it. When a session ends the link backs off
// (the shared jittered backoff) and opens a new one. Every timer runs on the hub's
// scheduler and every timestamp on the injected clock, so the deterministic
// simulation drives the link exactly as the daemon does. NATS down: rules keep
// working locally, the outbox keeps one record per key, and each new session
// resumes from the persisted cursor.
import type { Logger } from 'pino';
import type { BusOptions } from './bus-options.js';
import type { Clock } from '../../domain/clock.js';
import { DEFAULT_MAX_CLOCK_OFFSET_MS } from '../../domain/version.js';
import type { ReplicatedRecord } from '../../domain/replicated-record.js';
import type { CoalescingOutbox } from '../core/coalescing-outbox.js';
import type { Scheduler } from '../../domain/scheduler.js';
import type { LinkStatus, LinkStatusSource } from '../link-status.js';
import { Backoff } from '../../domain/backoff.js';
import type { ReplicaStore } from '../replica-store.js';
import { BusCompactor } from './bus-compactor.js';
import { BusConsumer } from './bus-consumer.js';
import { BusCursorKeeper, type BusCursorStore } from './bus-cursor.js';
import { busNames, type BusNames } from './bus-names.js';
import { BusPublisher, nothingOwed } from './bus-publisher.js';
import { BusSession } from './bus-session.js';
import { BusStatus } from './bus-status.js';
import type { BusStream, BusStreamOpener } from './bus-stream.js';

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

export const BUS_RECONNECT_MIN_MS = 250;
export const DEFAULT_BUS_RECONNECT_MAX_MS = 30_000;
export const DEFAULT_COMPACT_CHECK_INTERVAL_MS = 60_000;
export const DEFAULT_CURSOR_SAVE_INTERVAL_MS = 1_000;

export interface BusLinkOptions {
  readonly hub: BusHub;
  readonly store: ReplicaStore;
  readonly bus: BusOptions;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Opens one session with the stream (jetStreamOpener in the daemon). */
  readonly openStream: BusStreamOpener;
  /** Where the cursor survives restarts (BusCursorFile in the daemon). */
  readonly cursorStore: BusCursorStore;
  /** Reconnect backoff: exponential from 250 ms, jittered, capped here. */
  readonly reconnectMaxMs?: number;
  /** Jitter source of the backoff (tests and the simulation pass a seeded one). */
  readonly random?: () => number;
  /** Compaction is considered this often (publishing nodes only). */
  readonly compactCheckIntervalMs?: number;
  /** How often the consumed sequence is saved (and at stop). */
  readonly cursorSaveIntervalMs?: number;
  /** `[replication] max_clock_offset_ms`: records dated further ahead are refused (default DEFAULT_MAX_CLOCK_OFFSET_MS). */
  readonly maxClockOffsetMs?: number;
}

export class BusLink implements LinkStatusSource {
  private readonly names: BusNames;
  private readonly status: BusStatus;
  private readonly cursor: BusCursorKeeper;
  private readonly outbox: CoalescingOutbox | undefined;
  private readonly publisher: BusPublisher | undefined;
  private readonly consumer: BusConsumer | undefined;
  private readonly compactor: BusCompactor | undefined;
  private readonly backoff: Backoff;
  private readonly cancels: (() => void)[] = [];
  private session: BusSession | undefined;
  /** The stream of the session being opened or running (stop() closes it, even mid-opening). */
  private stream: BusStream | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private firstSession = true;

  constructor(private readonly options: BusLinkOptions) {
    const { bus, hub, logger, clock } = options;
    this.names = busNames(bus.prefix);
    this.status = new BusStatus(clock, logger, bus.servers, bus.enabled);
    this.cursor = new BusCursorKeeper(options.cursorStore, (error, where) => logger.error({ err: error, file: where }, 'bus: cannot save the cursor'));
    this.backoff = new Backoff({
      minMs: BUS_RECONNECT_MIN_MS,
      maxMs: options.reconnectMaxMs ?? DEFAULT_BUS_RECONNECT_MAX_MS,
      ...(options.random !== undefined ? { random: options.random } : {}),
    });
    if (bus.publish) {
      this.outbox = hub.openOutbox(BUS_LINK_ID);
      this.publisher = new BusPublisher({
        outbox: this.outbox, nodeId: hub.nodeId, maxChunkBytes: hub.maxChunkBytes, store: options.store,
        cursor: this.cursor, status: this.status, clock, logger, consumes: bus.consume,
      });
      this.compactor = new BusCompactor({
        store: options.store, cursor: this.cursor, publisher: this.publisher, status: this.status, logger,
        streamName: this.names.stream, maxChunkBytes: hub.maxChunkBytes, consumes: bus.consume, minBytes: bus.compactMinBytes,
      });
    }
    if (bus.consume) {
      this.consumer = new BusConsumer({
        cursor: this.cursor, status: this.status, clock, scheduler: hub.scheduler, logger, streamName: this.names.stream,
        maxClockOffsetMs: options.maxClockOffsetMs ?? DEFAULT_MAX_CLOCK_OFFSET_MS,
        merge: (records) => {
          const receive = (): Promise<unknown> => hub.receive(BUS_LINK_ID, records);
          return this.publisher !== undefined ? this.publisher.mergeFromBus(receive) : receive();
        },
      });
    }
  }

  get streamName(): string {
    return this.names.stream;
  }

  /** Connected, and the consumer (if any) has applied everything the stream held when it started. */
  get caughtUp(): boolean {
    return this.session?.caughtUp === true && !this.session.ended;
  }

  get consumedSeq(): number {
    return this.cursor.consumedSeq;
  }

  /** Batches skipped because they did not decode (logged). */
  get badBatches(): number {
    return this.status.badBatches;
  }

  get compactions(): number {
    return this.status.compactions;
  }

  /** Nothing waits to be published and nothing is in flight. */
  get idle(): boolean {
    return this.outbox === undefined || nothingOwed(this.outbox);
  }

  start(): void {
    if (!this.options.bus.enabled || this.running !== undefined) return;
    const { hub } = this.options;
    const publisher = this.publisher;
    if (publisher !== undefined) this.cancels.push(hub.onFlush(BUS_LINK_ID, () => publisher.pump()));
    this.cancels.push(hub.scheduler.every(this.options.cursorSaveIntervalMs ?? DEFAULT_CURSOR_SAVE_INTERVAL_MS, () => void this.cursor.save()));
    if (this.compactor !== undefined) {
      this.cancels.push(hub.scheduler.every(this.options.compactCheckIntervalMs ?? DEFAULT_COMPACT_CHECK_INTERVAL_MS, () => void this.maybeCompact()));
    }
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const cancel of this.cancels.splice(0)) cancel();
    this.wake?.();
    // Acked publishes have landed; un-acked ones stay in the outbox (lost with the process,
    // republished at the next start because publishedThroughMs did not move past them).
    await this.stream?.close().catch(() => undefined);
    await this.running;
    this.publisher?.close();
    await this.cursor.save();
    if (this.outbox !== undefined) this.options.hub.closeOutbox(BUS_LINK_ID, this.outbox);
  }

  /** Compacts the stream if it is large enough (or `force`); true when it did. */
  async maybeCompact(force = false): Promise<boolean> {
    return (await this.compactor?.maybeCompact(this.session, force)) ?? false;
  }

  linkStatuses(): readonly LinkStatus[] {
    return [this.status.toLinkStatus(this.outbox?.heldKeys ?? 0)];
  }

  private async run(): Promise<void> {
    await this.cursor.load();
    while (!this.stopped) {
      this.status.setState('connecting');
      let stream: BusStream | undefined;
      try {
        stream = await this.options.openStream();
        this.stream = stream;
        const closed = stream.closed();
        if (this.stopped) {
          await stream.close();
          break;
        }
        await this.openSession(stream);
        this.backoff.reset();
        const error = await closed;
        if (!this.stopped) this.recordError(error ?? new Error('connection closed'), 'NATS connection lost');
      } catch (error) {
        if (!this.stopped) this.recordError(error, 'NATS session failed');
        await stream?.close().catch(() => undefined);
      } finally {
        this.stream = undefined;
        this.endSession();
      }
      if (this.stopped) break;
      this.status.setState('backoff');
      await this.sleep(this.backoff.next());
    }
  }

  private async openSession(stream: BusStream): Promise<void> {
    const { bus, logger } = this.options;
    const info = await stream.info();
    const sameStream = this.cursor.matches(this.names.stream, info.created);
    if (!sameStream) {
      const was = this.cursor.current;
      if (was !== undefined) logger.warn({ stream: this.names.stream, created: info.created, was: was.streamCreated }, 'bus: stream was recreated; reading it whole');
      this.cursor.reset(this.names.stream, info.created);
    }
    const session = new BusSession(stream, bus.consume);
    this.session = session;
    this.status.setState('connected');
    logger.info(
      { servers: bus.servers, server: stream.server, stream: this.names.stream, messages: info.messages, resumeAfterSeq: this.consumedSeq },
      'bus: connected',
    );
    if (this.consumer !== undefined) {
      this.consumer.run(session, info.lastSeq).catch((error: unknown) => {
        if (session.ended || this.stopped) return;
        this.recordError(error, 'bus consumer failed');
        session.fail();
      });
    }
    this.publisher?.attach(session, !sameStream ? 'everything' : this.firstSession ? 'unacked-by-previous-run' : 'nothing');
    this.firstSession = false;
  }

  private endSession(): void {
    const session = this.session;
    this.session = undefined;
    session?.end();
    this.publisher?.detach();
  }

  private recordError(error: unknown, what: string): void {
    this.status.recordError(error, what, this.outbox?.heldKeys ?? 0);
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
}
