// Fast path for decoding a bus batch (couic.v1.SyncRecords) straight into domain
// records: one pass over the bytes, no intermediate wire objects, repeated strings
// (origins, tags) decoded and checked once per batch. It accepts only what the
// mesh codec (mesh/record-codec.ts) accepts, with the same checks; anything it is
// not sure of (metadata, out-of-range numbers, a failed check) returns undefined
// and the caller decodes the batch the canonical way, which also names the bad field.
import { tryParseCidr, type Cidr } from '../../domain/cidr.js';
import type { Policy } from '../../domain/policy.js';
import type { ReplicatedRecord } from '../../domain/replicated-record.js';
import { checkTag } from '../../domain/validation.js';
import type { Version } from '../../domain/version.js';
import { checkNodeId } from '../../domain/node-id.js';

const MAX_COUNTER = 0xffff_ffff;
const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Thrown inside the reader to give up on the fast path: one instance made at load, so
 * a throw captures no stack (an Error still, as everything we throw is).
 */
class GiveUp extends Error {
  constructor() {
    super('bus batch fast path gave up');
    this.name = 'GiveUp';
  }
}
const GIVE_UP = new GiveUp();

/** Strings that repeat across a batch (origins, tags): decoded and validated once. */
class StringCache {
  private readonly values = new Map<string, string | undefined>();
  constructor(private readonly check: (value: string) => string | undefined) {}

  /** The string, or throws GIVE_UP when it fails the check. */
  valid(value: string): string {
    let verdict = this.values.get(value);
    if (verdict === undefined && !this.values.has(value)) {
      verdict = this.check(value);
      if (this.values.size < 256) this.values.set(value, verdict);
    }
    if (verdict !== undefined) throw GIVE_UP;
    return value;
  }
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  /** A varint as a number; gives up beyond 2^53 (no valid field needs more). */
  varint(): number {
    const buf = this.buf;
    let result = 0;
    let shift = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= buf.length) throw GIVE_UP;
      const b = buf[this.pos++] as number;
      result += (b & 0x7f) * shift;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw GIVE_UP;
        return result;
      }
      shift *= 128;
    }
    throw GIVE_UP;
  }

  string(): string {
    const len = this.varint();
    const end = this.pos + len;
    if (end > this.buf.length) throw GIVE_UP;
    const buf = this.buf;
    let ascii = '';
    if (len <= 64) {
      let i = this.pos;
      for (; i < end; i++) {
        const b = buf[i] as number;
        if (b >= 0x80) break;
        ascii += String.fromCharCode(b);
      }
      if (i === end) {
        this.pos = end;
        return ascii;
      }
    }
    const s = utf8.decode(buf.subarray(this.pos, end));
    this.pos = end;
    return s;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) {
      const len = this.varint(); // read before adding: `pos += varint()` would add to the old pos
      this.pos += len;
    }
    else if (wireType === 5) this.pos += 4;
    else throw GIVE_UP;
    if (this.pos > this.buf.length) throw GIVE_UP;
  }
}

interface Caches {
  readonly nodeIds: StringCache;
  readonly tags: StringCache;
}

/** The batch's records, or undefined when the canonical decoder must decide. */
export function readBatchFast(data: Uint8Array): ReplicatedRecord[] | undefined {
  const r = new Reader(data);
  const caches: Caches = { nodeIds: new StringCache(checkNodeId), tags: new StringCache(checkTag) };
  const out: ReplicatedRecord[] = [];
  try {
    while (r.pos < data.length) {
      const tag = r.varint();
      const field = Math.floor(tag / 8);
      const wireType = tag & 7;
      if (field === 3 && wireType === 2) {
        const len = r.varint();
        const end = r.pos + len;
        if (end > data.length) return undefined;
        out.push(readRecord(r, end, caches));
      } else {
        r.skip(wireType);
      }
    }
    return out;
  } catch (error) {
    if (error === GIVE_UP) return undefined;
    throw error;
  }
}

function readVersion(r: Reader, end: number, caches: Caches): Version {
  let wallMs = 0;
  let counter = 0;
  let origin = '';
  while (r.pos < end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 1 && wireType === 0) wallMs = r.varint();
    else if (field === 2 && wireType === 0) counter = r.varint();
    else if (field === 3 && wireType === 2) origin = r.string();
    else r.skip(wireType);
  }
  if (r.pos !== end || wallMs <= 0 || counter > MAX_COUNTER) throw GIVE_UP;
  return { wallMs, counter, origin: caches.nodeIds.valid(origin) };
}

function readRecord(r: Reader, end: number, caches: Caches): ReplicatedRecord {
  let policy = 0;
  let cidrText = '';
  let version: Version | undefined;
  let tombstone = false;
  let tag = '';
  let expiration = 0;
  let createdAt = 0;
  let originNode = '';
  let deletedExpiration = 0;
  while (r.pos < end) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    switch (field) {
      case 1:
        if (wireType !== 0) throw GIVE_UP;
        policy = r.varint();
        break;
      case 2:
        if (wireType !== 2) throw GIVE_UP;
        cidrText = r.string();
        break;
      case 3: {
        if (wireType !== 2) throw GIVE_UP;
        const len = r.varint();
        version = readVersion(r, r.pos + len, caches);
        break;
      }
      case 4:
        if (wireType !== 0) throw GIVE_UP;
        tombstone = r.varint() !== 0;
        break;
      case 5:
        if (wireType !== 2) throw GIVE_UP;
        tag = r.string();
        break;
      case 6:
        if (wireType !== 0) throw GIVE_UP;
        expiration = r.varint();
        break;
      case 7:
        if (wireType !== 0) throw GIVE_UP;
        createdAt = r.varint();
        break;
      case 8:
        if (wireType !== 2) throw GIVE_UP;
        originNode = r.string();
        break;
      case 9:
        // Metadata (a Struct inside): left to the canonical decoder.
        throw GIVE_UP;
      case 10:
        if (wireType !== 0) throw GIVE_UP;
        deletedExpiration = r.varint();
        break;
      default:
        r.skip(wireType);
    }
  }
  if (r.pos !== end || version === undefined) throw GIVE_UP;
  const domainPolicy: Policy = policy === 1 ? 'drop' : policy === 2 ? 'ignore' : giveUp();
  const cidr: Cidr | string = tryParseCidr(cidrText);
  if (typeof cidr === 'string') throw GIVE_UP;
  if (tombstone) {
    if (tag !== '' || expiration !== 0 || createdAt !== 0 || originNode !== '') throw GIVE_UP;
    return { kind: 'tombstone', policy: domainPolicy, cidr, version, deletedExpiration };
  }
  if (deletedExpiration !== 0) throw GIVE_UP;
  return {
    kind: 'live',
    entry: {
      policy: domainPolicy,
      cidr,
      tag: caches.tags.valid(tag),
      expiration,
      createdAt,
      originNode: caches.nodeIds.valid(originNode),
      source: 'peer',
      version,
    },
  };
}

function giveUp(): never {
  throw GIVE_UP;
}
