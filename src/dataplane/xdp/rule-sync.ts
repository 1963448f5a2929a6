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
import type { Backoff } from '../../replication/mesh/backoff.js';
import type { Scheduler } from '../../replication/core/scheduler.js';
import { BpfError } from './bpf-error.js';
import type { KernelMaps } from './kernel-maps.js';
import { decodeRecordKey, encodeRecordKey } from './layout.js';
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

interface Entry {
  readonly id: string;
  readonly policy: Policy;
  readonly cidr: Cidr;
  readonly slot: number;
}

export function ruleId(policy: Policy, cidr: Pick<Cidr, 'family' | 'prefixLength' | 'bytes'>): string {
  return `${policy}:${cidr.family}:${cidr.prefixLength}:${Buffer.from(cidr.bytes.buffer, cidr.bytes.byteOffset, cidr.bytes.byteLength).toString('hex')}`;
}

function compiled(entry: Entry): CompiledRule {
  return { policy: entry.policy, family: entry.cidr.family, prefixLength: entry.cidr.prefixLength, bytes: entry.cidr.bytes, slot: entry.slot };
}

function keyOf(entry: Entry): RuleKey {
  return { policy: entry.policy, family: entry.cidr.family, prefixLength: entry.cidr.prefixLength, bytes: entry.cidr.bytes };
}

export interface RuleSyncOptions {
  readonly kernel: KernelMaps;
  readonly compiler: TableCompiler;
  readonly tags: TagSlots;
  readonly scheduler: Scheduler;
  readonly backoff: Backoff;
  readonly logger: Logger;
}

export class RuleSync {
  /** What the store wants, with the tag slot it counts under. */
  private readonly wanted = new Map<string, Entry>();
  /** What the pinned record holds. */
  private readonly recorded = new Map<string, Entry>();
  /** What the compiled tables enforce. */
  private readonly enforced = new Map<string, Entry>();
  /** Adopted at start, not yet confirmed by the store (kept until reconcile()). */
  private readonly stale = new Set<string>();
  /** Why each id is not where it should be (the kernel's last refusal). */
  private readonly refusals = new Map<string, BpfError>();
  private chain: Promise<unknown> = Promise.resolve();
  private cancelRetry: (() => void) | undefined;
  private closed = false;

  constructor(private readonly options: RuleSyncOptions) {}

  /** Rules adopted at start and not yet confirmed by the store. */
  get staleCount(): number {
    return this.stale.size;
  }

  /** Rules the store holds whose enforcement is pending (refused writes, being retried), plus table entries not yet written. */
  get pendingEnforcement(): number {
    return this.refusals.size + this.options.compiler.unwrittenCount;
  }

  /** The store's rules whose enforcement is pending, with the kernel's last refusal. */
  pendingRules(): PendingRule[] {
    const out: PendingRule[] = [];
    for (const [id, error] of this.refusals) {
      const entry = this.wanted.get(id);
      if (entry !== undefined) out.push({ policy: entry.policy, cidr: entry.cidr, error });
    }
    return out;
  }

  /** Rules per policy as the kernel enforces them. */
  enforcedCount(policy: Policy): number {
    let n = 0;
    for (const entry of this.enforced.values()) if (entry.policy === policy) n++;
    return n;
  }

  /**
   * Reads the pinned record (and `legacy` entries, from a previous layout's maps),
   * compiles them into the tables (already equal after a restart: nothing is
   * rewritten), records the legacy ones. All adopted entries are stale until the
   * store confirms them. Returns how many were adopted.
   */
  async adopt(legacyRules: readonly Omit<Entry, 'id'>[] = []): Promise<number> {
    const legacy = legacyRules.map((e) => ({ ...e, id: ruleId(e.policy, e.cidr) }));
    const { kernel, compiler, tags } = this.options;
    const adopted: Entry[] = [];
    for (const { key, value } of kernel.ruleRecord.entries()) {
      const decoded = decodeRecordKey(key);
      if (decoded === undefined) continue;
      const cidr: Cidr = { family: decoded.family, bytes: decoded.bytes, prefixLength: decoded.prefixLength, text: '' };
      adopted.push({ id: ruleId(decoded.policy, cidr), policy: decoded.policy, cidr, slot: value });
    }
    const fromRecord = adopted.length;
    for (const entry of adopted) this.recorded.set(entry.id, entry);
    for (const entry of legacy) {
      const id = entry.id;
      if (!this.recorded.has(id)) adopted.push(entry);
    }
    const refused = await compiler.apply(adopted.map(compiled), []);
    const refusedIds = new Set(refused.map((r) => ruleId(r.rule.policy, { family: r.rule.family, prefixLength: r.rule.prefixLength, bytes: r.rule.bytes })));
    for (const entry of adopted) {
      const id = entry.id;
      if (refusedIds.has(id)) continue;
      this.enforced.set(id, entry);
      this.stale.add(id);
    }
    const legacyEntries = adopted.slice(fromRecord).filter((e) => this.enforced.has(e.id));
    if (legacyEntries.length > 0) {
      const failed = new Set((await kernel.ruleRecord.upsert(legacyEntries.map((e) => ({ key: encodeRecordKey(e.policy, e.cidr), value: e.slot })))).map((f) => f.key.toString('hex')));
      for (const e of legacyEntries) if (!failed.has(encodeRecordKey(e.policy, e.cidr).toString('hex'))) this.recorded.set(e.id, e);
    }
    const slots: number[] = [];
    for (const id of this.stale) {
      const entry = this.enforced.get(id);
      if (entry !== undefined) slots.push(entry.slot);
    }
    tags.restore(kernel.readTagNames(), slots);
    return this.stale.size;
  }

  /** Applies a batch; resolves with the rules whose enforcement is pending (never rejects for a kernel refusal). */
  apply(change: SyncChange): Promise<PendingRule[]> {
    return this.serialised(() => this.applyNow(change));
  }

  /** Removes what was adopted and the store did not confirm. Returns how many were removed. */
  reconcile(): Promise<number> {
    return this.serialised(async () => {
      const ids = [...this.stale];
      for (const id of ids) this.dropStale(id);
      const gone = ids.filter((id) => !this.wanted.has(id));
      await this.sync(gone);
      const removed = gone.filter((id) => !this.enforced.has(id) && !this.recorded.has(id)).length;
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
    const touched: string[] = [];
    for (const { policy, cidr } of change.removals) {
      const id = ruleId(policy, cidr);
      const current = this.wanted.get(id);
      if (current !== undefined) tags.release(current.slot);
      this.wanted.delete(id);
      this.dropStale(id);
      touched.push(id);
    }
    for (const { policy, cidr, tag } of change.upserts) {
      const id = ruleId(policy, cidr);
      const slot = tags.acquire(tag);
      const current = this.wanted.get(id);
      if (current !== undefined) tags.release(current.slot);
      this.wanted.set(id, { id, policy, cidr, slot });
      this.dropStale(id);
      touched.push(id);
    }
    await this.sync(touched);
    const pending: PendingRule[] = [];
    for (const id of new Set(touched)) {
      const error = this.refusals.get(id);
      const entry = this.wanted.get(id);
      if (error !== undefined && entry !== undefined) pending.push({ policy: entry.policy, cidr: entry.cidr, error });
    }
    if (pending.length > 0) {
      this.options.logger.warn(
        { pending: pending.length, of: touched.length, firstError: pending[0]?.error.message },
        'XDP: the kernel refused map writes; the rules stand, their enforcement is pending (retried)',
      );
    }
    return pending;
  }

  /** Forgets an adopted entry's claim (its tag slot reference goes). */
  private dropStale(id: string): void {
    if (!this.stale.delete(id)) return;
    const entry = this.enforced.get(id) ?? this.recorded.get(id);
    if (entry !== undefined) this.options.tags.release(entry.slot);
  }

  /** Brings the record and the tables of `ids` to what is wanted (stale ids: left as they are). */
  private async sync(ids: readonly string[]): Promise<void> {
    const { compiler } = this.options;
    const recordUpserts: Entry[] = [];
    const recordDeletes: Entry[] = [];
    const tableRemovals: Entry[] = [];
    const unique = [...new Set(ids)].filter((id) => !this.stale.has(id));
    for (const id of unique) {
      const want = this.wanted.get(id);
      const recorded = this.recorded.get(id);
      const enforced = this.enforced.get(id);
      if (want === undefined) {
        if (enforced !== undefined) tableRemovals.push(enforced);
        if (recorded !== undefined) recordDeletes.push(recorded);
        if (enforced === undefined && recorded === undefined) this.refusals.delete(id);
      } else if (recorded?.slot !== want.slot) {
        recordUpserts.push(want);
      }
    }
    // 1. Record first: a rule is enforced only once a restart would find it.
    const recordFailed = await this.recordWrite(recordUpserts, 'upsert');
    for (const entry of recordUpserts) {
      const id = entry.id;
      if (!recordFailed.has(id)) this.recorded.set(id, entry);
    }
    // 2. Tables: removals, then every wanted rule recorded but not enforced as wanted.
    const tableUpserts: Entry[] = [];
    for (const id of unique) {
      const want = this.wanted.get(id);
      if (want !== undefined && this.recorded.get(id)?.slot === want.slot && this.enforced.get(id)?.slot !== want.slot) tableUpserts.push(want);
    }
    const refused = await compiler.apply(tableUpserts.map(compiled), tableRemovals.map(keyOf));
    const tableFailed = new Map<string, BpfError>();
    for (const r of refused) tableFailed.set(ruleId(r.rule.policy, { family: r.rule.family, prefixLength: r.rule.prefixLength, bytes: r.rule.bytes }), r.error);
    for (const entry of tableRemovals) this.enforced.delete(entry.id);
    for (const entry of tableUpserts) {
      const id = entry.id;
      if (!tableFailed.has(id)) this.enforced.set(id, entry);
    }
    // Refused by the tables: not in the record either (a restart must not adopt it as enforced).
    const unrecord = tableUpserts.filter((e) => tableFailed.has(e.id) && !this.enforced.has(e.id));
    for (const entry of unrecord) recordDeletes.push(entry);
    // 3. Record deletes last: until then a restart still finds what the tables held.
    const deleteFailed = await this.recordWrite(recordDeletes, 'delete');
    for (const entry of recordDeletes) {
      const id = entry.id;
      if (!deleteFailed.has(id)) this.recorded.delete(id);
    }
    for (const id of unique) {
      const error = recordFailed.get(id) ?? tableFailed.get(id) ?? deleteFailed.get(id);
      if (error !== undefined) this.refusals.set(id, error);
      else if (this.inPlace(id)) this.refusals.delete(id);
    }
    if (this.pendingEnforcement > 0) this.scheduleRetry();
  }

  private inPlace(id: string): boolean {
    const want = this.wanted.get(id);
    if (want === undefined) return !this.enforced.has(id) && !this.recorded.has(id);
    return this.enforced.get(id)?.slot === want.slot && this.recorded.get(id)?.slot === want.slot;
  }

  private async recordWrite(entries: readonly Entry[], operation: 'upsert' | 'delete'): Promise<Map<string, BpfError>> {
    const failed = new Map<string, BpfError>();
    if (entries.length === 0) return failed;
    const { ruleRecord } = this.options.kernel;
    const keys = entries.map((e) => encodeRecordKey(e.policy, e.cidr));
    const failures =
      operation === 'upsert' ? await ruleRecord.upsert(entries.map((e, i) => ({ key: keys[i] as Buffer, value: e.slot }))) : await ruleRecord.delete(keys);
    if (failures.length === 0) return failed;
    const byKey = new Map(entries.map((e, i) => [(keys[i] as Buffer).toString('hex'), e]));
    for (const f of failures) {
      const entry = byKey.get(f.key.toString('hex'));
      if (entry !== undefined) failed.set(entry.id, f.error);
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
        await this.sync([...this.refusals.keys()]);
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
