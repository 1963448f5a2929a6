// The store's rule table: one slot per key (binary key, see domain/rule-key.ts), the
// attributes of the key's dynamic record and of its static-set entry in typed-array
// columns indexed by slot, tags and node ids interned, and the rare metadata in a side
// map. RuleEntry / ReplicatedRecord objects are built from a slot on demand (API
// answers, replication messages, logs) and never held per rule.
import type { Cidr } from '../domain/cidr.js';
import type { EntryMetadata, EntrySource, RuleEntry } from '../domain/entry.js';
import { Interner } from '../domain/interner.js';
import { KeyIndex } from '../domain/key-index.js';
import type { Policy } from '../domain/policy.js';
import type { ReplicatedRecord, VersionedEntry } from '../domain/replicated-record.js';
import { cidrOfKey, encodeCidrKey, keyFamily, KEY_BYTES, KEY_WORDS, keyPolicyCode, keyPrefixLength, policyOfCode, textKeyOf } from '../domain/rule-key.js';
import type { Version } from '../domain/version.js';

/** The slot holds a dynamic (replicated) record. */
export const F_DYNAMIC = 1;
/** ... and that record is a tombstone. */
export const F_TOMBSTONE = 2;
/** ... and it is a live entry enforced (in the effective state; unexpired at the last sweep). */
export const F_ENFORCED = 4;
/** The slot holds a static-set entry. */
export const F_SET = 8;

const SOURCES: readonly EntrySource[] = ['api', 'set', 'peer'];
const SOURCE_CODE: Record<EntrySource, number> = { api: 0, set: 1, peer: 2 };

export class RecordTable {
  readonly index = new KeyIndex();
  readonly tags = new Interner();
  readonly nodes = new Interner();
  readonly metadata = new Map<number, EntryMetadata>();
  flags = new Uint8Array(0);
  /** Dynamic record: version. */
  wallMs = new Float64Array(0);
  counter = new Uint32Array(0);
  versionOrigin = new Uint32Array(0);
  /** Live: its fields. Tombstone: expiration = the deleted entry's expiration. */
  tag = new Uint32Array(0);
  expiration = new Float64Array(0);
  createdAt = new Float64Array(0);
  originNode = new Uint32Array(0);
  source = new Uint8Array(0);
  /** Static-set entry. */
  setTag = new Uint32Array(0);
  setCreatedAt = new Float64Array(0);
  /**
   * Per-batch mark: the batch index that last named the slot. Valid only when the
   * batch's own slot list confirms it (isMarked), so it never needs clearing.
   */
  markIndex = new Int32Array(0);
  /** Scratch key (one per table, never re-entered). */
  readonly scratch = new Uint32Array(KEY_WORDS);
  private readonly scratchBytes = new Uint8Array(this.scratch.buffer);

  constructor() {
    this.index.onGrow = (capacity) => this.grow(capacity);
    this.grow(this.index.capacity);
  }

  /** True when `slot` was marked by an earlier item of the batch whose slots (so far) are `slots[0..count)`. */
  isMarked(slot: number, slots: ArrayLike<number>, count: number): boolean {
    const at = this.markIndex[slot] ?? -1;
    return at >= 0 && at < count && slots[at] === slot;
  }

  get highWater(): number {
    return this.index.highWater;
  }

  /** Slot of (policy, cidr), or -1. */
  find(policy: Policy, cidr: Cidr): number {
    encodeCidrKey(policy, cidr, this.scratchBytes);
    return this.index.find(this.scratch);
  }

  /** Slot of the key already in `scratch`, or -1. */
  findScratch(): number {
    return this.index.find(this.scratch);
  }

  get scratchKey(): Uint8Array {
    return this.scratchBytes;
  }

  /** Slot of (policy, cidr), created empty (flags 0) when absent: see freeIfEmpty. */
  ensure(policy: Policy, cidr: Cidr): number {
    encodeCidrKey(policy, cidr, this.scratchBytes);
    const slot = this.index.insert(this.scratch);
    if (this.index.created) this.flags[slot] = 0;
    return slot;
  }

  /** Frees a slot that holds nothing (anymore). */
  freeIfEmpty(slot: number): void {
    if (this.flags[slot] === 0) this.index.remove(slot);
  }

  has(slot: number, flag: number): boolean {
    return ((this.flags[slot] ?? 0) & flag) !== 0;
  }

  policy(slot: number): Policy {
    return policyOfCode(keyPolicyCode(this.index.keyBytes, slot * KEY_BYTES));
  }

  family(slot: number): 4 | 6 {
    return keyFamily(this.index.keyBytes, slot * KEY_BYTES);
  }

  prefixLength(slot: number): number {
    return keyPrefixLength(this.index.keyBytes, slot * KEY_BYTES);
  }

  cidr(slot: number): Cidr {
    return cidrOfKey(this.index.keyBytes, slot * KEY_BYTES);
  }

  /** "drop 10.0.0.0/8" (ruleKey / recordKey). */
  textKey(slot: number): string {
    return textKeyOf(this.index.keyBytes, slot * KEY_BYTES);
  }

  // --- dynamic record ----------------------------------------------------

  setLive(slot: number, entry: VersionedEntry, enforced: boolean): void {
    const v = entry.version;
    const origin = this.nodes.acquire(v.origin);
    const tag = this.tags.acquire(entry.tag);
    const node = this.nodes.acquire(entry.originNode);
    this.setLiveFields(slot, v.wallMs, v.counter, origin, tag, entry.expiration, entry.createdAt, node, SOURCE_CODE[entry.source], entry.metadata, enforced);
  }

  /** setLive from decoded fields; the tag and node ids are references the slot now holds. */
  setLiveFields(
    slot: number,
    wallMs: number,
    counter: number,
    versionOrigin: number,
    tag: number,
    expiration: number,
    createdAt: number,
    originNode: number,
    source: number,
    metadata: EntryMetadata | undefined,
    enforced: boolean,
  ): void {
    this.releaseDynamic(slot);
    this.wallMs[slot] = wallMs;
    this.counter[slot] = counter;
    this.versionOrigin[slot] = versionOrigin;
    this.tag[slot] = tag;
    this.expiration[slot] = expiration;
    this.createdAt[slot] = createdAt;
    this.originNode[slot] = originNode;
    this.source[slot] = source;
    if (metadata !== undefined) this.metadata.set(slot, metadata);
    this.flags[slot] = ((this.flags[slot] ?? 0) & F_SET) | F_DYNAMIC | (enforced ? F_ENFORCED : 0);
  }

  setTombstone(slot: number, version: Version, deletedExpiration: number): void {
    this.setTombstoneFields(slot, version.wallMs, version.counter, this.nodes.acquire(version.origin), deletedExpiration);
  }

  setTombstoneFields(slot: number, wallMs: number, counter: number, versionOrigin: number, deletedExpiration: number): void {
    this.releaseDynamic(slot);
    this.wallMs[slot] = wallMs;
    this.counter[slot] = counter;
    this.versionOrigin[slot] = versionOrigin;
    this.expiration[slot] = deletedExpiration;
    this.flags[slot] = ((this.flags[slot] ?? 0) & F_SET) | F_DYNAMIC | F_TOMBSTONE;
  }

  /** Slot of the key in `scratch`, created empty when absent (see ensure). */
  ensureScratch(): number {
    const slot = this.index.insert(this.scratch);
    if (this.index.created) this.flags[slot] = 0;
    return slot;
  }

  /** Stores `record` as the slot's dormant (not enforced) record. */
  setDormant(slot: number, record: ReplicatedRecord): void {
    if (record.kind === 'live') this.setLive(slot, record.entry, false);
    else this.setTombstone(slot, record.version, record.deletedExpiration);
  }

  setEnforced(slot: number, enforced: boolean): void {
    const flags = this.flags[slot] ?? 0;
    this.flags[slot] = enforced ? flags | F_ENFORCED : flags & ~F_ENFORCED;
  }

  /** Forgets the dynamic record (the slot may still hold a set entry). */
  clearDynamic(slot: number): void {
    this.releaseDynamic(slot);
    this.flags[slot] = (this.flags[slot] ?? 0) & F_SET;
  }

  private releaseDynamic(slot: number): void {
    const flags = this.flags[slot] ?? 0;
    if ((flags & F_DYNAMIC) === 0 || (flags & F_TOMBSTONE) !== 0) return;
    this.tags.release(this.tag[slot] ?? 0);
    this.tag[slot] = 0;
    this.metadata.delete(slot);
  }

  version(slot: number): Version {
    return { wallMs: this.wallMs[slot] ?? 0, counter: this.counter[slot] ?? 0, origin: this.nodes.text(this.versionOrigin[slot] ?? 0) };
  }

  /** compareVersions(v, version of the slot's dynamic record), without building it. */
  compareToSlot(v: Version, slot: number): number {
    const wall = this.wallMs[slot] ?? 0;
    if (v.wallMs !== wall) return v.wallMs < wall ? -1 : 1;
    const counter = this.counter[slot] ?? 0;
    if (v.counter !== counter) return v.counter < counter ? -1 : 1;
    const origin = this.nodes.text(this.versionOrigin[slot] ?? 0);
    if (v.origin === origin) return 0;
    return v.origin < origin ? -1 : 1;
  }

  /** The slot's dynamic entry (live record), as an object. */
  dynamicEntry(slot: number, cidr: Cidr = this.cidr(slot)): VersionedEntry {
    const metadata = this.metadata.get(slot);
    const entry: VersionedEntry = {
      policy: this.policy(slot),
      cidr,
      tag: this.tags.text(this.tag[slot] ?? 0),
      expiration: this.expiration[slot] ?? 0,
      createdAt: this.createdAt[slot] ?? 0,
      originNode: this.nodes.text(this.originNode[slot] ?? 0),
      source: SOURCES[this.source[slot] ?? 0] ?? 'api',
      version: this.version(slot),
    };
    return metadata === undefined ? entry : { ...entry, metadata };
  }

  /** The slot's dynamic record (call only when F_DYNAMIC is set). */
  record(slot: number, cidr: Cidr = this.cidr(slot)): ReplicatedRecord {
    if (this.has(slot, F_TOMBSTONE)) {
      return {
        kind: 'tombstone',
        policy: this.policy(slot),
        cidr,
        version: this.version(slot),
        deletedExpiration: this.expiration[slot] ?? 0,
      };
    }
    return { kind: 'live', entry: this.dynamicEntry(slot, cidr) };
  }

  /** collectableAfterMs() of the slot's dynamic record. */
  collectableAfterMs(slot: number, tombstoneLifetimeMs: number): number {
    const expiration = this.expiration[slot] ?? 0;
    if (!this.has(slot, F_TOMBSTONE)) return expiration === 0 ? Number.POSITIVE_INFINITY : expiration * 1000 + tombstoneLifetimeMs;
    return Math.max(expiration * 1000, this.wallMs[slot] ?? 0) + tombstoneLifetimeMs;
  }

  // --- static-set entry --------------------------------------------------

  setSetEntry(slot: number, tag: string, createdAt: number): void {
    if (this.has(slot, F_SET)) this.tags.release(this.setTag[slot] ?? 0);
    this.setTag[slot] = this.tags.acquire(tag);
    this.setCreatedAt[slot] = createdAt;
    this.flags[slot] = (this.flags[slot] ?? 0) | F_SET;
  }

  clearSetEntry(slot: number): void {
    if (!this.has(slot, F_SET)) return;
    this.tags.release(this.setTag[slot] ?? 0);
    this.setTag[slot] = 0;
    this.flags[slot] = (this.flags[slot] ?? 0) & ~F_SET;
  }

  setEntry(slot: number, cidr: Cidr = this.cidr(slot)): RuleEntry {
    return {
      policy: this.policy(slot),
      cidr,
      tag: this.tags.text(this.setTag[slot] ?? 0),
      expiration: 0,
      createdAt: this.setCreatedAt[slot] ?? 0,
      originNode: '',
      source: 'set',
    };
  }

  /** Tag id of the effective entry (set, else dynamic). */
  effectiveTagId(slot: number): number {
    return this.has(slot, F_SET) ? (this.setTag[slot] ?? 0) : (this.tag[slot] ?? 0);
  }

  private grow(capacity: number): void {
    this.flags = grown(this.flags, new Uint8Array(capacity));
    this.wallMs = grown(this.wallMs, new Float64Array(capacity));
    this.counter = grown(this.counter, new Uint32Array(capacity));
    this.versionOrigin = grown(this.versionOrigin, new Uint32Array(capacity));
    this.tag = grown(this.tag, new Uint32Array(capacity));
    this.expiration = grown(this.expiration, new Float64Array(capacity));
    this.createdAt = grown(this.createdAt, new Float64Array(capacity));
    this.originNode = grown(this.originNode, new Uint32Array(capacity));
    this.source = grown(this.source, new Uint8Array(capacity));
    this.setTag = grown(this.setTag, new Uint32Array(capacity));
    this.setCreatedAt = grown(this.setCreatedAt, new Float64Array(capacity));
    this.markIndex = grown(this.markIndex, new Int32Array(capacity));
  }
}

function grown<T extends Uint8Array | Uint32Array | Int32Array | Float64Array>(old: T, next: T): T {
  (next as Uint8Array).set(old as Uint8Array);
  return next;
}
