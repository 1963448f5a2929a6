// The peer protocol of one mesh connection, free of I/O: the gRPC transport and the
// in-process simulation both drive it with the messages they carry. On connect the
// two sides exchange hello + bucket digests, each sends the records of the buckets
// that differ (reconcile phase), then coalesced deltas flow on every flush tick,
// acked chunk by chunk with a bounded window so a slow peer applies backpressure.
// Merges are idempotent, so duplicates and reordering never need rejecting.
import { FailedPreconditionError } from '../../domain/errors.js';
import type { ReplicatedRecord } from '../../domain/replicated-record.js';
import type { ReconciliationSummary } from '../link-status.js';
import type { CoalescingOutbox } from './coalescing-outbox.js';
import { CHUNK_OVERHEAD_BYTES, estimateRecordBytes } from './record-size.js';
import type { ReplicationHub } from './replication-hub.js';

export const MESH_PROTOCOL_VERSION = 1;
export const DEFAULT_MAX_UNACKED_CHUNKS = 8;

export type RecordsPhase = 'reconcile' | 'delta';

export type MeshMessage =
  | { readonly type: 'hello'; readonly nodeId: string; readonly bucketCount: number; readonly protocolVersion: number }
  | { readonly type: 'digests'; readonly digests: BigUint64Array }
  | { readonly type: 'records'; readonly seq: number; readonly phase: RecordsPhase; readonly records: readonly ReplicatedRecord[] }
  | { readonly type: 'reconciled'; readonly recordsSent: number }
  | { readonly type: 'ack'; readonly seq: number };

export type MeshSend = (message: MeshMessage) => Promise<void> | void;

export interface MeshSessionOptions {
  /** Refuse a peer announcing another node id (the configured peer's identity). */
  readonly expectedPeerNodeId?: string;
  /** Default: the hub's maxChunkBytes. */
  readonly maxChunkBytes?: number;
  /** Chunks sent and not yet acked before the session waits (backpressure). */
  readonly maxUnackedChunks?: number;
}

/** handshake: waiting for hello/digests; reconciling: differing buckets being exchanged; streaming: deltas only. */
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
  readonly recordsSent: number;
  readonly recordsReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

interface ReconcileProgress {
  readonly startedAtMs: number;
  readonly bucketsDiffering: number;
  records: ReplicatedRecord[];
  next: number;
  doneSending: boolean;
  peerDone: boolean;
  recordsSent: number;
  bytesSent: number;
  recordsReceived: number;
  bytesReceived: number;
}

export class MeshSession {
  private phase: MeshPhase = 'handshake';
  private peerNodeId: string | undefined;
  private outbox: CoalescingOutbox | undefined;
  private unsubscribeFlush: (() => void) | undefined;
  private bufferedDigests: BigUint64Array | undefined;
  private fullSnapshot = false;
  private reconcile: ReconcileProgress | undefined;
  /** Reconcile-phase records received before our own reconciliation started. */
  private earlyReconcileRecords = 0;
  private earlyReconcileBytes = 0;
  /** The peer's 'reconciled' arrived before its digests (reordering transport). */
  private pendingPeerDone = false;
  private readonly unacked = new Set<number>();
  private reconcileUnacked = new Set<number>();
  /** The last flush stopped on a full window: send more as acks free it. */
  private deltaBacklog = false;
  private lastReconciliation: ReconciliationSummary | undefined;
  private lastFlushAtMs: number | undefined;
  private lastError: string | undefined;
  private readonly startedAtMs: number;
  private readonly maxChunkBytes: number;
  private readonly window: number;
  private counters = { recordsSent: 0, recordsReceived: 0, bytesSent: 0, bytesReceived: 0 };

  constructor(
    private readonly hub: ReplicationHub,
    private readonly send: MeshSend,
    private readonly options: MeshSessionOptions = {},
  ) {
    this.maxChunkBytes = options.maxChunkBytes ?? hub.maxChunkBytes;
    this.window = Math.max(1, options.maxUnackedChunks ?? DEFAULT_MAX_UNACKED_CHUNKS);
    this.startedAtMs = hub.clock.nowMs();
  }

  /** Sends hello and this node's digests. */
  start(): void {
    this.emit({ type: 'hello', nodeId: this.hub.nodeId, bucketCount: this.hub.digests.bucketCount, protocolVersion: MESH_PROTOCOL_VERSION });
    this.emit({ type: 'digests', digests: this.hub.digests.all() });
  }

  /**
   * Handles one message from the peer. Rejects (and the transport should close the
   * stream) on a wrong peer identity or when the store cannot merge; records are
   * acked only once merged, so un-acked ones come back after reconnection.
   */
  async onMessage(message: MeshMessage): Promise<void> {
    if (this.phase === 'closed') return;
    switch (message.type) {
      case 'hello':
        this.onHello(message.nodeId, message.bucketCount, message.protocolVersion);
        return;
      case 'digests':
        if (this.outbox === undefined) this.bufferedDigests = message.digests;
        else this.onDigests(message.digests);
        return;
      case 'records':
        await this.onRecords(message.seq, message.phase, message.records);
        return;
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
      ...this.counters,
    };
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
    this.fullSnapshot = protocolVersion !== MESH_PROTOCOL_VERSION || bucketCount !== this.hub.digests.bucketCount;
    this.outbox = this.hub.openOutbox(nodeId);
    this.unsubscribeFlush = this.hub.onFlush(nodeId, () => this.flushDeltas());
    const digests = this.bufferedDigests;
    this.bufferedDigests = undefined;
    if (digests !== undefined) this.onDigests(digests);
  }

  private onDigests(digests: BigUint64Array): void {
    if (this.reconcile !== undefined || this.phase !== 'handshake') return; // duplicate digests
    const all = this.fullSnapshot || digests.length !== this.hub.digests.bucketCount;
    const buckets = all ? allBuckets(this.hub.digests.bucketCount) : this.hub.digests.differing(digests);
    this.phase = 'reconciling';
    this.reconcile = {
      startedAtMs: this.startedAtMs,
      bucketsDiffering: buckets.length,
      records: this.hub.recordsInBuckets(buckets),
      next: 0,
      doneSending: false,
      peerDone: false,
      recordsSent: 0,
      bytesSent: 0,
      recordsReceived: this.earlyReconcileRecords,
      bytesReceived: this.earlyReconcileBytes,
    };
    this.pumpReconcile();
  }

  private async onRecords(seq: number, phase: RecordsPhase, records: readonly ReplicatedRecord[]): Promise<void> {
    let bytes = CHUNK_OVERHEAD_BYTES;
    for (const record of records) bytes += estimateRecordBytes(record);
    // Before hello (only with a reordering transport) the peer is whoever it was expected to be.
    const linkId = this.peerNodeId ?? this.options.expectedPeerNodeId ?? '';
    await this.hub.receive(linkId, records);
    if (this.phase === 'closed') return;
    this.counters.recordsReceived += records.length;
    this.counters.bytesReceived += bytes;
    if (phase === 'reconcile') {
      if (this.reconcile === undefined) {
        this.earlyReconcileRecords += records.length;
        this.earlyReconcileBytes += bytes;
      } else {
        this.reconcile.recordsReceived += records.length;
        this.reconcile.bytesReceived += bytes;
      }
    }
    this.emit({ type: 'ack', seq });
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

  /** Sends reconcile chunks while the window allows, then the 'reconciled' marker. */
  private pumpReconcile(): void {
    const r = this.reconcile;
    const outbox = this.outbox;
    if (r === undefined || outbox === undefined || r.doneSending || this.phase === 'closed') return;
    while (this.unacked.size < this.window && r.next < r.records.length) {
      const records: ReplicatedRecord[] = [];
      let bytes = CHUNK_OVERHEAD_BYTES;
      while (r.next < r.records.length) {
        const record = r.records[r.next] as ReplicatedRecord;
        const size = estimateRecordBytes(record);
        if (records.length > 0 && bytes + size > this.maxChunkBytes) break;
        records.push(record);
        bytes += size;
        r.next++;
      }
      const seq = outbox.allocateSeq();
      this.unacked.add(seq);
      this.reconcileUnacked.add(seq);
      r.recordsSent += records.length;
      r.bytesSent += bytes;
      this.countSent(records.length, bytes);
      this.emit({ type: 'records', seq, phase: 'reconcile', records });
    }
    if (r.next >= r.records.length) {
      r.doneSending = true;
      r.records = [];
      this.emit({ type: 'reconciled', recordsSent: r.recordsSent });
      if (this.pendingPeerDone) r.peerDone = true;
      this.maybeFinishReconciliation();
      // Deltas held back while reconciling go out now rather than at the next tick.
      if (outbox.pendingKeys > 0) this.flushDeltas();
    }
  }

  private maybeFinishReconciliation(): void {
    const r = this.reconcile;
    if (r === undefined || !r.doneSending || !r.peerDone || this.reconcileUnacked.size > 0 || this.phase !== 'reconciling') return;
    const now = this.hub.clock.nowMs();
    this.lastReconciliation = {
      atMs: r.startedAtMs,
      durationMs: now - r.startedAtMs,
      bucketsDiffering: r.bucketsDiffering,
      recordsSent: r.recordsSent,
      recordsReceived: r.recordsReceived,
      bytesSent: r.bytesSent,
      bytesReceived: r.bytesReceived,
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
      this.countSent(chunk.records.length, chunk.bytes);
      this.emit({ type: 'records', seq: chunk.seq, phase: 'delta', records: chunk.records });
      sent = true;
    }
    if (sent) this.lastFlushAtMs = this.hub.clock.nowMs();
    this.deltaBacklog = outbox.pendingKeys > 0;
  }

  private countSent(records: number, bytes: number): void {
    this.counters.recordsSent += records;
    this.counters.bytesSent += bytes;
  }

  private emit(message: MeshMessage): void {
    if (this.phase === 'closed') return;
    try {
      const result = this.send(message);
      if (result !== undefined) {
        result.catch((error: unknown) => {
          this.lastError = error instanceof Error ? error.message : String(error);
        });
      }
    } catch (error) {
      // The transport will notice the broken stream and close the session; un-acked chunks are requeued then.
      this.lastError = error instanceof Error ? error.message : String(error);
    }
  }
}

function allBuckets(count: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < count; b++) out.push(b);
  return out;
}
