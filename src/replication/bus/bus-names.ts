// Where a prefix's replicated rules live in NATS: one JetStream stream with one
// subject. The prefix is used verbatim, so "couic" and "Couic" are different clusters.

export interface BusNames {
  /** JetStream stream, e.g. "couic_rules". */
  readonly stream: string;
  /** Subject every batch is published on, e.g. "couic.rules". */
  readonly subject: string;
}

export function busNames(prefix: string): BusNames {
  return { stream: `${prefix}_rules`, subject: `${prefix}.rules` };
}

/** Message headers: who published a batch, and whether it is a delta or a compaction snapshot. */
export const BUS_HEADER_NODE = 'Couic-Node';
export const BUS_HEADER_KIND = 'Couic-Kind';
export type BusBatchKind = 'delta' | 'snapshot';
