// A filtering rule as the node holds it.
import type { Cidr } from './cidr.js';
import type { Policy } from './policy.js';
import type { Version } from './version.js';

export type EntrySource = 'api' | 'set' | 'peer';

export interface EntryMetadata {
  kind: string;
  detail: string;
  /** Free-form JSON object, for reporting only. */
  extra?: Record<string, unknown>;
}

export interface RuleEntry {
  readonly policy: Policy;
  readonly cidr: Cidr;
  /** '' = no tag; set entries carry "<set>.couic". */
  readonly tag: string;
  /** Absolute UNIX seconds; 0 = never. */
  readonly expiration: number;
  /** UNIX seconds. */
  readonly createdAt: number;
  readonly originNode: string;
  readonly source: EntrySource;
  readonly metadata?: EntryMetadata;
  /** Version of the write that produced this dynamic entry (set entries have none). */
  readonly version?: Version;
}

/** Store key: the same CIDR may exist once per policy. */
export function ruleKey(policy: Policy, cidr: Cidr): string {
  return `${policy} ${cidr.text}`;
}

export function isExpired(entry: Pick<RuleEntry, 'expiration'>, nowSeconds: number): boolean {
  return entry.expiration !== 0 && entry.expiration <= nowSeconds;
}
