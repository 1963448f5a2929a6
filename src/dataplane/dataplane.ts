// The data-plane interface the rule store drives. The userspace implementation is
// the embedded default; the XDP one (bpf/ + libbpf binding) plugs in behind it.
import type { Cidr } from '../domain/cidr.js';
import type { Policy } from '../domain/policy.js';

export interface DataPlaneRule {
  readonly policy: Policy;
  readonly cidr: Cidr;
  /** Tag whose counters the rule's hits feed ('' = untagged). */
  readonly tag: string;
}

export interface DataPlaneKey {
  readonly policy: Policy;
  readonly cidr: Cidr;
}

/** One batch of changes; removals are applied before upserts. */
export interface DataPlaneUpdate {
  readonly upserts: readonly DataPlaneRule[];
  readonly removals: readonly DataPlaneKey[];
}

export const XDP_ACTIONS = ['ABORTED', 'DROP', 'PASS', 'TX', 'REDIRECT'] as const;
export type XdpActionName = (typeof XDP_ACTIONS)[number];

export interface TrafficCounter {
  packets: number;
  bytes: number;
}

export interface DataPlaneCounters {
  readonly actions: Readonly<Record<XdpActionName, TrafficCounter>>;
  readonly tags: Readonly<Record<Policy, ReadonlyMap<string, TrafficCounter>>>;
  /** Rules accepted but not enforced yet: the kernel refused their writes, retried (absent: none possible). */
  readonly pendingEnforcement?: number;
}

/** A rule of a batch that stands (the store keeps it) but whose enforcement is pending. */
export interface PendingEnforcement {
  readonly policy: Policy;
  readonly cidr: Cidr;
  /** Why, e.g. "map update: out of memory (ENOMEM)". */
  readonly reason: string;
}



export interface DataPlane {
  readonly kind: 'userspace' | 'xdp';
  /**
   * Applies a batch. A write the kernel refuses does not reject: the rule stands,
   * its enforcement is pending (reported in the outcome and the counters, retried).
   * Rejects only when the data plane itself fails.
   */
  apply(update: DataPlaneUpdate): Promise<void>;
  /** The rules whose enforcement is pending now (optional: a data plane that cannot refuse has none). */
  pendingEnforcement?(): readonly PendingEnforcement[];
  readCounters(): Promise<DataPlaneCounters>;
  close(): Promise<void>;
}
