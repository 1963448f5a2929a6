// Record builders shared by the replication unit tests and the simulation.
import { parseCidr } from '../../../src/domain/cidr.js';
import type { Policy } from '../../../src/domain/policy.js';
import type { LiveRecord, ReplicatedRecord, TombstoneRecord } from '../../../src/domain/replicated-record.js';
import type { Version } from '../../../src/domain/version.js';

export function v(wallMs: number, counter = 0, origin = 'a'): Version {
  return { wallMs, counter, origin };
}

export function live(cidr: string, version: Version, opts: { policy?: Policy; tag?: string; expiration?: number } = {}): LiveRecord {
  return {
    kind: 'live',
    entry: {
      policy: opts.policy ?? 'drop',
      cidr: parseCidr(cidr),
      tag: opts.tag ?? '',
      expiration: opts.expiration ?? 0,
      createdAt: Math.floor(version.wallMs / 1000),
      originNode: version.origin,
      source: 'api',
      version,
    },
  };
}

export function tomb(cidr: string, version: Version, opts: { policy?: Policy; deletedExpiration?: number } = {}): TombstoneRecord {
  return { kind: 'tombstone', policy: opts.policy ?? 'drop', cidr: parseCidr(cidr), version, deletedExpiration: opts.deletedExpiration ?? 0 };
}

/** A comparable summary of a record (what replication must preserve). */
export function describe(record: ReplicatedRecord): string {
  if (record.kind === 'live') {
    const e = record.entry;
    return `${e.policy} ${e.cidr.text} live ${e.version.wallMs}.${e.version.counter}@${e.version.origin} tag=${e.tag} exp=${e.expiration}`;
  }
  return `${record.policy} ${record.cidr.text} tomb ${record.version.wallMs}.${record.version.counter}@${record.version.origin} del=${record.deletedExpiration}`;
}

export function describeAll(records: Iterable<ReplicatedRecord>): string[] {
  return [...records].map(describe).sort();
}

/** Small deterministic PRNG (mulberry32) for simulations driven by a fast-check seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
