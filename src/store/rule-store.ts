// The node's rule store: the single owner of rule state. Two layers per key:
// dynamic entries (API, peers; journaled) and static-set entries (from files; never
// journaled). The effective entry of a key is the set entry when there is one, else
// the dynamic one; only effective entries reach the data plane and count against
// map capacity. Mutations are synchronous in memory (so reads see them at once),
// then made durable and pushed to the data plane before the call resolves.
//
// Dynamic entries are also the node's replicated records (ReplicaStore): every write
// carries a hybrid-clock version, deletes leave tombstones, and entries that expire
// stay as (dormant) records until garbage collection, so nodes compare equal state
// whatever their clocks say and an older write from a peer never wins.
//
// Layout: a facade over the record table (record-table.ts: one slot per binary key,
// attributes in typed-array columns), the effective index (effective-index.ts: counts,
// capacity, prefix lengths for longest-prefix match over the same key index) and the
// commit pipeline (listeners, journal, data plane; see commit()). Objects (RuleEntry,
// ReplicatedRecord) are built from slots only where callers need them.
import type { Address, AddressFamily, Cidr } from '../domain/cidr.js';
import { tryParseCidr } from '../domain/cidr.js';
import { nowSeconds, type Clock } from '../domain/clock.js';
import type { RuleEntry } from '../domain/entry.js';
import {
  collectableAfterMs,
  type LiveRecord,
  type ReplicatedRecord,
  type TombstoneRecord,
  type VersionedEntry,
} from '../domain/replicated-record.js';
import { encodePrefixKey, KEY_BYTES, policyCode } from '../domain/rule-key.js';
import type { EntryMetadata } from '../domain/entry.js';
import { checkKey, parseMetadata, SOURCES, TYPE_TOMBSTONE } from './binary-codec.js';
import type { RawRecordTarget } from './binary-journal.js';
import { HybridClock } from '../domain/version.js';
import type { RecordChange, RecordChangeOrigin, RecordListener, ReplicaStore } from './replica-store.js';
import {
  CapacityExceededError,
  FailedPreconditionError,
  NotFoundError,
  type FieldViolation,
} from '../domain/errors.js';
import { CAPACITY_PER_FAMILY, isPolicy, POLICIES, type Policy } from '../domain/policy.js';
import type { DataPlane, DataPlaneKey, DataPlaneRule, DataPlaneUpdate } from '../dataplane/dataplane.js';
import { EffectiveIndex } from './effective-index.js';
import type { PersistedChange, RulePersistence } from './persistence.js';
import { F_DYNAMIC, F_ENFORCED, F_SET, RecordTable } from './record-table.js';
import { SlotExpiryQueue } from './slot-expiry-queue.js';
import { compileTagFilter } from './tag-filter.js';

/** Default time a tombstone (or an expired entry's record) outlives what it describes. */
export const DEFAULT_TOMBSTONE_LIFETIME_MS = 24 * 60 * 60 * 1000;

export interface RuleStoreOptions {
  readonly clock: Clock;
  readonly dataPlane: DataPlane;
  readonly persistence?: RulePersistence;
  readonly capacityPerFamily?: Readonly<Record<Policy, number>>;
  /** Stamps local writes and observes restored/remote versions; default: a clock for node "local". */
  readonly hlc?: HybridClock;
  /** How long records of deleted or expired rules are kept (see collectableAfterMs). */
  readonly tombstoneLifetimeMs?: number;
}

export interface RuleKeyInput {
  readonly policy: Policy;
  readonly cidr: Cidr;
}

export interface ListFilter {
  readonly policy?: Policy;
  readonly tagPatterns?: readonly string[];
  readonly includeSets?: boolean;
}

export type Verdict = 'pass' | 'drop';

export interface CheckResult {
  readonly verdict: Verdict;
  readonly decisive?: RuleEntry | undefined;
  readonly dropMatch?: RuleEntry | undefined;
  readonly ignoreMatch?: RuleEntry | undefined;
}

/** A change of the effective state of one key, as observers (replication, watch) see it. */
export type StoreChange =
  | { readonly type: 'put'; readonly entry: RuleEntry }
  | { readonly type: 'delete'; readonly entry: RuleEntry; readonly reason: 'deleted' | 'expired' };

export type StoreListener = (changes: readonly StoreChange[]) => void;

/** Static-set changes for one policy. */
export interface SetEntriesDelta {
  readonly policy: Policy;
  readonly upserts: readonly { readonly cidr: Cidr; readonly tag: string }[];
  readonly removals: readonly Cidr[];
}

type Counts = Record<Policy, Record<AddressFamily, number>>;

/** Data-plane upserts per call when a restore hands over the whole state. */
const RESTORE_CHUNK = 8_192;

/** What a slot contributes to the effective state. */
const NONE = 0;
const DYNAMIC = 1;
const SET = 2;
type Layer = typeof DYNAMIC | typeof SET;

export class RuleStore implements ReplicaStore {
  private readonly table = new RecordTable();
  private readonly effective = new EffectiveIndex();
  /** (expiration, slot) of enforced entries; stale items are re-checked when due. */
  private readonly expiry = new SlotExpiryQueue();
  private enforcedCount = 0;
  private readonly listeners: StoreListener[] = [];
  private readonly recordListeners: RecordListener[] = [];
  private readonly capacity: Readonly<Record<Policy, number>>;
  /** Shared with the replication hub, which observes remote versions through mergeRemote. */
  readonly hlc: HybridClock;
  private readonly tombstoneLifetimeMs: number;
  /** The transaction of a restore in progress (restoreBatch). */
  private restoring: Transaction | undefined;
  /** Data-plane batches are applied strictly in order. */
  private dataPlaneChain: Promise<void> = Promise.resolve();

  constructor(private readonly options: RuleStoreOptions) {
    this.capacity = options.capacityPerFamily ?? CAPACITY_PER_FAMILY;
    this.hlc = options.hlc ?? new HybridClock(options.clock, 'local');
    this.tombstoneLifetimeMs = options.tombstoneLifetimeMs ?? DEFAULT_TOMBSTONE_LIFETIME_MS;
  }

  onChange(listener: StoreListener): void {
    this.listeners.push(listener);
  }

  onRecordChange(listener: RecordListener): void {
    this.recordListeners.push(listener);
  }

  /**
   * Loads persisted records at start (no journaling, data plane updated). Records that
   * are already collectable are left out; the clock moves past every restored version.
   */
  async restore(records: Iterable<ReplicatedRecord>): Promise<void> {
    this.restoreBatch(records);
    await this.finishRestore();
  }

  /**
   * restore() in pieces, for a persistence that streams what it loads: records in load
   * order (a later record of a key supersedes an earlier one, whatever the versions),
   * then finishRestore() once. Nothing is journaled; the data plane is updated at the end.
   */
  restoreBatch(records: Iterable<ReplicatedRecord>): void {
    const nowMs = this.options.clock.nowMs();
    const now = Math.floor(nowMs / 1000);
    const tx = (this.restoring ??= new Transaction('local', false, true));
    const table = this.table;
    for (const record of records) {
      this.hlc.observe(record.kind === 'live' ? record.entry.version : record.version);
      const policy = record.kind === 'live' ? record.entry.policy : record.policy;
      const cidr = record.kind === 'live' ? record.entry.cidr : record.cidr;
      if (collectableAfterMs(record, this.tombstoneLifetimeMs) <= nowMs) {
        // Supersedes (and so forgets) what an earlier record of the key said.
        const slot = table.find(policy, cidr);
        if (slot >= 0 && table.has(slot, F_DYNAMIC)) {
          if (table.has(slot, F_ENFORCED)) this.removeDynamic(slot, tx, 'deleted');
          table.clearDynamic(slot);
          table.freeIfEmpty(slot);
        }
        continue;
      }
      const slot = table.ensure(policy, cidr);
      if (record.kind === 'live' && !expired(record.entry.expiration, now)) {
        this.putDynamic(slot, record.entry, tx);
      } else {
        if (table.has(slot, F_ENFORCED)) this.removeDynamic(slot, tx, 'deleted');
        table.setDormant(slot, record);
      }
    }
  }

  /**
   * restoreBatch for one record payload of the binary format (binary-codec.ts), read
   * straight into the table's columns: no object per record. Returns why the payload is
   * invalid (nothing applied), or undefined. For JournalPersistence.load(sink, raw).
   */
  readonly rawRestore: RawRecordTarget = { raw: (buf, start, length) => this.restoreFrame(buf, start, length) };

  private restoreFrame(buf: Buffer, start: number, length: number): string | undefined {
    const end = start + length;
    const type = buf[start];
    let at = start + 1;
    if (at + KEY_BYTES + 16 > end) return 'record is cut short';
    const keyProblem = checkKey(buf, at);
    if (keyProblem !== undefined) return keyProblem;
    const table = this.table;
    const key = table.scratchKey;
    for (let i = 0; i < KEY_BYTES; i++) key[i] = buf[at + i] ?? 0;
    at += KEY_BYTES;
    const wallMs = buf.readDoubleLE(at);
    const counter = buf.readUInt32LE(at + 8);
    at += 12;
    const origin = this.rawStrings[0] as RawStringCache;
    at = origin.read(buf, at, end);
    if (at < 0) return 'record is cut short';
    if (!isWhole(wallMs)) return 'version wall ms must be a non-negative whole number';
    let expiration: number;
    let createdAt = 0;
    let source = 0;
    const tag = this.rawStrings[1] as RawStringCache;
    const node = this.rawStrings[2] as RawStringCache;
    let metadata: EntryMetadata | undefined;
    if (type === TYPE_TOMBSTONE) {
      if (at + 8 !== end) return 'record has the wrong length';
      expiration = buf.readDoubleLE(at);
    } else {
      if (at + 17 > end) return 'record is cut short';
      expiration = buf.readDoubleLE(at);
      createdAt = buf.readDoubleLE(at + 8);
      source = buf[at + 16] ?? 255;
      at = tag.read(buf, at + 17, end);
      if (at >= 0) at = node.read(buf, at, end);
      if (at < 0 || at >= end) return 'record is cut short';
      const hasMetadata = buf[at++];
      if (hasMetadata !== 0) {
        if (at + 4 > end) return 'record is cut short';
        const size = buf.readUInt32LE(at);
        if (at + 4 + size !== end) return 'record has the wrong length';
        const parsed = parseMetadata(buf.toString('utf8', at + 4, end));
        if (typeof parsed === 'string') return parsed;
        metadata = parsed;
      } else if (at !== end) return 'record has the wrong length';
      if (source >= SOURCES.length || !isWhole(createdAt)) return 'bad source or createdAt';
    }
    if (!isWhole(expiration)) return 'expiration must be a non-negative whole number';
    // The clock moves past the greatest version restored (observed once, at the end).
    if (wallMs > this.restoreMaxWallMs || (wallMs === this.restoreMaxWallMs && counter > this.restoreMaxCounter)) {
      this.restoreMaxWallMs = wallMs;
      this.restoreMaxCounter = counter;
    }
    const nowMs = this.options.clock.nowMs();
    const tx = (this.restoring ??= new Transaction('local', false, true));
    const collectableAt =
      type === TYPE_TOMBSTONE
        ? Math.max(expiration * 1000, wallMs) + this.tombstoneLifetimeMs
        : expiration === 0
          ? Number.POSITIVE_INFINITY
          : expiration * 1000 + this.tombstoneLifetimeMs;
    if (collectableAt <= nowMs) {
      const slot = table.findScratch();
      if (slot >= 0 && table.has(slot, F_DYNAMIC)) {
        if (table.has(slot, F_ENFORCED)) this.removeDynamic(slot, tx, 'deleted');
        table.clearDynamic(slot);
        table.freeIfEmpty(slot);
      }
      return undefined;
    }
    const slot = table.ensureScratch();
    const originId = table.nodes.acquire(origin.text);
    if (type === TYPE_TOMBSTONE) {
      if (table.has(slot, F_ENFORCED)) this.removeDynamic(slot, tx, 'deleted');
      table.setTombstoneFields(slot, wallMs, counter, originId, expiration);
      return undefined;
    }
    const enforce = !expired(expiration, Math.floor(nowMs / 1000));
    const before = this.layerOf(slot);
    if (!enforce && table.has(slot, F_ENFORCED)) this.removeDynamic(slot, tx, 'deleted');
    if (enforce && !table.has(slot, F_ENFORCED)) this.enforcedCount++;
    const tagId = table.tags.acquire(tag.text);
    table.setLiveFields(slot, wallMs, counter, originId, tagId, expiration, createdAt, table.nodes.acquire(node.text), source, metadata, enforce);
    if (!enforce) return undefined;
    if (expiration !== 0) {
      this.expiry.push(expiration, slot);
      if (this.expiry.size > 2 * this.enforcedCount + 4_096) this.rebuildExpiry();
    }
    this.updateEffective(slot, before, undefined, DYNAMIC, tx);
    return undefined;
  }

  /** Last string read per field of raw records: tags and node ids repeat, so most reads build no string. */
  private readonly rawStrings = [new RawStringCache(), new RawStringCache(), new RawStringCache()];
  private restoreMaxWallMs = 0;
  private restoreMaxCounter = 0;

  async finishRestore(): Promise<void> {
    const tx = this.restoring;
    this.restoring = undefined;
    if (tx === undefined) return;
    this.hlc.observe({ wallMs: this.restoreMaxWallMs, counter: this.restoreMaxCounter, origin: '' });
    await this.commit(tx, []);
    // The whole effective state to the data plane, in chunks: each chunk's objects die young.
    const table = this.table;
    let upserts: DataPlaneRule[] = [];
    for (let slot = 0; slot < table.highWater; slot++) {
      if (this.layerOf(slot) === NONE) continue;
      upserts.push({ policy: table.policy(slot), cidr: table.cidr(slot), tag: table.tags.text(table.effectiveTagId(slot)) });
      if (upserts.length >= RESTORE_CHUNK) {
        await this.applyToDataPlane({ upserts, removals: [] });
        upserts = [];
      }
    }
    if (upserts.length > 0) await this.applyToDataPlane({ upserts, removals: [] });
  }

  private applyToDataPlane(update: DataPlaneUpdate): Promise<void> {
    const applied = this.dataPlaneChain.then(() => this.options.dataPlane.apply(update));
    // Keep the chain alive after a failure; the caller still sees the rejection.
    this.dataPlaneChain = applied.catch(() => undefined);
    return applied;
  }

  /**
   * Adds or replaces dynamic entries (already validated). All-or-nothing: a key held by
   * a static set, or a batch that would overflow a map, changes nothing.
   */
  async addRules(entries: readonly RuleEntry[]): Promise<{ added: number; replaced: number }> {
    this.sweepExpired();
    const table = this.table;
    const slots = new Int32Array(entries.length);
    const versions = new Array<VersionedEntry['version']>(entries.length);
    const violations: FieldViolation[] = [];
    const extra: Counts = { drop: { 4: 0, 6: 0 }, ignore: { 4: 0, 6: 0 } };
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index] as RuleEntry;
      versions[index] = this.hlc.next();
      const slot = table.ensure(entry.policy, entry.cidr);
      slots[index] = slot;
      if (table.has(slot, F_SET)) {
        violations.push({
          field: entries.length === 1 ? 'cidr' : `rules[${index}].cidr`,
          message: `${entry.policy} ${entry.cidr.text} belongs to static set "${table.tags.text(table.setTag[slot] ?? 0)}"; edit the set instead`,
        });
      }
      if (!table.isMarked(slot, slots, index) && !table.has(slot, F_ENFORCED | F_SET)) extra[entry.policy][entry.cidr.family]++;
      // A later duplicate of the key wins.
      table.markIndex[slot] = index;
    }
    try {
      if (violations.length > 0) {
        throw new FailedPreconditionError(violations.map((v) => `${v.field}: ${v.message}`).join('; '));
      }
      this.checkCounts(extra);
    } catch (err) {
      for (const slot of slots) table.freeIfEmpty(slot);
      throw err;
    }
    const tx = new Transaction('local', this.listeners.length > 0);
    const persisted: PersistedChange[] = [];
    let added = 0;
    let replaced = 0;
    // In order of each key's first occurrence, with its last occurrence's entry (as a Map would).
    for (let index = 0; index < entries.length; index++) {
      const slot = slots[index] ?? 0;
      const last = table.markIndex[slot] ?? -1;
      if (last < 0) continue;
      table.markIndex[slot] = -1;
      if (table.has(slot, F_ENFORCED)) replaced++;
      else added++;
      const entry: VersionedEntry = { ...(entries[last] as RuleEntry), version: versions[last] as VersionedEntry['version'] };
      const record: LiveRecord = { kind: 'live', entry };
      tx.records.push(this.recordChange(slot, record, entry.cidr));
      this.putDynamic(slot, entry, tx);
      persisted.push(record);
    }
    versions.length = 0;
    await this.commit(tx, persisted, true);
    return { added, replaced };
  }

  /** Deletes dynamic entries. All-or-nothing: unknown keys or set-only keys change nothing. */
  async deleteRules(keys: readonly RuleKeyInput[]): Promise<RuleEntry[]> {
    this.sweepExpired();
    const table = this.table;
    const now = this.now();
    const notFound: FieldViolation[] = [];
    const setOwned: string[] = [];
    const targets: number[] = [];
    const targetCidrs: Cidr[] = [];
    keys.forEach((k, index) => {
      const slot = table.find(k.policy, k.cidr);
      if (slot >= 0 && table.has(slot, F_ENFORCED) && !expired(table.expiration[slot] ?? 0, now)) {
        if (!table.isMarked(slot, targets, targets.length)) {
          table.markIndex[slot] = targets.length;
          targets.push(slot);
          targetCidrs.push(k.cidr);
        }
        return;
      }
      const field = keys.length === 1 ? 'cidr' : `keys[${index}].cidr`;
      if (slot >= 0 && table.has(slot, F_SET)) {
        const setTag = table.tags.text(table.setTag[slot] ?? 0);
        setOwned.push(`${field}: ${k.policy} ${k.cidr.text} belongs to static set "${setTag}" and cannot be deleted through the API`);
      } else {
        notFound.push({ field, message: `no ${k.policy} rule for ${k.cidr.text}` });
      }
    });
    if (setOwned.length > 0) throw new FailedPreconditionError(setOwned.join('; '));
    if (notFound.length > 0) {
      throw new NotFoundError(notFound.map((v) => (keys.length === 1 ? v.message : `${v.field}: ${v.message}`)).join('; '));
    }
    const tx = new Transaction('local', this.listeners.length > 0);
    const persisted: PersistedChange[] = [];
    const removed: RuleEntry[] = [];
    for (let i = 0; i < targets.length; i++) {
      const slot = targets[i] ?? 0;
      const entry = table.dynamicEntry(slot, targetCidrs[i]);
      const tombstone: TombstoneRecord = {
        kind: 'tombstone',
        policy: entry.policy,
        cidr: entry.cidr,
        version: this.hlc.next(),
        deletedExpiration: entry.expiration,
      };
      tx.records.push({ key: `${entry.policy} ${entry.cidr.text}`, before: { kind: 'live', entry }, after: tombstone });
      this.removeDynamic(slot, tx, 'deleted', entry.cidr);
      table.setTombstone(slot, tombstone.version, tombstone.deletedExpiration);
      persisted.push(tombstone);
      removed.push(entry);
    }
    await this.commit(tx, persisted, true);
    return removed;
  }

  /**
   * Merges records from peers or the bus: last writer wins by version. Records older
   * than (or equal to) what the node holds, or already collectable, change nothing.
   * Capacity is enforced where rules enter the cluster (the API), not here: refusing a
   * replicated record would make nodes disagree forever.
   */
  async mergeRemote(records: readonly ReplicatedRecord[]): Promise<readonly ReplicatedRecord[]> {
    this.sweepExpired();
    const table = this.table;
    const nowMs = this.options.clock.nowMs();
    const now = Math.floor(nowMs / 1000);
    const tx = new Transaction('remote', this.listeners.length > 0);
    const changed: ReplicatedRecord[] = [];
    for (const incoming of records) {
      const version = incoming.kind === 'live' ? incoming.entry.version : incoming.version;
      this.hlc.observe(version);
      if (collectableAfterMs(incoming, this.tombstoneLifetimeMs) <= nowMs) continue;
      const slot = incoming.kind === 'live' ? table.ensure(incoming.entry.policy, incoming.entry.cidr) : table.ensure(incoming.policy, incoming.cidr);
      if (table.has(slot, F_DYNAMIC) && table.compareToSlot(version, slot) <= 0) continue;
      const record = incoming.kind === 'live' ? this.asReceived(incoming) : incoming;
      const cidr = record.kind === 'live' ? record.entry.cidr : record.cidr;
      tx.records.push(this.recordChange(slot, record, cidr));
      changed.push(record);
      if (record.kind === 'live' && !expired(record.entry.expiration, now)) {
        this.putDynamic(slot, record.entry, tx);
        continue;
      }
      if (table.has(slot, F_ENFORCED)) this.removeDynamic(slot, tx, record.kind === 'live' ? 'expired' : 'deleted', cidr);
      table.setDormant(slot, record);
    }
    await this.commit(tx, changed);
    return changed;
  }

  /** Every replicated record: live entries (expired ones included until collected) and tombstones. */
  *records(): Generator<ReplicatedRecord> {
    const table = this.table;
    for (let slot = 0; slot < table.highWater; slot++) {
      if (table.has(slot, F_DYNAMIC)) yield table.record(slot);
    }
  }

  /** Number of replicated records held (live, expired-not-collected, tombstones). */
  get recordCount(): number {
    let n = 0;
    const table = this.table;
    for (let slot = 0; slot < table.highWater; slot++) if (table.has(slot, F_DYNAMIC)) n++;
    return n;
  }

  recordOf(key: string): ReplicatedRecord | undefined {
    const space = key.indexOf(' ');
    const policy = key.slice(0, space);
    if (space < 0 || !isPolicy(policy)) return undefined;
    const cidr = tryParseCidr(key.slice(space + 1));
    if (typeof cidr === 'string') return undefined;
    const slot = this.table.find(policy, cidr);
    return slot >= 0 && this.table.has(slot, F_DYNAMIC) ? this.table.record(slot) : undefined;
  }

  /** Forgets dormant records that can no longer matter (not journaled: load drops them again). */
  collectGarbage(nowMs: number): number {
    this.sweepExpired();
    const table = this.table;
    const collected: RecordChange[] = [];
    for (let slot = 0; slot < table.highWater; slot++) {
      const flags = table.flags[slot] ?? 0;
      if ((flags & F_DYNAMIC) === 0 || (flags & F_ENFORCED) !== 0) continue;
      if (table.collectableAfterMs(slot, this.tombstoneLifetimeMs) > nowMs) continue;
      collected.push({ key: table.textKey(slot), before: table.record(slot) });
      table.clearDynamic(slot);
      table.freeIfEmpty(slot);
    }
    if (collected.length > 0) this.emitRecords(collected, 'gc');
    return collected.length;
  }

  /** The effective entry for a key, unless expired. */
  get(policy: Policy, cidr: Cidr): RuleEntry | undefined {
    const slot = this.table.find(policy, cidr);
    if (slot < 0) return undefined;
    return this.liveEffectiveEntry(slot, this.now());
  }

  /** Effective, unexpired entries matching the filter, in chunks (for streaming). */
  *list(filter: ListFilter = {}, chunkSize = 5_000): Generator<RuleEntry[]> {
    const now = this.now();
    const table = this.table;
    const tagMatches = compileTagFilter(filter.tagPatterns ?? []);
    const tagVerdicts = new Map<number, boolean>();
    const policies = filter.policy === undefined ? POLICIES : [filter.policy];
    let chunk: RuleEntry[] = [];
    for (const policy of policies) {
      const code = policyCode(policy);
      for (const family of [4, 6] as const) {
        for (let slot = 0; slot < table.highWater; slot++) {
          const flags = table.flags[slot] ?? 0;
          if ((flags & (F_SET | F_ENFORCED)) === 0) continue;
          if (table.index.keyBytes[slot * KEY_BYTES] !== code || table.family(slot) !== family) continue;
          const isSet = (flags & F_SET) !== 0;
          if (isSet && filter.includeSets !== true) continue;
          if (!isSet && expired(table.expiration[slot] ?? 0, now)) continue;
          const tagId = table.effectiveTagId(slot);
          let matches = tagVerdicts.get(tagId);
          if (matches === undefined) {
            matches = tagMatches(table.tags.text(tagId));
            tagVerdicts.set(tagId, matches);
          }
          if (!matches) continue;
          chunk.push(isSet ? table.setEntry(slot) : table.dynamicEntry(slot));
          if (chunk.length >= chunkSize) {
            yield chunk;
            chunk = [];
          }
        }
      }
    }
    if (chunk.length > 0) yield chunk;
  }

  /** Which rule decides the fate of a packet from `address`: ignore beats drop. */
  check(address: Address): CheckResult {
    const now = this.now();
    const ignoreMatch = this.longestMatch('ignore', address, now);
    const dropMatch = this.longestMatch('drop', address, now);
    if (ignoreMatch !== undefined) return { verdict: 'pass', decisive: ignoreMatch, ignoreMatch, dropMatch };
    if (dropMatch !== undefined) return { verdict: 'drop', decisive: dropMatch, dropMatch };
    return { verdict: 'pass' };
  }

  /** Effective entry counts per policy (all families), expired-but-unswept included. */
  countByPolicy(): Record<Policy, number> {
    const e = this.effective;
    return { drop: e.count('drop', 4) + e.count('drop', 6), ignore: e.count('ignore', 4) + e.count('ignore', 6) };
  }

  /** Enforced dynamic entries; includes not-yet-swept expired ones. */
  *dynamicEntries(): Generator<VersionedEntry> {
    const table = this.table;
    for (let slot = 0; slot < table.highWater; slot++) if (table.has(slot, F_ENFORCED)) yield table.dynamicEntry(slot);
  }

  /** Removes entries whose expiration has passed; returns how many effective entries changed. */
  sweepExpired(): number {
    const now = this.now();
    if (this.expiry.peek() > now) return 0;
    const table = this.table;
    const tx = new Transaction('local', this.listeners.length > 0);
    let changed = 0;
    while (this.expiry.size > 0 && this.expiry.peek() <= now) {
      const slot = this.expiry.pop();
      // Replaced since with another expiry (it has its own item), or already gone.
      if (!table.has(slot, F_ENFORCED) || !expired(table.expiration[slot] ?? 0, now)) continue;
      if (this.removeDynamic(slot, tx, 'expired')) changed++;
      // Still the key's record (same version, same digest on every node) until collected.
    }
    // Expiry is not journaled (nor replicated): every node expires entries by itself.
    void this.commit(tx, []).catch(() => undefined);
    return changed;
  }

  /**
   * Applies static-set changes (computed by sets/set-diff.ts): `upserts` create or
   * re-tag set entries, `removals` drop them. Capacity is checked for the whole
   * request first, so either everything applies or nothing does.
   */
  async applySetDeltas(deltas: readonly SetEntriesDelta[]): Promise<void> {
    this.sweepExpired();
    const table = this.table;
    const now = this.now();
    const upsertSlots: number[] = [];
    const upsertTags: string[] = [];
    const upsertCidrs: Cidr[] = [];
    const extra: Counts = { drop: { 4: 0, 6: 0 }, ignore: { 4: 0, 6: 0 } };
    for (const { policy, upserts } of deltas) {
      for (const { cidr, tag } of upserts) {
        const slot = table.ensure(policy, cidr);
        if (!table.isMarked(slot, upsertSlots, upsertSlots.length) && !table.has(slot, F_ENFORCED | F_SET)) extra[policy][cidr.family]++;
        table.markIndex[slot] = upsertSlots.length;
        upsertSlots.push(slot);
        upsertTags.push(tag);
        upsertCidrs.push(cidr);
      }
    }
    const removalSlots = new Map<number, Cidr>();
    for (const { policy, removals } of deltas) {
      for (const cidr of removals) {
        const slot = table.find(policy, cidr);
        if (slot < 0 || removalSlots.has(slot)) continue;
        removalSlots.set(slot, cidr);
        const upserted = table.isMarked(slot, upsertSlots, upsertSlots.length);
        if (table.has(slot, F_SET) && !table.has(slot, F_ENFORCED) && !upserted) extra[policy][cidr.family]--;
      }
    }
    try {
      this.checkCounts(extra);
    } catch (err) {
      for (const slot of upsertSlots) table.freeIfEmpty(slot);
      throw err;
    }
    const tx = new Transaction('local', this.listeners.length > 0);
    for (const [slot, cidr] of removalSlots) this.replaceSetEntry(slot, undefined, now, tx, cidr);
    for (let i = 0; i < upsertSlots.length; i++) {
      const slot = upsertSlots[i] ?? 0;
      const last = table.markIndex[slot] ?? -1;
      if (last < 0) continue;
      table.markIndex[slot] = -1;
      this.replaceSetEntry(slot, upsertTags[last] ?? '', now, tx, upsertCidrs[last]);
    }
    for (const slot of removalSlots.keys()) table.freeIfEmpty(slot);
    await this.commit(tx, []);
  }

  /** Waits for pending data-plane batches (used at shutdown and by tests). */
  async settle(): Promise<void> {
    await this.dataPlaneChain;
  }

  // --- internals -----------------------------------------------------------

  private now(): number {
    return nowSeconds(this.options.clock);
  }

  private checkCounts(extra: Counts): void {
    for (const policy of POLICIES) {
      for (const family of [4, 6] as const) {
        const want = extra[policy][family];
        const used = this.effective.count(policy, family);
        if (want > 0 && used + want > this.capacity[policy]) {
          throw new CapacityExceededError(
            `${policy} IPv${family} map is full: ${used} of ${this.capacity[policy]} entries used, ` +
              `this request adds ${want}; nothing was applied`,
          );
        }
      }
    }
  }

  private layerOf(slot: number): number {
    const flags = this.table.flags[slot] ?? 0;
    if ((flags & F_SET) !== 0) return SET;
    return (flags & F_ENFORCED) !== 0 ? DYNAMIC : NONE;
  }

  private effectiveEntryOf(slot: number, layer: number): RuleEntry | undefined {
    if (layer === SET) return this.table.setEntry(slot);
    if (layer === DYNAMIC) return this.table.dynamicEntry(slot);
    return undefined;
  }

  private liveEffectiveEntry(slot: number, now: number): RuleEntry | undefined {
    const layer = this.layerOf(slot);
    if (layer === SET) return this.table.setEntry(slot);
    if (layer === DYNAMIC && !expired(this.table.expiration[slot] ?? 0, now)) return this.table.dynamicEntry(slot);
    return undefined;
  }

  private longestMatch(policy: Policy, address: Address, now: number): RuleEntry | undefined {
    const table = this.table;
    const code = policyCode(policy);
    for (const length of this.effective.lengths(policy, address.family)) {
      encodePrefixKey(code, address.family, address.bytes, length, table.scratchKey);
      const slot = table.findScratch();
      if (slot < 0) continue;
      const entry = this.liveEffectiveEntry(slot, now);
      if (entry !== undefined) return entry;
    }
    return undefined;
  }

  /** The change of the slot's record to `after`; `cidr` is the slot's (at hand, so not rebuilt from the key). */
  private recordChange(slot: number, after: ReplicatedRecord, cidr: Cidr): RecordChange {
    const key = `${this.table.policy(slot)} ${cidr.text}`;
    return this.table.has(slot, F_DYNAMIC) ? { key, before: this.table.record(slot, cidr), after } : { key, after };
  }

  /** A live record as this node keeps it: written elsewhere = source "peer". */
  private asReceived(record: LiveRecord): LiveRecord {
    const { entry } = record;
    const source = entry.version.origin === this.hlc.nodeId ? 'api' : 'peer';
    return entry.source === source ? record : { kind: 'live', entry: { ...entry, source } };
  }

  private putDynamic(slot: number, entry: VersionedEntry, tx: Transaction): void {
    const table = this.table;
    const before = this.layerOf(slot);
    const beforeEntry = tx.observed ? this.effectiveEntryOf(slot, before) : undefined;
    if (!table.has(slot, F_ENFORCED)) this.enforcedCount++;
    table.setLive(slot, entry, true);
    if (entry.expiration !== 0) {
      this.expiry.push(entry.expiration, slot);
      // Replacements leave stale items behind; rebuild before they outnumber live ones.
      if (this.expiry.size > 2 * this.enforcedCount + 4_096) this.rebuildExpiry();
    }
    this.updateEffective(slot, before, beforeEntry, DYNAMIC, tx, undefined, entry.cidr);
  }

  private rebuildExpiry(): void {
    this.expiry.clear();
    const table = this.table;
    for (let slot = 0; slot < table.highWater; slot++) {
      const expiration = table.expiration[slot] ?? 0;
      if (table.has(slot, F_ENFORCED) && expiration !== 0) this.expiry.push(expiration, slot);
    }
  }

  /** Stops enforcing the slot's dynamic entry (its record stays, dormant). True when the effective state changed. */
  private removeDynamic(slot: number, tx: Transaction, reason: 'deleted' | 'expired', cidr?: Cidr): boolean {
    const before = this.layerOf(slot);
    const beforeEntry = tx.observed ? this.effectiveEntryOf(slot, before) : undefined;
    this.table.setEnforced(slot, false);
    this.enforcedCount--;
    return this.updateEffective(slot, before, beforeEntry, DYNAMIC, tx, reason === 'expired' ? reason : undefined, cidr);
  }

  private replaceSetEntry(slot: number, tag: string | undefined, now: number, tx: Transaction, cidr?: Cidr): void {
    const table = this.table;
    const before = this.layerOf(slot);
    const beforeEntry = tx.observed ? this.effectiveEntryOf(slot, before) : undefined;
    if (tag === undefined) {
      if (!table.has(slot, F_SET)) return;
      table.clearSetEntry(slot);
    } else {
      table.setSetEntry(slot, tag, table.has(slot, F_SET) ? (table.setCreatedAt[slot] ?? now) : now);
    }
    this.updateEffective(slot, before, beforeEntry, SET, tx, undefined, cidr);
  }

  /**
   * Folds a slot's change of layer `changedLayer` into the effective state: counts and
   * prefix lengths, the transaction's data-plane work, and the observers' changes.
   */
  private updateEffective(
    slot: number,
    before: number,
    beforeEntry: RuleEntry | undefined,
    changedLayer: Layer,
    tx: Transaction,
    expiredReason?: 'expired',
    cidr?: Cidr,
  ): boolean {
    const after = this.layerOf(slot);
    if (after === before && after !== changedLayer) return false;
    if (after === NONE && before === NONE) return false;
    const table = this.table;
    if (!tx.wholeTable) {
      const at = tx.touched.get(slot);
      if (at === undefined) {
        tx.touched.set(slot, tx.touchedCidrs.length);
        tx.touchedCidrs.push(cidr);
        tx.wasEffective.push(before !== NONE);
      } else if (cidr !== undefined) tx.touchedCidrs[at] = cidr;
    }
    if (after !== NONE) {
      if (before === NONE) this.effective.add(table.policy(slot), table.family(slot), table.prefixLength(slot));
      if (tx.observed) tx.changes.push({ type: 'put', entry: this.effectiveEntryOf(slot, after) as RuleEntry });
    } else {
      this.effective.remove(table.policy(slot), table.family(slot), table.prefixLength(slot));
      if (tx.observed && beforeEntry !== undefined) {
        tx.changes.push({ type: 'delete', entry: beforeEntry, reason: expiredReason ?? 'deleted' });
      }
    }
    return true;
  }

  private emitRecords(changes: readonly RecordChange[], origin: RecordChangeOrigin): void {
    for (const listener of this.recordListeners) listener(changes, origin);
  }

  /** The commit pipeline: observers, then journal and data plane together. */
  /**
   * `release`: the caller no longer needs `persisted` (it is emptied once encoded).
   * Everything the transaction built per rule is dropped before the journal's fsync and
   * the data plane are awaited, so a big batch's objects die young instead of surviving
   * (and being copied by) the scavenges that run during the wait.
   */
  private async commit(tx: Transaction, persisted: PersistedChange[], release = false): Promise<void> {
    if (tx.records.length > 0) this.emitRecords(tx.records, tx.origin);
    if (tx.changes.length > 0) for (const listener of this.listeners) listener(tx.changes);
    // Listeners may keep the arrays they were given: replaced, not emptied.
    tx.records = [];
    tx.changes = [];
    const durable =
      persisted.length > 0 && this.options.persistence !== undefined
        ? this.options.persistence.record(persisted)
        : Promise.resolve();
    if (release) persisted.length = 0;
    const upserts: DataPlaneRule[] = [];
    const removals: DataPlaneKey[] = [];
    const table = this.table;
    for (const [slot, at] of tx.touched) {
      const layer = this.layerOf(slot);
      const cidr = tx.touchedCidrs[at] ?? table.cidr(slot);
      if (layer !== NONE) {
        upserts.push({ policy: table.policy(slot), cidr, tag: table.tags.text(table.effectiveTagId(slot)) });
      } else if (tx.wasEffective[at] === true) {
        removals.push({ policy: table.policy(slot), cidr });
      }
    }
    tx.touched.clear();
    tx.touchedCidrs.length = 0;
    if (upserts.length > 0 || removals.length > 0) {
      await Promise.all([durable, this.applyToDataPlane({ upserts, removals })]);
    } else {
      await durable;
    }
  }
}

function isWhole(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** A u32-length-prefixed UTF-8 string field, decoded only when its bytes differ from the last one. */
class RawStringCache {
  text = '';
  private bytes = Buffer.alloc(0);

  /** Reads the field at `at`; returns the offset after it, or -1 when it runs past `end`. */
  read(buf: Buffer, at: number, end: number): number {
    if (at + 4 > end) return -1;
    const length = buf.readUInt32LE(at);
    const from = at + 4;
    if (from + length > end) return -1;
    if (length !== this.bytes.length || buf.compare(this.bytes, 0, length, from, from + length) !== 0) {
      this.text = buf.toString('utf8', from, from + length);
      this.bytes = Buffer.from(buf.subarray(from, from + length));
    }
    return from + length;
  }
}

function expired(expiration: number, now: number): boolean {
  return expiration !== 0 && expiration <= now;
}

/** Effects of one mutation, folded per slot. */
class Transaction {
  /** Slots whose effective entry changed -> their index in the two arrays below. */
  readonly touched = new Map<number, number>();
  /** The slot's Cidr when a caller had it at hand (else rebuilt from the key at commit). */
  readonly touchedCidrs: (Cidr | undefined)[] = [];
  /** Whether the slot had an effective entry before the transaction. */
  readonly wasEffective: boolean[] = [];
  changes: StoreChange[] = [];
  /** Changes of replicated records (set entries and expiry are not). */
  records: RecordChange[] = [];

  /**
   * observed: someone listens to effective changes (entries are built only then).
   * wholeTable: a restore; the data plane gets the whole effective state afterwards,
   * so touched slots are not tracked.
   */
  constructor(
    readonly origin: RecordChangeOrigin,
    readonly observed: boolean,
    readonly wholeTable = false,
  ) {}
}
