// The node's rule store: the single owner of rule state. Two layers per key:
// dynamic entries (API, peers; journaled) and static-set entries (from files; never
// journaled). The effective entry of a key is the set entry when there is one, else
// the dynamic one; only effective entries reach the data plane and count against
// map capacity. Mutations are synchronous in memory (so reads see them at once),
// then made durable and pushed to the data plane before the call resolves.
import type { Address, AddressFamily, Cidr } from '../domain/cidr.js';
import { nowSeconds, type Clock } from '../domain/clock.js';
import { isExpired, ruleKey, type RuleEntry } from '../domain/entry.js';
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
import { compileTagFilter } from './tag-filter.js';

export interface RuleStoreOptions {
  readonly clock: Clock;
  readonly dataPlane: DataPlane;
  readonly persistence?: RulePersistence;
  readonly capacityPerFamily?: Readonly<Record<Policy, number>>;
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

export class RuleStore {
  private readonly dynamic = new Map<string, RuleEntry>();
  private readonly setEntries = new Map<string, RuleEntry>();
  private readonly effective: Record<Policy, LpmTable<RuleEntry>> = {
    drop: new LpmTable(),
    ignore: new LpmTable(),
  };
  private readonly counts: Counts = { drop: { 4: 0, 6: 0 }, ignore: { 4: 0, 6: 0 } };
  private readonly expiry = new ExpiryQueue<RuleEntry>();
  private readonly listeners: StoreListener[] = [];
  private readonly capacity: Readonly<Record<Policy, number>>;
  /** Data-plane batches are applied strictly in order. */
  private dataPlaneChain: Promise<void> = Promise.resolve();

  constructor(private readonly options: RuleStoreOptions) {
    this.capacity = options.capacityPerFamily ?? CAPACITY_PER_FAMILY;
  }

  onChange(listener: StoreListener): void {
    this.listeners.push(listener);
  }

  /** Loads persisted dynamic entries at start (no journaling, data plane updated). */
  async restore(entries: readonly RuleEntry[]): Promise<void> {
    const tx = new Transaction();
    for (const entry of entries) this.putDynamic(entry, tx);
    await this.commit(tx, []);
  }

  /**
   * Adds or replaces dynamic entries (already validated). All-or-nothing: a key held by
   * a static set, or a batch that would overflow a map, changes nothing.
   */
  async addRules(entries: readonly RuleEntry[]): Promise<{ added: number; replaced: number }> {
    this.sweepExpired();
    const batch = new Map<string, RuleEntry>();
    const violations: FieldViolation[] = [];
    entries.forEach((entry, index) => {
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
    const tx = new Transaction();
    let added = 0;
    let replaced = 0;
    for (const [key, entry] of batch) {
      if (this.dynamic.has(key)) replaced++;
      else added++;
      this.putDynamic(entry, tx);
    }
    await this.commit(
      tx,
      [...batch.values()].map((entry) => ({ op: 'put', entry })),
    );
    return { added, replaced };
  }

  /** Deletes dynamic entries. All-or-nothing: unknown keys or set-only keys change nothing. */
  async deleteRules(keys: readonly RuleKeyInput[]): Promise<RuleEntry[]> {
    this.sweepExpired();
    const now = this.now();
    const notFound: FieldViolation[] = [];
    const setOwned: string[] = [];
    const targets = new Map<string, RuleEntry>();
    keys.forEach((k, index) => {
      const key = ruleKey(k.policy, k.cidr);
      const field = keys.length === 1 ? 'cidr' : `keys[${index}].cidr`;
      const entry = this.dynamic.get(key);
      if (entry !== undefined && !isExpired(entry, now)) {
        targets.set(key, entry);
        return;
      }
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
    const tx = new Transaction();
    for (const [key, entry] of targets) this.removeDynamic(key, entry, tx, 'deleted');
    await this.commit(
      tx,
      [...targets.values()].map((entry) => ({ op: 'delete', policy: entry.policy, cidr: entry.cidr })),
    );
    return [...targets.values()];
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

  /** Dynamic entries (for snapshots and replication); includes not-yet-swept expired ones. */
  dynamicEntries(): IterableIterator<RuleEntry> {
    return this.dynamic.values();
  }

  /** Removes entries whose expiration has passed; returns how many effective entries changed. */
  sweepExpired(): number {
    const now = this.now();
    const due = this.expiry.popDue(now);
    if (due.length === 0) return 0;
    const tx = new Transaction();
    for (const { ref } of due) {
      const key = ruleKey(ref.policy, ref.cidr);
      if (this.dynamic.get(key) === ref) this.removeDynamic(key, ref, tx, 'expired');
    }
    // Expiry is not journaled: replay drops expired entries by itself.
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
    const tx = new Transaction();
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
    return this.setEntries.get(key) ?? this.dynamic.get(key);
  }

  private putDynamic(entry: RuleEntry, tx: Transaction): void {
    const key = ruleKey(entry.policy, entry.cidr);
    const before = this.effectiveOf(key);
    this.dynamic.set(key, entry);
    if (entry.expiration !== 0) this.expiry.push({ expiration: entry.expiration, ref: entry });
    this.updateEffective(key, before, tx);
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
      tx.upserts.set(key, { policy: after.policy, cidr: after.cidr, tag: after.tag });
      tx.removals.delete(key);
      tx.changes.push({ type: 'put', entry: after });
    } else if (before !== undefined) {
      this.counts[before.policy][before.cidr.family]--;
      this.effective[before.policy].delete(before.cidr);
      tx.removals.set(key, { policy: before.policy, cidr: before.cidr });
      tx.upserts.delete(key);
      tx.changes.push({ type: 'delete', entry: expired ?? before, reason: expired !== undefined ? 'expired' : 'deleted' });
    }
  }

  private async commit(tx: Transaction, persisted: readonly PersistedChange[]): Promise<void> {
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
}
