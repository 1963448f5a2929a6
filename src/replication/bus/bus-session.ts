// One connection's worth of bus state. Everything started on a session (publishes,
// the consumer, a compaction) checks `ended` after each await and stops quietly
// once a newer session took over.
import type { BusStream } from './bus-stream.js';

/** Room left in a message for the headers. */
const HEADERS_MARGIN_BYTES = 4_096;

export class BusSession {
  /** Stream sequences of deltas this session published: skipped (not decoded) when read back. */
  readonly ownSeqs = new Set<number>();
  /** The consumer (if any) has applied everything the stream held when the session began. */
  caughtUp: boolean;
  private endedFlag = false;
  private readonly endListeners = new Set<() => void>();

  constructor(
    readonly stream: BusStream,
    consumes: boolean,
  ) {
    this.caughtUp = !consumes;
  }

  /** Largest batch to encode for this server. */
  batchBytes(maxChunkBytes: number): number {
    return Math.min(maxChunkBytes, this.stream.maxPayload - HEADERS_MARGIN_BYTES);
  }

  get ended(): boolean {
    return this.endedFlag;
  }

  /** Marks the session over (the link does, once its connection closed) and tells whoever waits on it. */
  end(): void {
    if (this.endedFlag) return;
    this.endedFlag = true;
    for (const listener of [...this.endListeners]) listener();
    this.endListeners.clear();
  }

  /** Calls fn when the session ends; returns the cancel function. */
  onEnd(fn: () => void): () => void {
    this.endListeners.add(fn);
    return () => this.endListeners.delete(fn);
  }

  /** Ends the session from inside (a failed publish or read): the link then starts a new one. */
  fail(): void {
    void this.stream.close().catch(() => undefined);
  }
}
