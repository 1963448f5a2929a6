// Per-bucket digests of the replicated state, kept incrementally from record
// changes, so that two nodes find which parts of their state differ by exchanging
// bucketCount 64-bit values (reconnect cost O(buckets + differences), not O(state)).
// A digest is the XOR of its records' hashes: order-independent, and it never
// looks at the current time, so nodes with skewed clocks still agree.
import { recordKey, type ReplicatedRecord } from '../../domain/replicated-record.js';
import type { RecordChange } from '../replica-store.js';

export const DEFAULT_BUCKET_COUNT = 4096;

const SEED_BUCKET = 0x2f6b_1c35;
const SEED_LO = 0x9747_b28c;
const SEED_HI = 0x5bd1_e995;
const TWO_POW_32 = 4294967296;

function mixWord(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Two independent murmur3-style 32-bit lanes fed the same words: a 64-bit hash without BigInt. */
class Hasher64 {
  lo = SEED_LO;
  hi = SEED_HI;

  reset(): this {
    this.lo = SEED_LO;
    this.hi = SEED_HI;
    return this;
  }

  word(w: number): void {
    this.lo = mixWord(this.lo, w);
    // The second lane sees a different transform of the same input, so the lanes do not correlate.
    this.hi = mixWord(this.hi, w ^ 0x7f4a7c15);
  }

  /** Integer up to 2^53, as two 32-bit words. */
  number(n: number): void {
    this.word(n >>> 0);
    this.word(Math.floor(n / TWO_POW_32) >>> 0);
  }

  /** Length-prefixed so ("ab","c") and ("a","bc") differ. */
  string(s: string): void {
    const length = s.length;
    this.word(length);
    let i = 0;
    for (; i + 1 < length; i += 2) this.word(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
    if (i < length) this.word(s.charCodeAt(i));
  }
}

/** One hasher reused by recordHash (single-threaded, never re-entered). */
const HASHER = new Hasher64();

/** Stable bucket of a key: a function of the key text only, identical on every node. */
export function bucketOfKey(key: string, bucketCount: number): number {
  let h = SEED_BUCKET;
  const length = key.length;
  for (let i = 0; i < length; i++) h = mixWord(h, key.charCodeAt(i));
  return finish(h ^ length) % bucketCount;
}

const SEED_KEY_LO = 0x1b87_3593;
const SEED_KEY_HI = 0x3c6e_f372;

/**
 * 64-bit identity of a key for the per-record summaries (independent of the bucket
 * hash): out[0] is the lookup hash, out[1] an independent check of the same key.
 */
export function keyId(key: string, out: Uint32Array): void {
  let lo = SEED_KEY_LO;
  let hi = SEED_KEY_HI;
  const length = key.length;
  for (let i = 0; i < length; i++) {
    const c = key.charCodeAt(i);
    lo = mixWord(lo, c);
    hi = mixWord(hi, c ^ 0x7f4a7c15);
  }
  out[0] = finish(lo ^ length);
  out[1] = finish(hi ^ length);
}

/**
 * One pass over the key `${policy} ${cidrText}` without building it: out[0] = its
 * bucket (= bucketOfKey), out[1], out[2] = its key id (= keyId).
 */
export function bucketAndKeyId(policy: string, cidrText: string, bucketCount: number, out: Uint32Array): void {
  let h = SEED_BUCKET;
  let lo = SEED_KEY_LO;
  let hi = SEED_KEY_HI;
  const length = policy.length + 1 + cidrText.length;
  for (let i = 0; i <= length - 1; i++) {
    const c = i < policy.length ? policy.charCodeAt(i) : i === policy.length ? 32 : cidrText.charCodeAt(i - policy.length - 1);
    h = mixWord(h, c);
    lo = mixWord(lo, c);
    hi = mixWord(hi, c ^ 0x7f4a7c15);
  }
  out[0] = finish(h ^ length) % bucketCount;
  out[1] = finish(lo ^ length);
  out[2] = finish(hi ^ length);
}

/**
 * 64-bit hash of what identifies a record's content: key, version, live/tombstone,
 * and tag + expiration (live) or the deleted entry's expiration (tombstone).
 * Written into out[0] (low 32 bits) and out[1] (high 32 bits).
 */
export function recordHash(record: ReplicatedRecord, out: Uint32Array, key: string = recordKey(record)): void {
  const h = HASHER.reset();
  h.string(key);
  hashContent(h, record, out);
}

/**
 * The bucket of `key` and the state of recordHash's lanes after the key, in one pass
 * over its characters (so a change's before and after records hash the key once):
 * out[0] = bucket (= bucketOfKey), out[1], out[2] = lanes (continued by recordHashAfterKey).
 */
function bucketAndKeyLanes(key: string, bucketCount: number, out: Uint32Array): void {
  let b = SEED_BUCKET;
  let lo = mixWord(SEED_LO, key.length);
  let hi = mixWord(SEED_HI, key.length ^ 0x7f4a7c15);
  const length = key.length;
  let i = 0;
  for (; i + 1 < length; i += 2) {
    const c0 = key.charCodeAt(i);
    const c1 = key.charCodeAt(i + 1);
    b = mixWord(mixWord(b, c0), c1);
    const w = c0 | (c1 << 16);
    lo = mixWord(lo, w);
    hi = mixWord(hi, w ^ 0x7f4a7c15);
  }
  if (i < length) {
    const c = key.charCodeAt(i);
    b = mixWord(b, c);
    lo = mixWord(lo, c);
    hi = mixWord(hi, c ^ 0x7f4a7c15);
  }
  out[0] = finish(b ^ length) % bucketCount;
  out[1] = lo;
  out[2] = hi;
}

/** recordHash of `record` whose key's lanes are `lanes[1]`, `lanes[2]` (see bucketAndKeyLanes). */
function recordHashAfterKey(record: ReplicatedRecord, lanes: Uint32Array, out: Uint32Array): void {
  const h = HASHER;
  h.lo = (lanes[1] ?? 0) | 0;
  h.hi = (lanes[2] ?? 0) | 0;
  hashContent(h, record, out);
}

function hashContent(h: Hasher64, record: ReplicatedRecord, out: Uint32Array): void {
  if (record.kind === 'live') {
    const { version, tag, expiration } = record.entry;
    h.word(1);
    h.number(version.wallMs);
    h.word(version.counter);
    h.string(version.origin);
    h.string(tag);
    h.number(expiration);
  } else {
    h.word(2);
    h.number(record.version.wallMs);
    h.word(record.version.counter);
    h.string(record.version.origin);
    h.number(record.deletedExpiration);
  }
  out[0] = finish(h.lo);
  out[1] = finish(h.hi);
}

export class BucketDigests {
  private readonly lo: Uint32Array;
  private readonly hi: Uint32Array;
  private readonly scratch = new Uint32Array(2);

  constructor(readonly bucketCount: number = DEFAULT_BUCKET_COUNT) {
    if (!Number.isInteger(bucketCount) || bucketCount < 1) throw new RangeError(`bucketCount must be a positive integer, got ${bucketCount}`);
    this.lo = new Uint32Array(bucketCount);
    this.hi = new Uint32Array(bucketCount);
  }

  static of(records: Iterable<ReplicatedRecord>, bucketCount: number = DEFAULT_BUCKET_COUNT): BucketDigests {
    const digests = new BucketDigests(bucketCount);
    for (const record of records) digests.add(record);
    return digests;
  }

  bucketOf(key: string): number {
    return bucketOfKey(key, this.bucketCount);
  }

  add(record: ReplicatedRecord): void {
    this.toggle(record);
  }

  /** XOR is its own inverse: removing is adding again. */
  remove(record: ReplicatedRecord): void {
    this.toggle(record);
  }

  apply(change: RecordChange): void {
    const { before, after } = change;
    const record = before ?? after;
    if (record === undefined) return;
    // Same key before and after: its characters are hashed once for the bucket and both records.
    const lanes = this.lanes;
    bucketAndKeyLanes(change.key ?? recordKey(record), this.bucketCount, lanes);
    const bucket = lanes[0] ?? 0;
    if (before !== undefined) this.toggleHashed(bucket, before);
    if (after !== undefined) this.toggleHashed(bucket, after);
  }

  private readonly lanes = new Uint32Array(3);

  private toggleHashed(bucket: number, record: ReplicatedRecord): void {
    recordHashAfterKey(record, this.lanes, this.scratch);
    this.lo[bucket] = (this.lo[bucket] ?? 0) ^ (this.scratch[0] ?? 0);
    this.hi[bucket] = (this.hi[bucket] ?? 0) ^ (this.scratch[1] ?? 0);
  }

  /** The digest of one bucket. */
  digest(bucket: number): bigint {
    return (BigInt(this.hi[bucket] ?? 0) << 32n) | BigInt(this.lo[bucket] ?? 0);
  }

  all(): BigUint64Array {
    const out = new BigUint64Array(this.bucketCount);
    for (let b = 0; b < this.bucketCount; b++) out[b] = this.digest(b);
    return out;
  }

  /** Buckets whose digest differs from `other`'s; every bucket when the counts differ. */
  differing(other: BigUint64Array): number[] {
    const result: number[] = [];
    if (other.length !== this.bucketCount) {
      for (let b = 0; b < this.bucketCount; b++) result.push(b);
      return result;
    }
    for (let b = 0; b < this.bucketCount; b++) {
      if (other[b] !== this.digest(b)) result.push(b);
    }
    return result;
  }

  private toggle(record: ReplicatedRecord): void {
    // One pass over the key for its bucket and the record's hash (hub start digests every record).
    bucketAndKeyLanes(recordKey(record), this.bucketCount, this.lanes);
    this.toggleHashed(this.lanes[0] ?? 0, record);
  }
}
