// The unit of replication: the latest write for one key (policy, cidr), either a live
// entry or a tombstone, with its version. Merge keeps the greater version; that is
// the whole conflict rule. Expiry is data: an expired live record stays a record
// (same digest everywhere) until garbage collection, never turns into a delete.
import type { Cidr } from './cidr.js';
import { ruleKey, type RuleEntry } from './entry.js';
import type { Policy } from './policy.js';
import { compareVersions, type Version } from './version.js';

/** A dynamic entry with the version of the write that produced it. */
export type VersionedEntry = RuleEntry & { readonly version: Version };

export interface LiveRecord {
  readonly kind: 'live';
  readonly entry: VersionedEntry;
}

export interface TombstoneRecord {
  readonly kind: 'tombstone';
  readonly policy: Policy;
  readonly cidr: Cidr;
  readonly version: Version;
  /** Expiration (UNIX s, 0 = never) of the entry it deleted: the tombstone outlives it. */
  readonly deletedExpiration: number;
}

export type ReplicatedRecord = LiveRecord | TombstoneRecord;

export function recordVersion(record: ReplicatedRecord): Version {
  return record.kind === 'live' ? record.entry.version : record.version;
}

export function recordPolicy(record: ReplicatedRecord): Policy {
  return record.kind === 'live' ? record.entry.policy : record.policy;
}

export function recordCidr(record: ReplicatedRecord): Cidr {
  return record.kind === 'live' ? record.entry.cidr : record.cidr;
}

/** Store/replication key, the same as ruleKey(): "drop 10.0.0.0/8". */
export function recordKey(record: ReplicatedRecord): string {
  return ruleKey(recordPolicy(record), recordCidr(record));
}

/** Last writer wins: the record with the greater version (a on a tie: same version = same write). */
export function newerRecord(a: ReplicatedRecord, b: ReplicatedRecord): ReplicatedRecord {
  return compareVersions(recordVersion(b), recordVersion(a)) > 0 ? b : a;
}

/** True when `incoming` would replace `current` (absent current: always). */
export function supersedes(incoming: ReplicatedRecord, current: ReplicatedRecord | undefined): boolean {
  return current === undefined || compareVersions(recordVersion(incoming), recordVersion(current)) > 0;
}

/**
 * When a record may be forgotten: it can no longer matter once the rule it describes
 * has expired (live) or the entry it deleted would have expired (tombstone), plus the
 * tombstone lifetime, which bounds the outages healed exactly. Live entries that never
 * expire are never collected. Depends on the record only, so all nodes agree.
 */
export function collectableAfterMs(record: ReplicatedRecord, tombstoneLifetimeMs: number): number {
  if (record.kind === 'live') {
    return record.entry.expiration === 0 ? Number.POSITIVE_INFINITY : record.entry.expiration * 1000 + tombstoneLifetimeMs;
  }
  const deletedUntil = record.deletedExpiration === 0 ? 0 : record.deletedExpiration * 1000;
  return Math.max(deletedUntil, record.version.wallMs) + tombstoneLifetimeMs;
}
