// The bridge's copy of couic's dynamic rules, as the Watch stream delivers them.
export type RulePolicy = 'drop' | 'ignore';

export interface MirroredRule {
  readonly policy: RulePolicy;
  /** Canonical CIDR text as couic sends it, e.g. "192.0.2.1/32". */
  readonly cidr: string;
  readonly tag: string;
  /** Absolute UNIX seconds; 0 = never. */
  readonly expiration: number;
}

export function ruleKey(policy: RulePolicy, cidr: string): string {
  return `${policy} ${cidr}`;
}

/** Live rules by key; the Watch consumer applies snapshots, upserts and removals to it. */
export class RuleMirror {
  private readonly rules = new Map<string, MirroredRule>();
  /** Bumped on every change, so the reconciler knows when to look again. */
  private changeCount = 0;

  get size(): number {
    return this.rules.size;
  }

  get changes(): number {
    return this.changeCount;
  }

  upsert(rule: MirroredRule): void {
    this.rules.set(ruleKey(rule.policy, rule.cidr), rule);
    this.changeCount++;
  }

  remove(policy: RulePolicy, cidr: string): void {
    if (this.rules.delete(ruleKey(policy, cidr))) this.changeCount++;
  }

  replaceAll(rules: Iterable<MirroredRule>): void {
    this.rules.clear();
    for (const rule of rules) this.rules.set(ruleKey(rule.policy, rule.cidr), rule);
    this.changeCount++;
  }

  values(): IterableIterator<MirroredRule> {
    return this.rules.values();
  }
}
