// What `couicctl peers list` (and the ListPeers RPC behind it) shows for each
// replication link: a mesh peer or the NATS bus. Filled by the transports.

export type LinkKind = 'peer' | 'bus';

export type LinkState = 'connected' | 'connecting' | 'backoff' | 'standby' | 'disabled';

export interface ReconciliationSummary {
  readonly atMs: number;
  readonly durationMs: number;
  /** Buckets whose digests differed (0 = already in sync). */
  readonly bucketsDiffering: number;
  readonly recordsSent: number;
  readonly recordsReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

export interface LinkStatus {
  readonly kind: LinkKind;
  /** Configured address: "host:port" of a peer, or the bus servers joined by ",". */
  readonly address: string;
  /** Remote node id once known (peers only). */
  readonly nodeId?: string;
  readonly state: LinkState;
  /** When `state` was entered (ms since epoch). */
  readonly sinceMs: number;
  readonly lastError?: string;
  readonly lastErrorAtMs?: number;
  /** Distinct keys waiting to be sent (coalesced deltas). */
  readonly pendingDeltas: number;
  readonly lastFlushAtMs?: number;
  readonly lastReconciliation?: ReconciliationSummary;
  readonly recordsSent: number;
  readonly recordsReceived: number;
  /** Records refused for a version beyond the clock offset bound (mesh peers). */
  readonly recordsRefused?: number;
  /** Messages that could not be sent (each ended the link) (mesh peers). */
  readonly sendFailures?: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

/** Implemented by the mesh manager and the bus link. */
export interface LinkStatusSource {
  linkStatuses(): readonly LinkStatus[];
}
