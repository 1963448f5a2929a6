// Delivers the bus stream's messages to the consumer once each, with their stream
// sequence, through an ephemeral pull consumer driven by hand (no acks, one pull
// request of a few messages outstanding at a time, so memory stays bounded by
// PULL_BATCH messages however far behind the node is). Everything else stays with
// the caller: it checks the sequences (duplicates, gaps), and recreates the reader
// when it reports itself broken or goes silent (a consumer lost with a cluster
// server), reading by sequence meanwhile. The library's consume() was not used
// because its retries hide a stalled consumer (seen on nats-server 2.9).
import { createInbox, nanos, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, ReplayPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { BUS_HEADER_KIND, BUS_HEADER_NODE, type BusBatchKind } from './bus-names.js';
import type { BusMessage, BusStreamReader } from './bus-stream.js';

/** Messages asked for per pull request (each up to max_payload, ~1 MiB). */
export const PULL_BATCH = 8;
const PULL_EXPIRES_MS = 30_000;
const PULL_HEARTBEAT_MS = 5_000;
/** Nothing heard (message or heartbeat) this long while a pull is outstanding: the consumer is gone. */
const SILENCE_LIMIT_MS = 3 * PULL_HEARTBEAT_MS;
/** The server forgets the ephemeral consumer after this long without a pull (we crashed). */
const INACTIVE_THRESHOLD_MS = 60_000;

export class BusPullReader implements BusStreamReader {
  private readonly queue: BusMessage[] = [];
  private sub: Subscription | undefined;
  private outstanding = 0;
  private lastHeardMs: number;
  private closed = false;
  /** Why the reader stopped delivering (the caller recreates it). */
  brokenReason: string | undefined;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    readonly name: string,
    private readonly nowMs: () => number,
    private readonly notify: () => void,
  ) {
    this.lastHeardMs = nowMs();
  }

  /** Creates an ephemeral consumer starting at `startSeq` and asks for the first messages. */
  static async open(
    nc: NatsConnection,
    jsm: JetStreamManager,
    stream: string,
    startSeq: number,
    nowMs: () => number,
    notify: () => void,
  ): Promise<BusPullReader> {
    const info = await jsm.consumers.add(stream, {
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, startSeq),
      replay_policy: ReplayPolicy.Instant,
      inactive_threshold: nanos(INACTIVE_THRESHOLD_MS),
      mem_storage: true,
      num_replicas: 1,
    });
    const reader = new BusPullReader(nc, jsm, stream, info.name, nowMs, notify);
    const inbox = createInbox();
    reader.sub = nc.subscribe(inbox, { callback: (_err, msg) => reader.onMessage(msg) });
    reader.inbox = inbox;
    reader.maybePull();
    return reader;
  }

  private inbox = '';

  /** Delivered messages not taken yet, in stream order; asks for more once taken. */
  take(): BusMessage[] {
    const out = this.queue.splice(0);
    this.maybePull();
    return out;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** True when a pull is outstanding and the server has said nothing for too long. */
  silent(): boolean {
    return this.outstanding > 0 && this.nowMs() - this.lastHeardMs > SILENCE_LIMIT_MS;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sub?.unsubscribe();
    void this.jsm.consumers.delete(this.stream, this.name).catch(() => undefined);
  }

  private maybePull(): void {
    if (this.closed || this.brokenReason !== undefined || this.outstanding > 0 || this.queue.length >= PULL_BATCH) return;
    const request = { batch: PULL_BATCH, expires: nanos(PULL_EXPIRES_MS), idle_heartbeat: nanos(PULL_HEARTBEAT_MS) };
    this.outstanding = PULL_BATCH;
    this.lastHeardMs = this.nowMs();
    try {
      this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.stream}.${this.name}`, JSON.stringify(request), { reply: this.inbox });
    } catch (error) {
      this.outstanding = 0;
      this.brokenReason = `pull request failed: ${error instanceof Error ? error.message : String(error)}`;
      this.notify();
    }
  }

  private onMessage(msg: Msg): void {
    if (this.closed) return;
    this.lastHeardMs = this.nowMs();
    const code = msg.headers?.code ?? 0;
    if (code !== 0 && msg.data.byteLength === 0 && msg.reply?.startsWith('$JS.ACK.') !== true) {
      if (code === 100) return; // idle heartbeat
      // 408: the request expired (ask again); anything else (409 consumer deleted, leadership
      // change...) ends this reader: the caller recreates one from its own sequence.
      this.outstanding = 0;
      if (code !== 408) this.brokenReason = `consumer ${this.name}: ${code} ${msg.headers?.description ?? ''}`.trim();
      this.maybePull();
      this.notify();
      return;
    }
    const seq = streamSequenceOf(msg.reply ?? '');
    if (seq === undefined) return;
    if (this.outstanding > 0) this.outstanding--;
    this.queue.push({ seq, data: msg.data, node: msg.headers?.get(BUS_HEADER_NODE) ?? '', kind: batchKindOf(msg.headers?.get(BUS_HEADER_KIND)) });
    this.maybePull();
    this.notify();
  }
}

/** The batch kind in a message header ('delta' when missing or unknown). */
export function batchKindOf(header: string | undefined): BusBatchKind {
  return header === 'snapshot' ? 'snapshot' : 'delta';
}

/** The stream sequence in a JetStream delivery's reply subject (old 9-token or new 12-token form). */
export function streamSequenceOf(reply: string): number | undefined {
  const tokens = reply.split('.');
  if (tokens[0] !== '$JS' || tokens[1] !== 'ACK') return undefined;
  const index = tokens.length === 9 ? 5 : tokens.length >= 11 ? 7 : -1;
  if (index < 0) return undefined;
  const seq = Number(tokens[index]);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}
