// Keeps the kernel equal to what the store wants, through the KernelMaps seam:
// the pinned rule record (what a restart adopts) and the compiled tables (what
// filters). At start it adopts the record (the tables already filter by it), so a
// restart keeps filtering; identical writes are skipped; a write the kernel
// refuses leaves the rule accepted with its enforcement pending, retried on the
// injected scheduler with the shared backoff until it lands; reconcile() removes
// what the record held that the store no longer has. Serialised: one change at a
// time, retries included.
import type { Logger } from 'pino';
import type { Cidr } from '../../domain/cidr.js';
import type { Policy } from '../../domain/policy.js';
import type { Backoff } from '../../domain/backoff.js';
import type { Scheduler } from '../../domain/scheduler.js';
import { BpfError } from './bpf-error.js';
import type { KernelMaps } from './kernel-maps.js';
import { decodeRecordKey, RULE_RECORD_KEY_SIZE } from './layout.js';
import { RuleState } from './rule-state.js';
import type { CompiledRule, RuleKey, TableCompiler } from './table-compiler.js';
import type { TagSlots } from './tag-slots.js';

/** A rule the kernel refused: accepted by the store, not enforced yet (retried). */
export interface PendingRule {
  readonly policy: Policy;
  readonly cidr: Cidr;
  readonly error: BpfError;
}

export interface SyncChange {
  readonly upserts: readonly { readonly policy: Policy; readonly cidr: Cidr; readonly tag: string }[];
  readonly removals: readonly { readonly policy: Policy; readonly cidr: Cidr }[];
}

export interface RuleSyncOptions {
  readonly kernel: KernelMaps;
  readonly compiler: TableCompiler;
  readonly tags: TagSlots;
  readonly scheduler: Scheduler;
  readonly backoff: Backoff;
  readonly logger: Logger;
}

/** A rule read from a previous layout's maps (upgrade). */
export interface AdoptedRule {
  readonly policy: Policy;
  readonly cidr: Cidr;
  readonly slot: number;
}

function compiledOf(policy: Policy, cidr: Cidr, slot: number): CompiledRule {
  return { policy, family: cidr.family, prefixLength: cidr.prefixLength, bytes: cidr.bytes, slot };
}

/** rule_record keys of `indices`, written into one buffer (one allocation per batch). */
function recordKeys(state: RuleState, indices: readonly number[]): Buffer[] {
  const all = Buffer.alloc(indices.length * RULE_RECORD_KEY_SIZE);
  const keys: Buffer[] = new Array<Buffer>(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i] as number;
    const cidr = state.cidrs[index] as Cidr;
    const at = i * RULE_RECORD_KEY_SIZE;
    all[at] = state.policies[index] as number;
    all[at + 1] = cidr.family;
    all[at + 2] = cidr.prefixLength;
    all.set(cidr.bytes, at + 4);
    keys[i] = all.subarray(at, at + RULE_RECORD_KEY_SIZE);
  }
  return keys;
}

export class RuleSync {
  /** Per rule: the tag slot wanted by the store, held by the pinned record, enforced by the tables; adopted-not-confirmed. */
  private readonly state = new RuleState(1 << 16);
  private staleTotal = 0;
  /** Why each rule index is not where it should be (the kernel's last refusal). */
  private readonly refusals = new Map<number, BpfError>();
  private chain: Promise<unknown> = Promise.resolve();
  private cancelRetry: (() => void) | undefined;
  private closed = false;

  constructor(private readonly options: RuleSyncOptions) {}

  /** Rules adopted at start and not yet confirmed by the store. */
  get staleCount(): number {
    return this.staleTotal;
  }

  /** Rules the store holds whose enforcement is pending (refused writes, being retried), plus table entries not yet written. */
  get pendingEnforcement(): number {
    return this.refusals.size + this.options.compiler.unwrittenCount;
  }

  /** The store's rules whose enforcement is pending, with the kernel's last refusal. */
  pendingRules(): PendingRule[] {
    const out: PendingRule[] = [];
    for (const [index, error] of this.refusals) {
      const cidr = this.state.cidrs[index];
      if (cidr !== undefined && (this.state.wanted[index] as number) >= 0) out.push({ policy: this.state.policyOf(index), cidr, error });
    }
    return out;
  }

  /** Rules per policy as the kernel enforces them. */
  enforcedCount(policy: Policy): number {
    return this.state.enforcedPerPolicy[policy === 'drop' ? 0 : 1] as number;
  }

  /**
   * Reads the pinned record (and `legacy` entries, from a previous layout's maps),
   * compiles them into the tables (already equal after a restart: nothing is
   * rewritten), records the legacy ones. All adopted entries are stale until the
   * store confirms them. Returns how many were adopted.
   */
  async adopt(legacyRules: readonly AdoptedRule[] = []): Promise<number> {
    const { kernel, compiler, tags } = this.options;
    const state = this.state;
    const adopted: number[] = [];
    const rules: CompiledRule[] = [];
    for (const { key, value } of kernel.ruleRecord.entries()) {
      const decoded = decodeRecordKey(key);
      if (decoded === undefined) continue;
      const cidr: Cidr = { family: decoded.family, bytes: decoded.bytes, prefixLength: decoded.prefixLength, text: '' };
      const index = state.indexOf(decoded.policy, cidr);
      if (state.recorded[index] !== -1) continue;
      state.recorded[index] = value;
      adopted.push(index);
      rules.push(compiledOf(decoded.policy, cidr, value));
    }
    const fromRecord = adopted.length;
    for (const entry of legacyRules) {
      const index = state.indexOf(entry.policy, entry.cidr);
      if (state.recorded[index] !== -1 || state.stale[index] === 2) continue;
      state.stale[index] = 2; // marks "seen" within this loop; set to 1 below
      adopted.push(index);
      rules.push(compiledOf(entry.policy, entry.cidr, entry.slot));
    }
    const refused = await compiler.apply(rules, []);
    const refusedRules = new Set(refused.map((r) => r.rule));
    const legacyIndices: number[] = [];
    for (let i = 0; i < adopted.length; i++) {
      const index = adopted[i] as number;
      state.stale[index] = 0;
      if (refusedRules.has(rules[i] as CompiledRule)) continue;
      state.setEnforced(index, (rules[i] as CompiledRule).slot);
      state.stale[index] = 1;
      this.staleTotal++;
      if (i >= fromRecord) legacyIndices.push(index);
    }
    if (legacyIndices.length > 0) {
      const keys = recordKeys(state, legacyIndices);
      const failed = new Set((await kernel.ruleRecord.upsert(keys.map((key, i) => ({ key, value: state.enforced[legacyIndices[i] as number] as number })))).map((f) => f.key));
      legacyIndices.forEach((index, i) => {
        if (!failed.has(keys[i] as Buffer)) state.recorded[index] = state.enforced[index] as number;
      });
    }
    const slots: number[] = [];
    for (const index of adopted) if (state.stale[index] === 1) slots.push(state.enforced[index] as number);
    tags.restore(kernel.readTagNames(), slots);
    return this.staleTotal;
  }

  /** Applies a batch; resolves with the rules whose enforcement is pending (never rejects for a kernel refusal). */
  apply(change: SyncChange): Promise<PendingRule[]> {
    return this.serialised(() => this.applyNow(change));
  }

  /** Removes what was adopted and the store did not confirm. Returns how many were removed. */
  reconcile(): Promise<number> {
    return this.serialised(async () => {
      const state = this.state;
      const indices: number[] = [];
      for (const index of state.indices()) if (state.stale[index] === 1) indices.push(index);
      for (const index of indices) this.dropStale(index);
      const gone = indices.filter((index) => state.wanted[index] === -1);
      await this.sync(gone);
      const removed = gone.filter((index) => state.enforced[index] === -1 && state.recorded[index] === -1).length;
      for (const index of gone) this.release(index);
      this.options.logger.info({ removed, pending: this.refusals.size }, 'XDP: pinned maps reconciled with the store');
      return removed;
    });
  }

  /** Resolves once every change and retry started so far has finished. */
  idle(): Promise<void> {
    return this.chain.then(() => undefined, () => undefined);
  }

  close(): Promise<void> {
    this.closed = true;
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    return this.chain.then(() => undefined, () => undefined);
  }

  // --- internals -----------------------------------------------------------

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async applyNow(change: SyncChange): Promise<PendingRule[]> {
    const { tags } = this.options;
    const state = this.state;
    const touched: number[] = [];
    for (const { policy, cidr } of change.removals) {
      const index = state.indexOf(policy, cidr);
      const current = state.wanted[index] as number;
      if (current >= 0) tags.release(current);
      state.wanted[index] = -1;
      this.dropStale(index);
      touched.push(index);
    }
    for (const { policy, cidr, tag } of change.upserts) {
      const index = state.indexOf(policy, cidr);
      const slot = tags.acquire(tag);
      const current = state.wanted[index] as number;
      if (current >= 0) tags.release(current);
      state.wanted[index] = slot;
      this.dropStale(index);
      touched.push(index);
    }
    await this.sync(touched);
    const pending: PendingRule[] = [];
    if (this.refusals.size > 0) {
      const seen = new Set<number>();
      for (const index of touched) {
        if (seen.has(index)) continue;
        seen.add(index);
        const error = this.refusals.get(index);
        const cidr = state.cidrs[index];
        if (error !== undefined && cidr !== undefined && (state.wanted[index] as number) >= 0) pending.push({ policy: state.policyOf(index), cidr, error });
      }
    }
    for (const index of touched) this.release(index);
    if (pending.length > 0) {
      this.options.logger.warn(
        { pending: pending.length, of: touched.length, firstError: pending[0]?.error.message },
        'XDP: the kernel refused map writes; the rules stand, their enforcement is pending (retried)',
      );
    }
    return pending;
  }

  /** Frees the index of a rule nothing holds any more (kept while a refusal names it). */
  private release(index: number): void {
    if (!this.refusals.has(index)) this.state.releaseIfDead(index);
  }

  /** Forgets an adopted entry's claim (its tag slot reference goes). */
  private dropStale(index: number): void {
    const state = this.state;
    if (state.stale[index] !== 1) return;
    state.stale[index] = 0;
    this.staleTotal--;
    const slot = (state.enforced[index] as number) >= 0 ? (state.enforced[index] as number) : (state.recorded[index] as number);
    if (slot >= 0) this.options.tags.release(slot);
  }

  /** Brings the record and the tables of `indices` to what is wanted (stale ones: left as they are). */
  private async sync(indices: readonly number[]): Promise<void> {
    const { compiler } = this.options;
    const state = this.state;
    const { wanted, recorded, enforced } = state;
    const recordUpserts: number[] = [];
    const recordDeletes: number[] = [];
    const tableRemovals: number[] = [];
    // Unique, not stale.
    const unique: number[] = [];
    const seen = new Set<number>();
    for (const index of indices) {
      if (state.stale[index] === 1 || seen.has(index)) continue;
      seen.add(index);
      unique.push(index);
    }
    for (const index of unique) {
      const want = wanted[index] as number;
      if (want < 0) {
        if ((enforced[index] as number) >= 0) tableRemovals.push(index);
        if ((recorded[index] as number) >= 0) recordDeletes.push(index);
        if ((enforced[index] as number) < 0 && (recorded[index] as number) < 0) this.refusals.delete(index);
      } else if (recorded[index] !== want) {
        recordUpserts.push(index);
      }
    }
    // 1. Record first: a rule is enforced only once a restart would find it.
    const recordFailed = await this.recordWrite(recordUpserts, 'upsert');
    for (const index of recordUpserts) if (!recordFailed.has(index)) recorded[index] = wanted[index] as number;
    // 2. Tables: removals, then every wanted rule recorded but not enforced as wanted.
    const tableUpserts: number[] = [];
    for (const index of unique) {
      const want = wanted[index] as number;
      if (want >= 0 && recorded[index] === want && enforced[index] !== want) tableUpserts.push(index);
    }
    const upsertRules = tableUpserts.map((index) => compiledOf(state.policyOf(index), state.cidrs[index] as Cidr, wanted[index] as number));
    const removalKeys: RuleKey[] = tableRemovals.map((index) => {
      const cidr = state.cidrs[index] as Cidr;
      return { policy: state.policyOf(index), family: cidr.family, prefixLength: cidr.prefixLength, bytes: cidr.bytes };
    });
    const refused = await compiler.apply(upsertRules, removalKeys);
    const tableFailed = new Map<number, BpfError>();
    if (refused.length > 0) {
      const byRule = new Map<CompiledRule, number>();
      upsertRules.forEach((rule, i) => byRule.set(rule, tableUpserts[i] as number));
      for (const r of refused) {
        const index = byRule.get(r.rule);
        if (index !== undefined) tableFailed.set(index, r.error);
      }
    }
    for (const index of tableRemovals) state.setEnforced(index, -1);
    for (const index of tableUpserts) if (!tableFailed.has(index)) state.setEnforced(index, wanted[index] as number);
    // Refused by the tables: not in the record either (a restart must not adopt it as enforced).
    for (const index of tableUpserts) if (tableFailed.has(index) && (enforced[index] as number) < 0) recordDeletes.push(index);
    // 3. Record deletes last: until then a restart still finds what the tables held.
    const deleteFailed = await this.recordWrite(recordDeletes, 'delete');
    for (const index of recordDeletes) if (!deleteFailed.has(index)) recorded[index] = -1;
    for (const index of unique) {
      const error = recordFailed.get(index) ?? tableFailed.get(index) ?? deleteFailed.get(index);
      if (error !== undefined) this.refusals.set(index, error);
      else if (this.refusals.size > 0 && this.inPlace(index)) this.refusals.delete(index);
    }
    if (this.pendingEnforcement > 0) this.scheduleRetry();
  }

  private inPlace(index: number): boolean {
    const { wanted, recorded, enforced } = this.state;
    const want = wanted[index] as number;
    if (want < 0) return (enforced[index] as number) < 0 && (recorded[index] as number) < 0;
    return enforced[index] === want && recorded[index] === want;
  }

  private async recordWrite(indices: readonly number[], operation: 'upsert' | 'delete'): Promise<Map<number, BpfError>> {
    const failed = new Map<number, BpfError>();
    if (indices.length === 0) return failed;
    const { ruleRecord } = this.options.kernel;
    const keys = recordKeys(this.state, indices);
    const wanted = this.state.wanted;
    const failures =
      operation === 'upsert' ? await ruleRecord.upsert(keys.map((key, i) => ({ key, value: wanted[indices[i] as number] as number }))) : await ruleRecord.delete(keys);
    if (failures.length === 0) return failed;
    const byKey = new Map<Buffer, number>();
    keys.forEach((key, i) => byKey.set(key, indices[i] as number));
    for (const f of failures) {
      const index = byKey.get(f.key);
      if (index !== undefined) failed.set(index, f.error);
    }
    return failed;
  }

  private scheduleRetry(): void {
    if (this.cancelRetry !== undefined || this.closed) return;
    const delay = this.options.backoff.next();
    this.cancelRetry = this.options.scheduler.after(delay, () => {
      this.cancelRetry = undefined;
      void this.serialised(async () => {
        const before = this.pendingEnforcement;
        const unwritten = await this.options.compiler.retryUnwritten();
        const indices = [...this.refusals.keys()];
        await this.sync(indices);
        for (const index of indices) this.release(index);
        if (this.refusals.size === 0 && unwritten === 0) {
          this.options.backoff.reset();
          this.options.logger.info({ written: before }, 'XDP: retried map writes landed; kernel and store agree again');
        } else {
          this.options.logger.warn({ pending: this.pendingEnforcement, firstError: [...this.refusals.values()][0]?.message }, 'XDP: map writes still refused; retrying');
          this.scheduleRetry();
        }
      });
    });
  }
}

export { BpfError };
