// The peer protocol of one mesh connection, free of I/O: the gRPC transport and the
// in-process simulation both drive it with the messages they carry. On connect the
// two sides exchange hello + bucket digests; for the buckets that differ each sends
// per-record summaries (record-summaries.ts), then only the records the other lacks
// or holds older (reconcile phase); a peer of another protocol version or bucket
// count gets a full snapshot instead. Then coalesced deltas flow on every flush
// tick, acked chunk by chunk with a bounded window so a slow peer applies
// backpressure. Merges are idempotent, so duplicates and reordering never need
// rejecting: a summary or marker arriving out of order only ever causes extra sends.
import { FailedPreconditionError } from '../../domain/errors.js';
import type { ReplicatedRecord } from '../../domain/replicated-record.js';
import { DEFAULT_MAX_CLOCK_OFFSET_MS } from '../../domain/version.js';
import { splitByClockOffset } from './clock-offset-guard.js';
import type { ReconciliationSummary } from '../link-status.js';
import type { CoalescingOutbox } from './coalescing-outbox.js';
import { groupByBucket, recordsToSend, SUMMARY_ENTRY_BYTES, SummaryWriter, type BucketRecords, type SummaryBlock } from './record-summaries.js';
import { CHUNK_OVERHEAD_BYTES, estimateRecordBytes } from './record-size.js';
import type { ReplicationHub } from './replication-hub.js';

/** 2: per-record summaries of the differing buckets. 1: whole differing buckets (such a peer gets a full snapshot). */
export const MESH_PROTOCOL_VERSION = 2;
export const DEFAULT_MAX_UNACKED_CHUNKS = 8;

export type RecordsPhase = 'reconcile' | 'delta';

export type MeshMessage =
  | { readonly type: 'hello'; readonly nodeId: string; readonly bucketCount: number; readonly protocolVersion: number }
  | { readonly type: 'digests'; readonly digests: BigUint64Array }
  | { readonly type: 'summaries'; readonly index: number; readonly last: boolean; readonly block: SummaryBlock }
  | { readonly type: 'records'; readonly seq: number; readonly phase: RecordsPhase; readonly records: readonly ReplicatedRecord[] }
  | { readonly type: 'reconciled'; readonly recordsSent: number }
  | { readonly type: 'ack'; readonly seq: number };

/**
 * Hands one message to the transport; returns its encoded size in bytes when the
 * transport knows it (the session estimates otherwise, e.g. in the simulation).
 */
export type MeshSend = (message: MeshMessage) => number | void;

export interface MeshSessionOptions {
  /** Refuse a peer announcing another node id (the configured peer's identity). */
  readonly expectedPeerNodeId?: string;
  /** Default: the hub's maxChunkBytes. */
  readonly maxChunkBytes?: number;
  /** Chunks sent and not yet acked before the session waits (backpressure). */
  readonly maxUnackedChunks?: number;
  /** Bits of the summaries' key lookup hash (default 32; tests force collisions with a few). */
  readonly keyHashBits?: number;
  /** Announced protocol version (default MESH_PROTOCOL_VERSION; tests play an older peer). */
  readonly protocolVersion?: number;
  /**
   * Resolve onMessage as soon as a records chunk is applied, not once it is durable
   * (the ack still waits for durability): the transport decodes the next message
   * meanwhile. Default false: onMessage resolves after the ack.
   */
  readonly pipelineMerges?: boolean;
  /** The store failed to merge received records, or a message could not be sent: the transport should end the link. */
  readonly onError?: (error: unknown) => void;
  /** Received versions further ahead of this node's clock are refused (default DEFAULT_MAX_CLOCK_OFFSET_MS). */
  readonly maxClockOffsetMs?: number;
  /** Something the operator must hear about (the transport logs it). */
  readonly onEvent?: (event: MeshSessionEvent) => void;
}

/** Refused records and failed sends: never silent (logged by the transport, counted, in `peers list`). */
export type MeshSessionEvent =
  | {
      readonly type: 'clock-offset-refused';
      readonly count: number;
      /** How far ahead of this node's clock the furthest refused version was. */
      readonly aheadMs: number;
      readonly example: string;
      readonly maxClockOffsetMs: number;
    }
  | { readonly type: 'send-failed'; readonly messageType: MeshMessage['type']; readonly error: unknown };

/** handshake: waiting for hello/digests; reconciling: summaries and records being exchanged; streaming: deltas only. */
export type MeshPhase = 'handshake' | 'reconciling' | 'streaming' | 'closed';

export interface MeshSessionStatus {
  readonly peerNodeId?: string;
  readonly phase: MeshPhase;
  /** True when the peer's hello forced a full snapshot (protocol or bucket count mismatch). */
  readonly fullSnapshot: boolean;
  readonly lastReconciliation?: ReconciliationSummary;
  readonly pendingDeltas: number;
  readonly inFlightChunks: number;
  readonly lastFlushAtMs?: number;
  readonly lastError?: string;
  readonly lastErrorAtMs?: number;
  readonly recordsSent: number;
  readonly recordsReceived: number;
  /** Received records refused for a version too far ahead of this node's clock. */
  readonly recordsRefused: number;
  /** Messages that could not be encoded or handed to the transport (each ends the link). */
  readonly sendFailures: number;
  /** Every message, encoded size as the transport reported it. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

interface ReconcileProgress {
  readonly startedAtMs: number;
  readonly bucketsDiffering: number;
  /** Records decided to be sent; `next` is the first not sent yet. */
  queue: ReplicatedRecord[];
  next: number;
  /** Summary mode: this side's records of the differing buckets (and of buckets the peer described), by bucket. */
  readonly mine: Map<number, BucketRecords> | undefined;
  /** Buckets the peer's summaries described (compared once each). */
  readonly described: Set<number>;
  readonly summaryIndexes: Set<number>;
  summaryTotal: number | undefined;
  /** Every record to send is queued: always in a full snapshot, once the peer's summaries are all in otherwise. */
  decided: boolean;
  doneSending: boolean;
  peerDone: boolean;
}

type SummariesMessage = Extract<MeshMessage, { type: 'summaries' }>;

export class MeshSession {
  private phase: MeshPhase = 'handshake';
  private peerNodeId: string | undefined;
  private outbox: CoalescingOutbox | undefined;
  private unsubscribeFlush: (() => void) | undefined;
  private bufferedDigests: BigUint64Array | undefined;
  private fullSnapshot = false;
  private reconcile: ReconcileProgress | undefined;
  /** Peer summaries that arrived before our own reconciliation started (reordering transport). */
  private earlySummaries: SummariesMessage[] = [];
  /** The peer's 'reconciled' arrived before its digests (reordering transport). */
  private pendingPeerDone = false;
  private readonly unacked = new Set<number>();
  /** Reconcile chunks received whose merge is not durable yet. */
  private mergesPending = 0;
  private failure: { error: unknown } | undefined;
  private readonly reconcileUnacked = new Set<number>();
  /** The last flush stopped on a full window: send more as acks free it. */
  private deltaBacklog = false;
  private lastReconciliation: ReconciliationSummary | undefined;
  private lastFlushAtMs: number | undefined;
  private lastError: string | undefined;
  private lastErrorAtMs: number | undefined;
  private readonly startedAtMs: number;
  private readonly maxClockOffsetMs: number;
  private readonly maxChunkBytes: number;
  private readonly window: number;
  private readonly keyMask: number;
  private readonly protocolVersion: number;
  private readonly counters = { recordsSent: 0, recordsReceived: 0, recordsRefused: 0, sendFailures: 0, bytesSent: 0, bytesReceived: 0 };
  /** What the reconciliation exchanged (every message from connect to reconciled but delta records). */
  private readonly exchanged = { recordsSent: 0, recordsReceived: 0, bytesSent: 0, bytesReceived: 0 };

  constructor(
    private readonly hub: ReplicationHub,
    private readonly send: MeshSend,
    private readonly options: MeshSessionOptions = {},
  ) {
    this.maxChunkBytes = options.maxChunkBytes ?? hub.maxChunkBytes;
    this.window = Math.max(1, options.maxUnackedChunks ?? DEFAULT_MAX_UNACKED_CHUNKS);
    const bits = Math.min(32, Math.max(1, Math.floor(options.keyHashBits ?? 32)));
    this.keyMask = bits === 32 ? 0xffff_ffff : (1 << bits) - 1;
    this.protocolVersion = options.protocolVersion ?? MESH_PROTOCOL_VERSION;
    this.maxClockOffsetMs = options.maxClockOffsetMs ?? DEFAULT_MAX_CLOCK_OFFSET_MS;
    this.startedAtMs = hub.clock.nowMs();
  }

  /** Sends hello and this node's digests. */
  start(): void {
    this.emit({ type: 'hello', nodeId: this.hub.nodeId, bucketCount: this.hub.digests.bucketCount, protocolVersion: this.protocolVersion });
    this.emit({ type: 'digests', digests: this.hub.digests.all() });
  }

  /**
   * Handles one message from the peer (`wireBytes`: its encoded size, when the
   * transport knows it). Rejects (and the transport should close the stream) on a
   * wrong peer identity, or after the store failed to merge (also reported to
   * options.onError at once); records are acked only once merged and durable, so
   * un-acked ones come back after reconnection.
   */
  async onMessage(message: MeshMessage, wireBytes?: number): Promise<void> {
    if (this.phase === 'closed') return;
    if (this.failure !== undefined) throw this.failure.error;
    const bytes = wireBytes ?? estimateMessageBytes(message);
    this.counters.bytesReceived += bytes;
    if (this.reconciling() && !(message.type === 'records' && message.phase === 'delta')) this.exchanged.bytesReceived += bytes;
    switch (message.type) {
      case 'hello':
        this.onHello(message.nodeId, message.bucketCount, message.protocolVersion);
        return;
      case 'digests':
        if (this.outbox === undefined) this.bufferedDigests = message.digests;
        else this.onDigests(message.digests);
        return;
      case 'summaries':
        this.onSummaries(message);
        return;
      case 'records': {
        const merged = this.onRecords(message.seq, message.phase, message.records);
        if (this.options.pipelineMerges !== true) await merged;
        return;
      }
      case 'reconciled':
        this.onPeerReconciled();
        return;
      case 'ack':
        this.onAck(message.seq);
        return;
    }
  }

  /** The connection is gone: un-acked deltas go back to pending, then the outbox is released. */
  close(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.unsubscribeFlush?.();
    this.unsubscribeFlush = undefined;
    if (this.outbox !== undefined && this.peerNodeId !== undefined) {
      this.outbox.requeueInFlight();
      this.hub.closeOutbox(this.peerNodeId, this.outbox);
    }
    this.reconcile = undefined;
    this.earlySummaries = [];
    this.unacked.clear();
  }

  get peer(): string | undefined {
    return this.peerNodeId;
  }

  status(): MeshSessionStatus {
    return {
      ...(this.peerNodeId !== undefined ? { peerNodeId: this.peerNodeId } : {}),
      phase: this.phase,
      fullSnapshot: this.fullSnapshot,
      ...(this.lastReconciliation !== undefined ? { lastReconciliation: this.lastReconciliation } : {}),
      pendingDeltas: this.outbox?.pendingKeys ?? 0,
      inFlightChunks: this.unacked.size,
      ...(this.lastFlushAtMs !== undefined ? { lastFlushAtMs: this.lastFlushAtMs } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(this.lastErrorAtMs !== undefined ? { lastErrorAtMs: this.lastErrorAtMs } : {}),
      ...this.counters,
    };
  }

  private reconciling(): boolean {
    return this.phase === 'handshake' || this.phase === 'reconciling';
  }

  private onHello(nodeId: string, bucketCount: number, protocolVersion: number): void {
    if (this.outbox !== undefined) return; // duplicate hello
    if (nodeId === this.hub.nodeId) {
      throw new FailedPreconditionError(`peer announced node id "${nodeId}", which is this node's own id: a node cannot peer with itself`);
    }
    if (this.options.expectedPeerNodeId !== undefined && nodeId !== this.options.expectedPeerNodeId) {
      throw new FailedPreconditionError(`peer announced node id "${nodeId}", expected "${this.options.expectedPeerNodeId}"`);
    }
    this.peerNodeId = nodeId;
    this.fullSnapshot = protocolVersion !== this.protocolVersion || bucketCount !== this.hub.digests.bucketCount;
    this.outbox = this.hub.openOutbox(nodeId, { peerNodeId: nodeId });
    this.unsubscribeFlush = this.hub.onFlush(nodeId, () => this.flushDeltas());
    const digests = this.bufferedDigests;
    this.bufferedDigests = undefined;
    if (digests !== undefined) this.onDigests(digests);
  }

  private onDigests(digests: BigUint64Array): void {
    if (this.reconcile !== undefined || this.phase !== 'handshake') return; // duplicate digests
    const bucketCount = this.hub.digests.bucketCount;
    const buckets = this.fullSnapshot || digests.length !== bucketCount ? allBuckets(bucketCount) : this.hub.digests.differing(digests);
    this.phase = 'reconciling';
    const r: ReconcileProgress = {
      startedAtMs: this.startedAtMs,
      bucketsDiffering: buckets.length,
      queue: [],
      next: 0,
      mine: this.fullSnapshot ? undefined : groupByBucket(this.hub.records(), bucketCount, new Set(buckets), this.keyMask),
      described: new Set(),
      summaryIndexes: new Set(),
      summaryTotal: undefined,
      decided: false,
      doneSending: false,
      peerDone: this.pendingPeerDone,
    };
    this.reconcile = r;
    if (r.mine === undefined) {
      // Full snapshot: the peer cannot compare summaries (other protocol or bucket count).
      r.queue = [...this.hub.records()];
      r.decided = true;
    } else {
      this.sendSummaries(r.mine);
      for (const early of this.earlySummaries.splice(0)) this.onSummaries(early);
    }
    this.pumpReconcile();
  }

  /** This side's summaries of the differing buckets, in chunks; the last one says so (even when empty). */
  private sendSummaries(mine: ReadonlyMap<number, BucketRecords>): void {
    const writer = new SummaryWriter();
    let index = 0;
    for (const [bucket, group] of mine) {
      const size = 8 + group.records.length * SUMMARY_ENTRY_BYTES;
      if (writer.bucketCount > 0 && writer.estimatedBytes + size > this.maxChunkBytes) {
        this.emit({ type: 'summaries', index: index++, last: false, block: writer.take() });
      }
      writer.add(bucket, group);
    }
    this.emit({ type: 'summaries', index, last: true, block: writer.take() });
  }

  private onSummaries(message: SummariesMessage): void {
    const r = this.reconcile;
    if (r === undefined) {
      this.earlySummaries.push(message);
      return;
    }
    // A full snapshot ignores summaries; duplicates are compared once.
    if (r.mine === undefined || r.decided || r.summaryIndexes.has(message.index)) return;
    r.summaryIndexes.add(message.index);
    if (message.last) r.summaryTotal = message.index + 1;
    const { block } = message;
    const bucketCount = this.hub.digests.bucketCount;
    // Buckets the peer found differing and we did not (state changed in between): read them now.
    const missing = new Set<number>();
    for (const b of block.buckets) if (b < bucketCount && !r.mine.has(b)) missing.add(b);
    if (missing.size > 0) for (const [b, group] of groupByBucket(this.hub.records(), bucketCount, missing, this.keyMask)) r.mine.set(b, group);
    let start = 0;
    for (let i = 0; i < block.buckets.length; i++) {
      const bucket = block.buckets[i] as number;
      const count = block.counts[i] as number;
      const mine = r.mine.get(bucket);
      if (mine !== undefined && !r.described.has(bucket)) {
        r.described.add(bucket);
        recordsToSend(mine, block, start, count, r.queue);
      }
      start += count;
    }
    if (r.summaryTotal !== undefined && r.summaryIndexes.size >= r.summaryTotal) {
      // Every summary is in: buckets the peer did not describe go whole (it may lack all of them).
      for (const [bucket, group] of r.mine) {
        if (!r.described.has(bucket)) for (const record of group.records) r.queue.push(record);
      }
      r.mine.clear();
      r.decided = true;
    }
    this.pumpReconcile();
  }

  /**
   * Merges now (the store applies a batch synchronously) and acks once it is durable;
   * with pipelineMerges the next message is handled meanwhile (the peer's window
   * bounds how many merges are pending).
   */
  private onRecords(seq: number, phase: RecordsPhase, records: readonly ReplicatedRecord[]): Promise<void> {
    // Before hello (only with a reordering transport) the peer is whoever it was expected to be.
    const linkId = this.peerNodeId ?? this.options.expectedPeerNodeId ?? '';
    const counted = phase === 'reconcile' && this.reconciling();
    if (counted) this.mergesPending++;
    this.counters.recordsReceived += records.length;
    if (counted) this.exchanged.recordsReceived += records.length;
    return this.hub.receive(linkId, this.withinClockOffset(records)).then(
      () => {
        if (counted) this.mergesPending--;
        if (this.phase === 'closed') return;
        this.emit({ type: 'ack', seq });
        if (counted) this.maybeFinishReconciliation();
      },
      (error: unknown) => {
        // Not acked: the peer requeues it. The link must end: the next message (or onError) says why.
        this.failure ??= { error };
        this.noteError(error instanceof Error ? error.message : String(error));
        this.options.onError?.(error);
      },
    );
  }

  /**
   * Drops (and reports) records whose version is further ahead of this node's clock
   * than the allowed offset: merged, they would drag the hybrid clock, and every
   * later write on every node, to their time. The chunk is still acked: resending
   * cannot make them acceptable; the peer keeps them, reconciliation offers them
   * again on the next connection and they are refused (and reported) again.
   */
  private withinClockOffset(records: readonly ReplicatedRecord[]): readonly ReplicatedRecord[] {
    const { accepted, refused, aheadMs, example } = splitByClockOffset(records, this.hub.clock.nowMs(), this.maxClockOffsetMs);
    if (refused === 0) return accepted;
    this.counters.recordsRefused += refused;
    this.noteError(
      `refused ${refused} record(s) whose version is up to ${aheadMs} ms ahead of this node's clock ` +
        `(beyond max_clock_offset_ms = ${this.maxClockOffsetMs}; e.g. ${example}): a clock in the mesh is off`,
    );
    this.options.onEvent?.({ type: 'clock-offset-refused', count: refused, aheadMs, example, maxClockOffsetMs: this.maxClockOffsetMs });
    return accepted;
  }

  private noteError(message: string): void {
    this.lastError = message;
    this.lastErrorAtMs = this.hub.clock.nowMs();
  }

  private onPeerReconciled(): void {
    if (this.reconcile === undefined) {
      // Reordered ahead of the peer's digests: remember it for when reconciliation starts.
      this.pendingPeerDone = true;
      return;
    }
    this.reconcile.peerDone = true;
    this.maybeFinishReconciliation();
  }

  private onAck(seq: number): void {
    if (!this.unacked.delete(seq)) return; // duplicate or stale ack
    this.outbox?.ack(seq);
    if (this.reconcileUnacked.delete(seq)) this.maybeFinishReconciliation();
    this.pumpReconcile();
    if (this.deltaBacklog) this.flushDeltas();
  }

  /** Sends queued reconcile chunks while the window allows; once all are decided and sent, the 'reconciled' marker. */
  private pumpReconcile(): void {
    const r = this.reconcile;
    const outbox = this.outbox;
    if (r === undefined || outbox === undefined || r.doneSending || this.phase === 'closed') return;
    while (this.unacked.size < this.window && r.next < r.queue.length) {
      const records: ReplicatedRecord[] = [];
      let bytes = CHUNK_OVERHEAD_BYTES;
      while (r.next < r.queue.length) {
        const record = r.queue[r.next] as ReplicatedRecord;
        const size = estimateRecordBytes(record);
        if (records.length > 0 && bytes + size > this.maxChunkBytes) break;
        records.push(record);
        bytes += size;
        r.next++;
      }
      const seq = outbox.allocateSeq();
      this.unacked.add(seq);
      this.reconcileUnacked.add(seq);
      this.counters.recordsSent += records.length;
      this.exchanged.recordsSent += records.length;
      this.emit({ type: 'records', seq, phase: 'reconcile', records });
    }
    if (r.next >= r.queue.length) {
      r.queue = [];
      r.next = 0;
      if (!r.decided) return;
      r.doneSending = true;
      this.emit({ type: 'reconciled', recordsSent: this.exchanged.recordsSent });
      if (this.pendingPeerDone) r.peerDone = true;
      this.maybeFinishReconciliation();
      // Deltas held back while reconciling go out now rather than at the next tick.
      if (outbox.pendingKeys > 0) this.flushDeltas();
    }
  }

  private maybeFinishReconciliation(): void {
    const r = this.reconcile;
    if (r === undefined || !r.doneSending || !r.peerDone || this.reconcileUnacked.size > 0 || this.mergesPending > 0 || this.phase !== 'reconciling') return;
    const now = this.hub.clock.nowMs();
    this.lastReconciliation = {
      atMs: r.startedAtMs,
      durationMs: now - r.startedAtMs,
      bucketsDiffering: r.bucketsDiffering,
      ...this.exchanged,
    };
    this.phase = 'streaming';
  }

  /** On each flush tick (and as acks free the window after a full one): send coalesced deltas. */
  private flushDeltas(): void {
    const outbox = this.outbox;
    if (outbox === undefined || this.phase === 'closed' || this.phase === 'handshake') return;
    // Reconciliation goes first; deltas queue (coalesced) until its records are all sent.
    if (this.reconcile !== undefined && !this.reconcile.doneSending) return;
    let sent = false;
    while (this.unacked.size < this.window) {
      const chunk = outbox.takeChunk(this.maxChunkBytes);
      if (chunk === undefined) break;
      this.unacked.add(chunk.seq);
      this.counters.recordsSent += chunk.records.length;
      this.emit({ type: 'records', seq: chunk.seq, phase: 'delta', records: chunk.records });
      sent = true;
    }
    if (sent) this.lastFlushAtMs = this.hub.clock.nowMs();
    this.deltaBacklog = outbox.pendingKeys > 0;
  }

  private emit(message: MeshMessage): void {
    if (this.phase === 'closed') return;
    let reported: number | void;
    try {
      reported = this.send(message);
    } catch (error) {
      // Never silent: a message that cannot be sent (e.g. a record that does not encode)
      // ends the link with the reason, which `peers list` shows; un-acked chunks go back
      // to pending when the session closes, and the next connection reconciles them.
      this.counters.sendFailures++;
      const reason = `could not send a ${message.type} message: ${error instanceof Error ? error.message : String(error)}`;
      this.noteError(reason);
      this.options.onEvent?.({ type: 'send-failed', messageType: message.type, error });
      this.options.onError?.(new Error(reason, { cause: error }));
      return;
    }
    const bytes = typeof reported === 'number' ? reported : estimateMessageBytes(message);
    this.counters.bytesSent += bytes;
    if (this.reconciling() && !(message.type === 'records' && message.phase === 'delta')) this.exchanged.bytesSent += bytes;
  }
}

function allBuckets(count: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < count; b++) out.push(b);
  return out;
}

/** A rough size where no transport reports one (the simulation): the same estimate as chunk sizing. */
function estimateMessageBytes(message: MeshMessage): number {
  switch (message.type) {
    case 'hello':
      return 16 + message.nodeId.length;
    case 'digests':
      return 8 + 8 * message.digests.length;
    case 'summaries': {
      let bytes = 16 + 8 * message.block.buckets.length + SUMMARY_ENTRY_BYTES * message.block.keyLo.length;
      for (const origin of message.block.origins) bytes += 2 + origin.length;
      return bytes;
    }
    case 'records': {
      let bytes = CHUNK_OVERHEAD_BYTES;
      for (const record of message.records) bytes += estimateRecordBytes(record);
      return bytes;
    }
    case 'reconciled':
    case 'ack':
      return 8;
  }
}
