// The seam between the bus link and NATS: one JetStream stream seen as a numbered
// log of batches. The link only ever needs these six operations, so it runs the
// same against JetStream (jetstream-bus-stream.ts) and against the in-memory
// stream of the unit tests and the simulation (memory-bus-stream.ts), which can
// lose, stall, purge and reorder.
import type { BusBatchKind } from './bus-names.js';

export interface BusStreamInfo {
  /** Creation time of this incarnation of the stream (a recreated stream differs). */
  readonly created: string;
  /** First sequence still held (last + 1 when empty); it moves when the stream is purged. */
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly messages: number;
  readonly bytes: number;
}

export interface BusMessage {
  readonly seq: number;
  readonly data: Uint8Array;
  /** Publishing node ('' when the header is missing). */
  readonly node: string;
  readonly kind: BusBatchKind;
}

/** Delivers messages from a start sequence, each about once; the consumer checks the sequences. */
export interface BusStreamReader {
  /** Delivered messages not taken yet (the reader asks for more once they are taken). */
  take(): BusMessage[];
  readonly queued: number;
  /** Set when the reader stopped delivering for good (the consumer replaces it). */
  readonly brokenReason: string | undefined;
  /** True when it should be delivering and has heard nothing for too long. */
  silent(): boolean;
  readonly name: string;
  close(): void;
}

/** One session with the stream (one connection): every call may reject when it ends. */
export interface BusStream {
  /** Largest message the server accepts. */
  readonly maxPayload: number;
  /** Where the session is connected (for the log). */
  readonly server: string;
  info(): Promise<BusStreamInfo>;
  /** Resolves with the message's stream sequence once it is stored (acked). */
  publish(data: Uint8Array, node: string, kind: BusBatchKind): Promise<number>;
  /** The message at `seq`, or undefined when it is not held (purged, never written). */
  get(seq: number): Promise<BusMessage | undefined>;
  /** Removes every message before `beforeSeq`; resolves with how many went. */
  purge(beforeSeq: number): Promise<number>;
  /** A reader from `fromSeq`; `notify` is called whenever it has something to say. */
  read(fromSeq: number, notify: () => void): Promise<BusStreamReader>;
  /** Resolves when the session ends, with the reason (undefined: closed by us). */
  closed(): Promise<Error | undefined>;
  close(): Promise<void>;
}

/** Opens a session: connects and makes sure the stream exists. */
export type BusStreamOpener = () => Promise<BusStream>;
