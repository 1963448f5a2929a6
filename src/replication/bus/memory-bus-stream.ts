// The bus stream in memory, for the unit tests and the deterministic replication
// simulation: one MemoryBusServer holds the numbered batches; every open() is a
// session on it. Each request is answered after its own random delay on the
// injected scheduler (so answers reorder with other work), and the server can be
// told to misbehave the ways a real NATS does:
//  - lose: a request or its answer is lost (the caller sees a timeout; a lost
//    publish ack leaves the message stored), a reader skips a message;
//  - stall: requests go unanswered (then time out), readers go silent;
//  - reorder and duplicate: a reader hands over its batch shuffled, some twice;
//  - purge (what a compaction does), go down (every session closes, opens fail),
//    or be recreated (a new, empty incarnation).
import type { Clock } from '../../domain/clock.js';
import type { Scheduler } from '../../domain/scheduler.js';
import type { BusBatchKind } from './bus-names.js';
import type { BusMessage, BusStream, BusStreamInfo, BusStreamReader } from './bus-stream.js';

/** Messages a reader holds at most (as the pull reader's batch). */
const READER_BATCH = 8;
/** A stalled reader reports itself silent this long after it last delivered (as the pull reader). */
const READER_SILENCE_MS = 15_000;

export interface MemoryBusFaults {
  /** Each request waits 1..maxDelayMs ms for its answer. */
  maxDelayMs: number;
  /** Probability that a request (or its answer) is lost, and that a reader skips a message. */
  loseRate: number;
  /** Readers hand over their batches in random order, a few messages twice. */
  reorder: boolean;
}

export interface MemoryBusServerOptions {
  readonly scheduler: Scheduler;
  readonly clock: Clock;
  /** [0, 1); seeded in the simulation. */
  readonly random: () => number;
  readonly maxPayload?: number;
  /** A lost or stalled request fails this long after it was made (as the NATS client's timeout). */
  readonly requestTimeoutMs?: number;
  readonly faults?: Partial<MemoryBusFaults>;
}

interface Stored extends BusMessage {
  readonly bytes: number;
}

export class MemoryBusServer {
  readonly faults: MemoryBusFaults;
  readonly maxPayload: number;
  private readonly requestTimeoutMs: number;
  private readonly messages = new Map<number, Stored>();
  private firstSeq = 1;
  private lastSeq = 0;
  private bytes = 0;
  private created: string;
  private incarnation = 0;
  private down = false;
  private stalledUntilMs = 0;
  private readersStalled = false;
  private readonly sessions = new Set<MemoryBusStream>();
  /** Counters the tests look at. */
  readonly counts = { published: 0, purged: 0, lostRequests: 0, skippedDeliveries: 0, sessions: 0, readers: 0 };

  constructor(private readonly options: MemoryBusServerOptions) {
    this.faults = { maxDelayMs: 5, loseRate: 0, reorder: false, ...options.faults };
    this.maxPayload = options.maxPayload ?? 1024 * 1024;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    this.created = this.newIncarnation();
  }

  /** The opener a BusLink takes: a new session, or a failure while the server is down. */
  readonly open = async (): Promise<BusStream> => {
    if (this.down) throw new Error('connection refused (ECONNREFUSED)');
    const session = new MemoryBusStream(this);
    this.sessions.add(session);
    this.counts.sessions++;
    return session;
  };

  get info(): BusStreamInfo {
    return { created: this.created, firstSeq: this.firstSeq, lastSeq: this.lastSeq, messages: this.messages.size, bytes: this.bytes };
  }

  /** Every message held, in order (for checks). */
  held(): BusMessage[] {
    return [...this.messages.values()];
  }

  get openSessions(): number {
    return this.sessions.size;
  }

  /** Down: every session closes with an error and opens fail until setDown(false). */
  setDown(down: boolean): void {
    this.down = down;
    if (down) this.closeAll(new Error('connection lost'));
  }

  get isDown(): boolean {
    return this.down;
  }

  /** Requests made before `ms` from now go unanswered (they time out). */
  stallFor(ms: number): void {
    this.stalledUntilMs = Math.max(this.stalledUntilMs, this.options.clock.nowMs() + ms);
  }

  /** Readers stop delivering (and report themselves silent) until unstalled. */
  stallReaders(stalled: boolean): void {
    this.readersStalled = stalled;
    if (!stalled) for (const session of this.sessions) session.wakeReaders();
  }

  get readersAreStalled(): boolean {
    return this.readersStalled;
  }

  /** A new, empty stream under the same name (sessions close: their stream is gone). */
  recreate(): void {
    this.messages.clear();
    this.firstSeq = 1;
    this.lastSeq = 0;
    this.bytes = 0;
    this.created = this.newIncarnation();
    this.closeAll(new Error('stream not found'));
  }

  // ---- used by the sessions ----

  get random(): () => number {
    return this.options.random;
  }

  get scheduler(): Scheduler {
    return this.options.scheduler;
  }

  get nowMs(): number {
    return this.options.clock.nowMs();
  }

  forget(session: MemoryBusStream): void {
    this.sessions.delete(session);
  }

  /** Answers `answer()` after a random delay, or fails it as lost, stalled or closed. `storeIfLost` runs even when the answer is lost. */
  request<T>(session: MemoryBusStream, answer: () => T, storeIfLost = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const delay = 1 + Math.floor(this.random() * Math.max(1, this.faults.maxDelayMs));
      const cancel = session.onClose(reject);
      this.scheduler.after(delay, () => {
        if (!session.isOpen) return;
        const lost = this.nowMs < this.stalledUntilMs || this.random() < this.faults.loseRate;
        if (!lost) {
          cancel();
          try {
            resolve(answer());
          } catch (error) {
            reject(error);
          }
          return;
        }
        this.counts.lostRequests++;
        if (storeIfLost && this.random() < 0.5) answer(); // stored, but the ack is lost
        this.scheduler.after(this.requestTimeoutMs, () => {
          cancel();
          reject(new Error('timeout'));
        });
      });
    });
  }

  append(data: Uint8Array, node: string, kind: BusBatchKind): number {
    if (data.byteLength > this.maxPayload) throw new Error('maximum payload exceeded');
    const seq = ++this.lastSeq;
    const stored: Stored = { seq, data, node, kind, bytes: data.byteLength + node.length + kind.length + 40 };
    this.messages.set(seq, stored);
    this.bytes += stored.bytes;
    this.counts.published++;
    for (const session of this.sessions) session.wakeReaders();
    return seq;
  }

  message(seq: number): BusMessage | undefined {
    return this.messages.get(seq);
  }

  purge(beforeSeq: number): number {
    let purged = 0;
    for (let seq = this.firstSeq; seq < beforeSeq && seq <= this.lastSeq; seq++) {
      const m = this.messages.get(seq);
      if (m === undefined) continue;
      this.messages.delete(seq);
      this.bytes -= m.bytes;
      purged++;
    }
    this.firstSeq = Math.max(this.firstSeq, Math.min(beforeSeq, this.lastSeq + 1));
    this.counts.purged += purged;
    return purged;
  }

  private closeAll(reason: Error): void {
    for (const session of [...this.sessions]) session.closeWith(reason);
  }

  private newIncarnation(): string {
    return `${new Date(this.options.clock.nowMs()).toISOString()}#${++this.incarnation}`;
  }
}

export class MemoryBusStream implements BusStream {
  readonly server: string;
  private open = true;
  private readonly closeListeners = new Set<(error: Error) => void>();
  private readonly readers = new Set<MemoryBusReader>();
  private resolveClosed: (error: Error | undefined) => void = () => undefined;
  private readonly closedPromise = new Promise<Error | undefined>((resolve) => (this.resolveClosed = resolve));

  constructor(private readonly host: MemoryBusServer) {
    this.server = `memory#${host.counts.sessions + 1}`;
  }

  get maxPayload(): number {
    return this.host.maxPayload;
  }

  get isOpen(): boolean {
    return this.open;
  }

  info(): Promise<BusStreamInfo> {
    return this.host.request(this, () => this.host.info);
  }

  publish(data: Uint8Array, node: string, kind: BusBatchKind): Promise<number> {
    return this.host.request(this, () => this.host.append(data, node, kind), true);
  }

  get(seq: number): Promise<BusMessage | undefined> {
    return this.host.request(this, () => this.host.message(seq));
  }

  purge(beforeSeq: number): Promise<number> {
    return this.host.request(this, () => this.host.purge(beforeSeq));
  }

  read(fromSeq: number, notify: () => void): Promise<BusStreamReader> {
    return this.host.request(this, () => {
      const reader = new MemoryBusReader(this.host, Math.max(1, fromSeq), notify, () => this.readers.delete(reader));
      this.readers.add(reader);
      reader.wake();
      return reader;
    });
  }

  closed(): Promise<Error | undefined> {
    return this.closedPromise;
  }

  async close(): Promise<void> {
    this.finish(undefined);
  }

  closeWith(reason: Error): void {
    this.finish(reason);
  }

  /** Calls fn with the reason if the session closes first; returns the cancel function. */
  onClose(fn: (error: Error) => void): () => void {
    if (!this.open) {
      fn(new Error('connection closed'));
      return () => undefined;
    }
    this.closeListeners.add(fn);
    return () => this.closeListeners.delete(fn);
  }

  wakeReaders(): void {
    for (const reader of this.readers) reader.wake();
  }

  private finish(reason: Error | undefined): void {
    if (!this.open) return;
    this.open = false;
    this.host.forget(this);
    for (const reader of [...this.readers]) reader.close();
    const error = reason ?? new Error('connection closed');
    for (const listener of [...this.closeListeners]) listener(error);
    this.closeListeners.clear();
    this.resolveClosed(reason);
  }
}

class MemoryBusReader implements BusStreamReader {
  readonly name: string;
  private readonly queue: BusMessage[] = [];
  private delivering = false;
  private closed = false;
  private lastDeliveredMs: number;
  brokenReason: string | undefined;

  constructor(
    private readonly host: MemoryBusServer,
    private next: number,
    private readonly notify: () => void,
    private readonly onClose: () => void,
  ) {
    this.name = `memory-reader-${++host.counts.readers}`;
    this.lastDeliveredMs = host.nowMs;
  }

  take(): BusMessage[] {
    const out = this.queue.splice(0);
    this.wake();
    return out;
  }

  get queued(): number {
    return this.queue.length;
  }

  silent(): boolean {
    return this.host.readersAreStalled && this.host.nowMs - this.lastDeliveredMs > READER_SILENCE_MS;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  /** Schedules the next delivery if there is something to deliver and room for it. */
  wake(): void {
    if (this.closed || this.delivering || this.host.readersAreStalled || this.queue.length >= READER_BATCH) return;
    if (this.next > this.host.info.lastSeq) return;
    this.delivering = true;
    const { faults, random } = this.host;
    this.host.scheduler.after(1 + Math.floor(random() * Math.max(1, faults.maxDelayMs)), () => {
      this.delivering = false;
      if (this.closed || this.host.readersAreStalled) return;
      const batch: BusMessage[] = [];
      const { firstSeq, lastSeq } = this.host.info;
      let seq = Math.max(this.next, firstSeq);
      for (; seq <= lastSeq && batch.length < READER_BATCH - this.queue.length; seq++) {
        const m = this.host.message(seq);
        if (m === undefined) continue;
        if (random() < faults.loseRate) {
          this.host.counts.skippedDeliveries++;
          continue;
        }
        batch.push(m);
        if (faults.reorder && random() < 0.1) batch.push(m);
      }
      this.next = seq;
      if (faults.reorder) shuffle(batch, random);
      for (const m of batch) this.queue.push(m);
      this.lastDeliveredMs = this.host.nowMs;
      this.notify();
      this.wake();
    });
  }
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
}
