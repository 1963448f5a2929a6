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
}

export interface DataPlane {
  readonly kind: 'userspace' | 'xdp';
  /** Applies a batch; rejects if the kernel (or equivalent) refused part of it. */
  apply(update: DataPlaneUpdate): Promise<void>;
  readCounters(): Promise<DataPlaneCounters>;
  close(): Promise<void>;
}
