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
import type { Address, AddressFamily, Cidr } from '../domain/cidr.js';
import { nowSeconds, type Clock } from '../domain/clock.js';
import { isExpired, ruleKey, type RuleEntry } from '../domain/entry.js';
import {
  collectableAfterMs,
  recordKey,
  supersedes,
  type LiveRecord,
  type ReplicatedRecord,
  type TombstoneRecord,
  type VersionedEntry,
} from '../domain/replicated-record.js';
import { HybridClock } from '../domain/version.js';
import type { RecordChange, RecordChangeOrigin, RecordListener, ReplicaStore } from '../replication/replica-store.js';
import {
  CapacityExceededError,
  FailedPreconditionError,
  NotFoundError,
  type FieldViolation,
} from '../domain/errors.js';
import { LpmTable } from '../domain/lpm.js';
import { CAPACITY_PER_FAMILY, POLICIES, type Policy } from '../domain/policy.js';
import type { DataPlane, DataPlaneKey, DataPlaneRule } from '../dataplane/dataplane.js';
import { ExpiryQueue } from './expiry-queue.js';
import type { PersistedChange, RulePersistence } from './persistence.js';

/** Default time a tombstone (or an expired entry's record) outlives what it describes. */
export const DEFAULT_TOMBSTONE_LIFETIME_MS = 24 * 60 * 60 * 1000;
import { compileTagFilter } from './tag-filter.js';

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
  readonly decisive?: RuleEntry;
  readonly dropMatch?: RuleEntry;
  readonly ignoreMatch?: RuleEntry;
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

export class RuleStore implements ReplicaStore {
  /** Unexpired-at-last-sweep dynamic entries, kept as their live records (no wrapper per read). */
  private readonly dynamic = new Map<string, LiveRecord>();
  /** Records that are not enforced: tombstones, and live records whose entry expired. */
  private readonly dormant = new Map<string, ReplicatedRecord>();
  private readonly setEntries = new Map<string, RuleEntry>();
  private readonly effective: Record<Policy, LpmTable<RuleEntry>> = {
    drop: new LpmTable(),
    ignore: new LpmTable(),
  };
  private readonly counts: Counts = { drop: { 4: 0, 6: 0 }, ignore: { 4: 0, 6: 0 } };
  /** (expiration, key) of enforced entries; items of replaced entries are skipped when due. */
  private readonly expiry = new ExpiryQueue<string>();
  private readonly listeners: StoreListener[] = [];
  private readonly recordListeners: RecordListener[] = [];
  private readonly capacity: Readonly<Record<Policy, number>>;
  /** Shared with the replication hub, which observes remote versions through mergeRemote. */
  readonly hlc: HybridClock;
  private readonly tombstoneLifetimeMs: number;
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
  async restore(records: readonly ReplicatedRecord[]): Promise<void> {
    const nowMs = this.options.clock.nowMs();
    const now = Math.floor(nowMs / 1000);
    const tx = new Transaction('local');
    for (const record of records) {
      this.hlc.observe(record.kind === 'live' ? record.entry.version : record.version);
      if (collectableAfterMs(record, this.tombstoneLifetimeMs) <= nowMs) continue;
      const key = recordKey(record);
      if (record.kind === 'live' && !isExpired(record.entry, now)) this.putDynamic(key, record, tx);
      else this.dormant.set(key, record);
    }
    await this.commit(tx, []);
  }

  /**
   * Adds or replaces dynamic entries (already validated). All-or-nothing: a key held by
   * a static set, or a batch that would overflow a map, changes nothing.
   */
  async addRules(entries: readonly RuleEntry[]): Promise<{ added: number; replaced: number }> {
    this.sweepExpired();
    const batch = new Map<string, VersionedEntry>();
    const violations: FieldViolation[] = [];
    entries.forEach((unversioned, index) => {
      const entry: VersionedEntry = { ...unversioned, version: this.hlc.next() };
      const key = ruleKey(entry.policy, entry.cidr);
      const setEntry = this.setEntries.get(key);
      if (setEntry !== undefined) {
        violations.push({
          field: entries.length === 1 ? 'cidr' : `rules[${index}].cidr`,
          message: `${entry.policy} ${entry.cidr.text} belongs to static set "${setEntry.tag}"; edit the set instead`,
        });
      }
      batch.set(key, entry);
    });
    if (violations.length > 0) {
      throw new FailedPreconditionError(violations.map((v) => `${v.field}: ${v.message}`).join('; '));
    }
    this.checkCapacity(batch);
    const tx = new Transaction('local');
    const persisted: PersistedChange[] = [];
    let added = 0;
    let replaced = 0;
    for (const [key, entry] of batch) {
      const current = this.dynamic.get(key);
      if (current !== undefined) replaced++;
      else added++;
      const record: LiveRecord = { kind: 'live', entry };
      tx.records.push({ key, before: current ?? this.dormant.get(key), after: record });
      this.putDynamic(key, record, tx);
      persisted.push(record);
    }
    await this.commit(tx, persisted);
    return { added, replaced };
  }

  /** Deletes dynamic entries. All-or-nothing: unknown keys or set-only keys change nothing. */
  async deleteRules(keys: readonly RuleKeyInput[]): Promise<RuleEntry[]> {
    this.sweepExpired();
    const now = this.now();
    const notFound: FieldViolation[] = [];
    const setOwned: string[] = [];
    const targets = new Map<string, VersionedEntry>();
    keys.forEach((k, index) => {
      const key = ruleKey(k.policy, k.cidr);
      const entry = this.dynamic.get(key)?.entry;
      if (entry !== undefined && !isExpired(entry, now)) {
        targets.set(key, entry);
        return;
      }
      const field = keys.length === 1 ? 'cidr' : `keys[${index}].cidr`;
      const setEntry = this.setEntries.get(key);
      if (setEntry !== undefined) {
        setOwned.push(`${field}: ${k.policy} ${k.cidr.text} belongs to static set "${setEntry.tag}" and cannot be deleted through the API`);
      } else {
        notFound.push({ field, message: `no ${k.policy} rule for ${k.cidr.text}` });
      }
    });
    if (setOwned.length > 0) throw new FailedPreconditionError(setOwned.join('; '));
    if (notFound.length > 0) {
      throw new NotFoundError(notFound.map((v) => (keys.length === 1 ? v.message : `${v.field}: ${v.message}`)).join('; '));
    }
    const tx = new Transaction('local');
    const persisted: PersistedChange[] = [];
    for (const [key, entry] of targets) {
      const tombstone: TombstoneRecord = {
        kind: 'tombstone',
        policy: entry.policy,
        cidr: entry.cidr,
        version: this.hlc.next(),
        deletedExpiration: entry.expiration,
      };
      tx.records.push({ key, before: this.dynamic.get(key), after: tombstone });
      this.removeDynamic(key, entry, tx, 'deleted');
      this.dormant.set(key, tombstone);
      persisted.push(tombstone);
    }
    await this.commit(tx, persisted);
    return [...targets.values()];
  }

  /**
   * Merges records from peers or the bus: last writer wins by version. Records older
   * than (or equal to) what the node holds, or already collectable, change nothing.
   * Capacity is enforced where rules enter the cluster (the API), not here: refusing a
   * replicated record would make nodes disagree forever.
   */
  async mergeRemote(records: readonly ReplicatedRecord[]): Promise<readonly ReplicatedRecord[]> {
    this.sweepExpired();
    const nowMs = this.options.clock.nowMs();
    const now = Math.floor(nowMs / 1000);
    const tx = new Transaction('remote');
    const changed: ReplicatedRecord[] = [];
    for (const incoming of records) {
      this.hlc.observe(incoming.kind === 'live' ? incoming.entry.version : incoming.version);
      if (collectableAfterMs(incoming, this.tombstoneLifetimeMs) <= nowMs) continue;
      const key = recordKey(incoming);
      const enforced = this.dynamic.get(key);
      const before = enforced ?? this.dormant.get(key);
      if (!supersedes(incoming, before)) continue;
      const record = incoming.kind === 'live' ? this.asReceived(incoming) : incoming;
      tx.records.push({ key, before, after: record });
      changed.push(record);
      if (record.kind === 'live' && !isExpired(record.entry, now)) {
        this.putDynamic(key, record, tx);
        continue;
      }
      if (enforced !== undefined) this.removeDynamic(key, enforced.entry, tx, record.kind === 'live' ? 'expired' : 'deleted');
      this.dormant.set(key, record);
    }
    await this.commit(tx, changed);
    return changed;
  }

  /** Every replicated record: live entries (expired ones included until collected) and tombstones. */
  *records(): Generator<ReplicatedRecord> {
    yield* this.dynamic.values();
    yield* this.dormant.values();
  }

  recordOf(key: string): ReplicatedRecord | undefined {
    return this.dynamic.get(key) ?? this.dormant.get(key);
  }

  /** Forgets dormant records that can no longer matter (not journaled: load drops them again). */
  collectGarbage(nowMs: number): number {
    this.sweepExpired();
    const collected: RecordChange[] = [];
    for (const [key, record] of this.dormant) {
      if (collectableAfterMs(record, this.tombstoneLifetimeMs) > nowMs) continue;
      this.dormant.delete(key);
      collected.push({ key, before: record });
    }
    if (collected.length > 0) this.emitRecords(collected, 'gc');
    return collected.length;
  }

  /** The effective entry for a key, unless expired. */
  get(policy: Policy, cidr: Cidr): RuleEntry | undefined {
    const entry = this.effective[policy].get(cidr);
    return entry === undefined || isExpired(entry, this.now()) ? undefined : entry;
  }

  /** Effective, unexpired entries matching the filter, in chunks (for streaming). */
  *list(filter: ListFilter = {}, chunkSize = 5_000): Generator<RuleEntry[]> {
    const now = this.now();
    const tagMatches = compileTagFilter(filter.tagPatterns ?? []);
    const policies = filter.policy === undefined ? POLICIES : [filter.policy];
    let chunk: RuleEntry[] = [];
    for (const policy of policies) {
      for (const entry of this.effective[policy].values()) {
        if (isExpired(entry, now)) continue;
        if (entry.source === 'set' && filter.includeSets !== true) continue;
        if (!tagMatches(entry.tag)) continue;
        chunk.push(entry);
        if (chunk.length >= chunkSize) {
          yield chunk;
          chunk = [];
        }
      }
    }
    if (chunk.length > 0) yield chunk;
  }

  /** Which rule decides the fate of a packet from `address`: ignore beats drop. */
  check(address: Address): CheckResult {
    const now = this.now();
    const live = (entry: RuleEntry): boolean => !isExpired(entry, now);
    const ignoreMatch = this.effective.ignore.lookup(address, live)?.value;
    const dropMatch = this.effective.drop.lookup(address, live)?.value;
    if (ignoreMatch !== undefined) return { verdict: 'pass', decisive: ignoreMatch, ignoreMatch, dropMatch };
    if (dropMatch !== undefined) return { verdict: 'drop', decisive: dropMatch, dropMatch };
    return { verdict: 'pass' };
  }

  /** Effective entry counts per policy (all families), expired-but-unswept included. */
  countByPolicy(): Record<Policy, number> {
    return { drop: this.counts.drop[4] + this.counts.drop[6], ignore: this.counts.ignore[4] + this.counts.ignore[6] };
  }

  /** Enforced dynamic entries; includes not-yet-swept expired ones. */
  *dynamicEntries(): Generator<VersionedEntry> {
    for (const record of this.dynamic.values()) yield record.entry;
  }

  /** Removes entries whose expiration has passed; returns how many effective entries changed. */
  sweepExpired(): number {
    const now = this.now();
    const due = this.expiry.popDue(now);
    if (due.length === 0) return 0;
    const tx = new Transaction('local');
    for (const { expiration, ref: key } of due) {
      const record = this.dynamic.get(key);
      // Replaced since with another expiry (it has its own item), or already gone.
      if (record === undefined || record.entry.expiration !== expiration) continue;
      this.removeDynamic(key, record.entry, tx, 'expired');
      // Still the key's record (same version, same digest on every node) until collected.
      this.dormant.set(key, record);
    }
    // Expiry is not journaled (nor replicated): every node expires entries by itself.
    void this.commit(tx, []).catch(() => undefined);
    return tx.changes.length;
  }

  /**
   * Applies static-set changes (computed by sets/set-diff.ts): `upserts` create or
   * re-tag set entries, `removals` drop them. Capacity is checked for the whole
   * request first, so either everything applies or nothing does.
   */
  async applySetDeltas(deltas: readonly SetEntriesDelta[]): Promise<void> {
    this.sweepExpired();
    const now = this.now();
    const upserts = new Map<string, RuleEntry>();
    for (const { policy, upserts: items } of deltas) {
      for (const { cidr, tag } of items) {
        upserts.set(ruleKey(policy, cidr), { policy, cidr, tag, expiration: 0, createdAt: now, originNode: '', source: 'set' });
      }
    }
    const removedKeys = deltas.flatMap(({ policy, removals }) => removals.map((cidr) => ruleKey(policy, cidr)));
    this.checkCapacity(upserts, new Set(removedKeys));
    const tx = new Transaction('local');
    for (const key of removedKeys) this.replaceSetEntry(key, undefined, tx);
    for (const [key, entry] of upserts) {
      const current = this.setEntries.get(key);
      this.replaceSetEntry(key, current === undefined ? entry : { ...current, tag: entry.tag }, tx);
    }
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

  private checkCapacity(batch: ReadonlyMap<string, RuleEntry>, leaving: ReadonlySet<string> = new Set()): void {
    const extra: Counts = { drop: { 4: 0, 6: 0 }, ignore: { 4: 0, 6: 0 } };
    for (const [key, entry] of batch) {
      if (!this.dynamic.has(key) && !this.setEntries.has(key)) extra[entry.policy][entry.cidr.family]++;
    }
    for (const key of leaving) {
      const entry = this.setEntries.get(key);
      if (entry !== undefined && !this.dynamic.has(key) && !batch.has(key)) extra[entry.policy][entry.cidr.family]--;
    }
    for (const policy of POLICIES) {
      for (const family of [4, 6] as const) {
        const want = extra[policy][family];
        const used = this.counts[policy][family];
        if (want > 0 && used + want > this.capacity[policy]) {
          throw new CapacityExceededError(
            `${policy} IPv${family} map is full: ${used} of ${this.capacity[policy]} entries used, ` +
              `this request adds ${want}; nothing was applied`,
          );
        }
      }
    }
  }

  private effectiveOf(key: string): RuleEntry | undefined {
    return this.setEntries.get(key) ?? this.dynamic.get(key)?.entry;
  }

  /** A live record as this node keeps it: written elsewhere = source "peer". */
  private asReceived(record: LiveRecord): LiveRecord {
    const { entry } = record;
    const source = entry.version.origin === this.hlc.nodeId ? 'api' : 'peer';
    return entry.source === source ? record : { kind: 'live', entry: { ...entry, source } };
  }

  private putDynamic(key: string, record: LiveRecord, tx: Transaction): void {
    const { entry } = record;
    const before = this.effectiveOf(key);
    this.dormant.delete(key);
    this.dynamic.set(key, record);
    if (entry.expiration !== 0) {
      this.expiry.push({ expiration: entry.expiration, ref: key });
      // Replacements leave stale items behind; rebuild before they outnumber live ones.
      if (this.expiry.size > 2 * this.dynamic.size + 4_096) this.rebuildExpiry();
    }
    this.updateEffective(key, before, tx);
  }

  private rebuildExpiry(): void {
    this.expiry.clear();
    for (const [key, { entry }] of this.dynamic) {
      if (entry.expiration !== 0) this.expiry.push({ expiration: entry.expiration, ref: key });
    }
  }

  private removeDynamic(key: string, entry: RuleEntry, tx: Transaction, reason: 'deleted' | 'expired'): void {
    const before = this.effectiveOf(key);
    this.dynamic.delete(key);
    this.updateEffective(key, before, tx, reason === 'expired' ? entry : undefined);
  }

  private replaceSetEntry(key: string, entry: RuleEntry | undefined, tx: Transaction): void {
    const before = this.effectiveOf(key);
    if (entry === undefined) this.setEntries.delete(key);
    else this.setEntries.set(key, entry);
    this.updateEffective(key, before, tx);
  }

  private updateEffective(key: string, before: RuleEntry | undefined, tx: Transaction, expired?: RuleEntry): void {
    const after = this.effectiveOf(key);
    if (before === after) return;
    if (after !== undefined) {
      if (before === undefined) this.counts[after.policy][after.cidr.family]++;
      this.effective[after.policy].set(after.cidr, after);
      tx.upserts.set(key, after); // an entry is a DataPlaneRule (policy, cidr, tag)
      tx.removals.delete(key);
      tx.changes.push({ type: 'put', entry: after });
    } else if (before !== undefined) {
      this.counts[before.policy][before.cidr.family]--;
      this.effective[before.policy].delete(before.cidr);
      tx.removals.set(key, before);
      tx.upserts.delete(key);
      tx.changes.push({ type: 'delete', entry: expired ?? before, reason: expired !== undefined ? 'expired' : 'deleted' });
    }
  }

  private emitRecords(changes: readonly RecordChange[], origin: RecordChangeOrigin): void {
    for (const listener of this.recordListeners) listener(changes, origin);
  }

  private async commit(tx: Transaction, persisted: readonly PersistedChange[]): Promise<void> {
    if (tx.records.length > 0) this.emitRecords(tx.records, tx.origin);
    if (tx.changes.length > 0) for (const listener of this.listeners) listener(tx.changes);
    const durable =
      persisted.length > 0 && this.options.persistence !== undefined
        ? this.options.persistence.record(persisted)
        : Promise.resolve();
    const update = { upserts: [...tx.upserts.values()], removals: [...tx.removals.values()] };
    if (update.upserts.length > 0 || update.removals.length > 0) {
      const applied = this.dataPlaneChain.then(() => this.options.dataPlane.apply(update));
      // Keep the chain alive after a failure; the caller still sees the rejection.
      this.dataPlaneChain = applied.catch(() => undefined);
      await Promise.all([durable, applied]);
    } else {
      await durable;
    }
  }
}

/** Effects of one mutation, folded per key. */
class Transaction {
  readonly upserts = new Map<string, DataPlaneRule>();
  readonly removals = new Map<string, DataPlaneKey>();
  readonly changes: StoreChange[] = [];
  /** Changes of replicated records (set entries and expiry are not). */
  readonly records: RecordChange[] = [];

  constructor(readonly origin: RecordChangeOrigin) {}
}
