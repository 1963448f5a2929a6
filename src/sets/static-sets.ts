// Keeps the rule store in line with the set files: loads them, diffs against what
// is applied, and applies only the differences (unchanged entries never leave the
// data plane). Reloads are serialised. A set that does not fit in the maps is
// refused on its own (logged; its previously applied content, if any, stays), so
// one oversized file can neither stop the daemon from starting nor keep the other
// sets out.
import { CapacityExceededError } from '../domain/errors.js';
import type { Policy } from '../domain/policy.js';
import { setTag } from '../domain/validation.js';
import { diffSets, setKey, toAppliedSets, type SetDelta } from './set-diff.js';
import { stderrWarnLogger, type WarnLogger } from '../files/private-file.js';
import type { LoadedSet, SetRepository } from './set-repository.js';
import type { RuleStore } from '../store/rule-store.js';

export interface RefusedSet {
  readonly policy: Policy;
  readonly name: string;
  readonly reason: string;
}

export interface SetReloadResult {
  /** Sets whose content changed (added, changed or removed), with counts. */
  readonly changes: readonly SetDelta[];
  /** Sets whose file was read but whose content could not be applied (capacity). */
  readonly refused: readonly RefusedSet[];
}

export class StaticSets {
  /** The sets as applied to the store (may differ from the files for refused ones). */
  private current: LoadedSet[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly repository: SetRepository,
    private readonly store: RuleStore,
    private readonly logger: WarnLogger = stderrWarnLogger,
  ) {}

  /** Re-reads every set file and applies the differences. */
  reload(): Promise<SetReloadResult> {
    const run = this.queue.then(async () => {
      const loaded = await this.repository.loadAll();
      const before = this.current;
      try {
        await this.apply(before, loaded);
        this.current = loaded;
        return { changes: changesBetween(before, loaded), refused: [] };
      } catch (error) {
        if (!(error instanceof CapacityExceededError)) throw error;
      }
      const { applied, refused } = await this.applyOneByOne(before, loaded);
      this.current = applied;
      return { changes: changesBetween(before, applied), refused };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Entry count of an applied set, as the store enforces it. */
  appliedCount(policy: Policy, name: string): number | undefined {
    return this.current.find((s) => s.policy === policy && s.name === name)?.cidrs.length;
  }

  /** The store applies a whole delta or nothing (capacity is checked first). */
  private async apply(from: readonly LoadedSet[], to: readonly LoadedSet[]): Promise<void> {
    const diff = diffSets(toAppliedSets(from), to);
    await this.store.applySetDeltas(
      diff.byPolicy.map((d) => ({
        policy: d.policy,
        upserts: d.upserts.map((u) => ({ cidr: u.cidr, tag: setTag(u.set) })),
        removals: d.removals,
      })),
    );
  }

  /** Removed sets first (they free room), then each set on its own: those that do not fit are refused. */
  private async applyOneByOne(before: readonly LoadedSet[], loaded: readonly LoadedSet[]): Promise<{ applied: LoadedSet[]; refused: RefusedSet[] }> {
    const onDisk = new Set(loaded.map(setKey));
    let applied = before.filter((s) => onDisk.has(setKey(s)));
    await this.apply(before, applied);
    const refused: RefusedSet[] = [];
    for (const set of loaded) {
      const key = setKey(set);
      const candidate = [...applied.filter((s) => setKey(s) !== key), set];
      try {
        await this.apply(applied, candidate);
        applied = candidate;
      } catch (error) {
        if (!(error instanceof CapacityExceededError)) throw error;
        const kept = applied.some((s) => setKey(s) === key);
        refused.push({ policy: set.policy, name: set.name, reason: error.message });
        this.logger.warn(
          { policy: set.policy, set: set.name, entries: set.cidrs.length, reason: error.message },
          `set ${set.policy}/${set.name} refused: it does not fit (${error.message}); ` +
            (kept ? 'its previous content stays applied' : 'it is not applied') +
            ', the other sets are served',
        );
      }
    }
    return { applied, refused };
  }
}

function changesBetween(before: readonly LoadedSet[], after: readonly LoadedSet[]): SetDelta[] {
  return diffSets(toAppliedSets(before), after).sets.filter((s) => s.status !== 'unchanged');
}
