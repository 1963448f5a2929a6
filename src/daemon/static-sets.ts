// Keeps the rule store in line with the set files: loads them, diffs against what
// is applied, and applies only the differences (unchanged entries never leave the
// data plane). Reloads are serialised.
import type { Policy } from '../domain/policy.js';
import { setTag } from '../domain/validation.js';
import { diffSets, toAppliedSets, type AppliedSet, type SetDelta } from '../sets/set-diff.js';
import type { SetRepository } from '../sets/set-repository.js';
import type { RuleStore } from '../store/rule-store.js';

export interface SetReloadResult {
  /** Sets whose content changed (added, changed or removed), with counts. */
  readonly changes: readonly SetDelta[];
}

export class StaticSets {
  private applied: AppliedSet[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly repository: SetRepository,
    private readonly store: RuleStore,
  ) {}

  /** Re-reads every set file and applies the differences. */
  reload(): Promise<SetReloadResult> {
    const run = this.queue.then(async () => {
      const loaded = await this.repository.loadAll();
      const diff = diffSets(this.applied, loaded);
      await this.store.applySetDeltas(
        diff.byPolicy.map((d) => ({
          policy: d.policy,
          upserts: d.upserts.map((u) => ({ cidr: u.cidr, tag: setTag(u.set) })),
          removals: d.removals,
        })),
      );
      this.applied = toAppliedSets(loaded);
      return { changes: diff.sets.filter((s) => s.status !== 'unchanged') };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Entry count of an applied set, as the store enforces it. */
  appliedCount(policy: Policy, name: string): number | undefined {
    const set = this.applied.find((s) => s.policy === policy && s.name === name);
    if (set === undefined) return undefined;
    return 'size' in set.cidrs ? set.cidrs.size : set.cidrs.length;
  }
}
