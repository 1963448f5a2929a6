// The second level of reconciliation: for each bucket whose digests differ, both
// sides describe their records compactly (64-bit key id + exact version), and each
// sends only the records the other lacks or holds in an older version. So 100
// differing rules cost about 100 records, and when everything differs each record
// crosses once (only the newer side sends it). Whenever a comparison is not certain
// (a key id seen twice on one side, the lookup hash matching with another check
// hash), the record is sent: merging is idempotent, a needless record only costs bytes.
import { recordCidr, recordPolicy, recordVersion, type ReplicatedRecord } from '../../domain/replicated-record.js';
import { bucketAndKeyId } from './bucket-digests.js';

/** Per-record summaries of whole buckets, columnar (the entries of buckets[i] follow those of buckets[i-1]). */
export interface SummaryBlock {
  readonly buckets: readonly number[];
  readonly counts: readonly number[];
  /** Lookup hash of the key (masked by the session's key bits). */
  readonly keyLo: readonly number[];
  /** Independent check hash of the same key. */
  readonly keyHi: readonly number[];
  readonly wallMs: readonly number[];
  readonly counter: readonly number[];
  /** Index into `origins`. */
  readonly origin: readonly number[];
  readonly origins: readonly string[];
}

/** One bucket's records as this side saw them when reconciliation started, with their key ids. */
export interface BucketRecords {
  readonly records: ReplicatedRecord[];
  readonly keyLo: number[];
  readonly keyHi: number[];
}

/** Wire-size estimate of one entry (8 key id + 6 wall ms + counter and origin varints). */
export const SUMMARY_ENTRY_BYTES = 16;

/**
 * One pass over `records`: those whose bucket is wanted, grouped by bucket with their
 * key ids. `keyMask` shrinks the lookup hash (tests force collisions with it).
 */
export function groupByBucket(
  records: Iterable<ReplicatedRecord>,
  bucketCount: number,
  wanted: ReadonlySet<number> | 'all',
  keyMask: number,
): Map<number, BucketRecords> {
  const out = new Map<number, BucketRecords>();
  if (wanted !== 'all') for (const b of wanted) out.set(b, { records: [], keyLo: [], keyHi: [] });
  const hashes = new Uint32Array(3);
  for (const record of records) {
    bucketAndKeyId(recordPolicy(record), recordCidr(record).text, bucketCount, hashes);
    const bucket = hashes[0] as number;
    let group = out.get(bucket);
    if (group === undefined) {
      if (wanted !== 'all') continue;
      group = { records: [], keyLo: [], keyHi: [] };
      out.set(bucket, group);
    }
    group.records.push(record);
    group.keyLo.push(((hashes[1] as number) & keyMask) >>> 0);
    group.keyHi.push(hashes[2] as number);
  }
  return out;
}

/** Accumulates buckets into summary blocks of bounded estimated size. */
export class SummaryWriter {
  private buckets: number[] = [];
  private counts: number[] = [];
  private keyLo: number[] = [];
  private keyHi: number[] = [];
  private wallMs: number[] = [];
  private counter: number[] = [];
  private origin: number[] = [];
  private origins: string[] = [];
  private originIndex = new Map<string, number>();
  private lastOrigin: string | undefined;
  private lastOriginIndex = 0;
  private bytes = 0;

  /** Estimated encoded size of what is held. */
  get estimatedBytes(): number {
    return this.bytes;
  }

  get bucketCount(): number {
    return this.buckets.length;
  }

  add(bucket: number, group: BucketRecords): void {
    this.buckets.push(bucket);
    this.counts.push(group.records.length);
    this.bytes += 8;
    for (let i = 0; i < group.records.length; i++) {
      const version = recordVersion(group.records[i] as ReplicatedRecord);
      // Runs of records from one origin are the rule: a string compare instead of a map lookup.
      let index = version.origin === this.lastOrigin ? this.lastOriginIndex : this.originIndex.get(version.origin);
      if (index === undefined) {
        index = this.origins.length;
        this.origins.push(version.origin);
        this.originIndex.set(version.origin, index);
        this.bytes += version.origin.length + 2;
      }
      this.lastOrigin = version.origin;
      this.lastOriginIndex = index;
      this.keyLo.push(group.keyLo[i] as number);
      this.keyHi.push(group.keyHi[i] as number);
      this.wallMs.push(version.wallMs);
      this.counter.push(version.counter);
      this.origin.push(index);
    }
    this.bytes += group.records.length * SUMMARY_ENTRY_BYTES;
  }

  /** The block of everything added since the last take. */
  take(): SummaryBlock {
    const block: SummaryBlock = {
      buckets: this.buckets,
      counts: this.counts,
      keyLo: this.keyLo,
      keyHi: this.keyHi,
      wallMs: this.wallMs,
      counter: this.counter,
      origin: this.origin,
      origins: this.origins,
    };
    this.buckets = [];
    this.counts = [];
    this.keyLo = [];
    this.keyHi = [];
    this.wallMs = [];
    this.counter = [];
    this.origin = [];
    this.origins = [];
    this.originIndex = new Map();
    this.lastOrigin = undefined;
    this.bytes = 0;
    return block;
  }
}

/** Marks a lookup hash seen more than once on one side: every record under it is sent. */
const AMBIGUOUS = -1;

/**
 * Appends to `out` the records of `mine` that the peer, described by entries
 * [start, start + count) of `block`, lacks or holds in an older version.
 */
export function recordsToSend(mine: BucketRecords, block: SummaryBlock, start: number, count: number, out: ReplicatedRecord[]): void {
  const peer = new Map<number, number>();
  for (let i = start; i < start + count; i++) {
    const lo = block.keyLo[i] as number;
    peer.set(lo, peer.has(lo) ? AMBIGUOUS : i);
  }
  let ownDuplicates: Set<number> | undefined;
  if (mine.records.length > 1) {
    const seen = new Set<number>();
    for (const lo of mine.keyLo) {
      if (seen.has(lo)) (ownDuplicates ??= new Set()).add(lo);
      else seen.add(lo);
    }
  }
  for (let i = 0; i < mine.records.length; i++) {
    const record = mine.records[i] as ReplicatedRecord;
    const lo = mine.keyLo[i] as number;
    const at = peer.get(lo);
    if (at === undefined || at === AMBIGUOUS || ownDuplicates?.has(lo) === true || block.keyHi[at] !== mine.keyHi[i]) {
      out.push(record);
      continue;
    }
    if (isNewer(record, block, at)) out.push(record);
  }
}

/** True when `record`'s version is greater than the version of entry `at` (equal versions = the same write). */
function isNewer(record: ReplicatedRecord, block: SummaryBlock, at: number): boolean {
  const v = recordVersion(record);
  const wallMs = block.wallMs[at] as number;
  if (v.wallMs !== wallMs) return v.wallMs > wallMs;
  const counter = block.counter[at] as number;
  if (v.counter !== counter) return v.counter > counter;
  const origin = block.origins[block.origin[at] as number] as string;
  return v.origin > origin;
}
