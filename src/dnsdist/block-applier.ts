// Runs the reconciler's plans against a dnsdist and remembers what is applied. On a
// rebuild it first reads the table, so the blocks the dnsdist made itself (its
// DynBlockRulesGroup) survive clearDynBlocks with their reason, action and remaining
// time. Any failure forgets the applied state: the next sync rebuilds everything.
import type { BlockGroup, DnsdistControl } from './dnsdist-control.js';
import type { DesiredBlocks } from './desired-blocks.js';
import type { DynBlockRow } from './dyn-block-table.js';
import { dynBlockActionFromName, type BlockAction } from './lua.js';
import { applyPlan, planBlocks, type AppliedBlocks, type AppliedHost, type HostPlan } from './reconciler.js';

export interface SyncReport {
  readonly hosts: HostPlan['kind'];
  readonly hostsInstalled: number;
  readonly addDynBlocksCalls: number;
  readonly netmaskRuleReplaced: boolean;
  readonly netmasks: number;
  readonly ownBlocksKept: number;
}

export class BlockApplier {
  private applied: AppliedBlocks | undefined;

  constructor(private readonly options: { readonly reasonPrefix: string; readonly action: BlockAction }) {}

  /** Whether the next sync rebuilds everything (nothing known about the dnsdist). */
  get unknown(): boolean {
    return this.applied === undefined;
  }

  /** Forget what is applied (dnsdist reconnected or restarted): the next sync rebuilds. */
  reset(): void {
    this.applied = undefined;
  }

  get appliedHosts(): ReadonlyMap<string, AppliedHost> {
    return this.applied?.hosts ?? new Map();
  }

  async sync(control: DnsdistControl, desired: DesiredBlocks, nowSeconds: number): Promise<SyncReport> {
    const action = this.options.action === 'drop' ? 'DNSAction.Drop' : 'DNSAction.Refused';
    const applied = this.applied;
    const plan = planBlocks(desired, applied, nowSeconds, { reasonPrefix: this.options.reasonPrefix, action });
    this.applied = undefined; // until the plan has fully run
    let ownBlocksKept = 0;
    let ownGroups = 0;
    if (plan.hosts.kind === 'rebuild') {
      const own = ownBlocks(await control.listDynBlocks(), this.options.reasonPrefix);
      ownBlocksKept = own.hosts.reduce((n, g) => n + g.items.length, 0) + own.suffixes.reduce((n, g) => n + g.items.length, 0);
      ownGroups = own.hosts.length;
      await control.replaceDynBlocks([...own.hosts, ...plan.hosts.groups], own.suffixes);
    } else if (plan.hosts.kind === 'add') {
      await control.addHostBlocks(plan.hosts.groups);
    }
    if (plan.netmasks !== undefined) await control.replaceNetmaskRule(plan.netmasks, this.options.action);
    this.applied = applyPlan(applied, plan, desired, nowSeconds);
    const groups = plan.hosts.kind === 'none' ? [] : plan.hosts.groups;
    return {
      hosts: plan.hosts.kind,
      hostsInstalled: groups.reduce((n, g) => n + g.items.length, 0),
      addDynBlocksCalls: groups.length + ownGroups,
      netmaskRuleReplaced: plan.netmasks !== undefined,
      netmasks: desired.netmasks.length,
      ownBlocksKept,
    };
  }
}

/** The dnsdist's own blocks as groups to re-add (one per reason, action and remaining time). */
export function ownBlocks(rows: readonly DynBlockRow[], reasonPrefix: string): { hosts: BlockGroup[]; suffixes: BlockGroup[] } {
  const hosts = new Map<string, { items: string[]; seconds: number; reason: string; action: string }>();
  const suffixes = new Map<string, { items: string[]; seconds: number; reason: string; action: string }>();
  for (const row of rows) {
    if (row.reason.startsWith(reasonPrefix) || row.remainingSeconds <= 0) continue;
    const action = dynBlockActionFromName(row.action);
    const key = `${row.remainingSeconds} ${action} ${row.reason}`;
    const target = row.kind === 'netmask' ? hosts : suffixes;
    let group = target.get(key);
    if (group === undefined) {
      group = { items: [], seconds: row.remainingSeconds, reason: row.reason, action };
      target.set(key, group);
    }
    group.items.push(row.kind === 'netmask' ? row.what.replace(/\/\d+$/, '') : row.what);
  }
  return { hosts: [...hosts.values()], suffixes: [...suffixes.values()] };
}
