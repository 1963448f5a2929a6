// The pure core of consume: desired blocks (from couic) against what the bridge has
// applied to its dnsdist -> the commands to send. No I/O and no clock of its own.
//
// dnsdist 1.7.3 shapes it: every addDynBlocks call copies the whole block table, so
// additions are grouped (one call per lifetime bucket and tag), and a block cannot be
// removed or shortened on its own (addDynBlocks keeps the longer of two; there is
// only clearDynBlocks), so lifting one means rebuilding the table. The netmask-group
// rule has no lifetimes: it is replaced whenever its content changes.
import type { BlockGroup } from './dnsdist-control.js';
import type { DesiredBlocks } from './desired-blocks.js';

/** "Never expires" as a dynamic block: ten years. */
export const NEVER_SECONDS = 10 * 365 * 86_400;
/** A block that ends within this many seconds of its target is left to end by itself. */
export const SLACK_SECONDS = 2;

export interface AppliedBlocks {
  /** Host blocks the bridge installed: CIDR text -> when dnsdist lifts it (UNIX seconds). */
  readonly hosts: ReadonlyMap<string, number>;
  /** The netmask rule's content as last installed. */
  readonly netmasks: readonly string[];
}

export type HostPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'add'; readonly groups: readonly BlockGroup[] }
  /** Clear the table and install `groups` (the executor re-adds dnsdist's own blocks). */
  | { readonly kind: 'rebuild'; readonly groups: readonly BlockGroup[] };

export interface BlockPlan {
  readonly hosts: HostPlan;
  /** New netmask-rule content, or undefined to leave the rule as it is. */
  readonly netmasks: readonly string[] | undefined;
  /** What will be applied once the plan has run. */
  readonly next: AppliedBlocks;
}

export interface PlanOptions {
  /** Reason prefix of the bridge's blocks ("couic:" + tag). */
  readonly reasonPrefix: string;
  /** Lua DNSAction expression for the bridge's blocks. */
  readonly action: string;
}

/**
 * Lifetimes are bucketed so a big batch needs few addDynBlocks calls: exact up to
 * 5 minutes (the usual dynamic-block durations), then rounded up to a minute, then to
 * an hour. Rounding up means a block can outlive its rule: the rebuild lifts it.
 */
export function lifetimeBucket(seconds: number): number {
  if (seconds <= 300) return Math.max(1, seconds);
  if (seconds <= 86_400) return Math.ceil(seconds / 60) * 60;
  return Math.min(NEVER_SECONDS, Math.ceil(seconds / 3600) * 3600);
}

/**
 * @param applied undefined when unknown (first sync, dnsdist restarted or reconnected):
 *   then everything is rebuilt, so no stale block survives and none is missing.
 */
export function planBlocks(desired: DesiredBlocks, applied: AppliedBlocks | undefined, nowSeconds: number, options: PlanOptions): BlockPlan {
  const targets = new Map<string, { until: number; seconds: number; tag: string }>();
  for (const [cidr, host] of desired.hosts) {
    const remaining = host.expiration === 0 ? NEVER_SECONDS : host.expiration - nowSeconds;
    if (remaining <= 0) continue;
    const seconds = lifetimeBucket(remaining);
    targets.set(cidr, { until: nowSeconds + seconds, seconds, tag: host.tag });
  }

  const appliedHosts = applied?.hosts ?? new Map<string, number>();
  let rebuild = applied === undefined;
  if (!rebuild) {
    for (const [cidr, until] of appliedHosts) {
      if (until <= nowSeconds + SLACK_SECONDS) continue; // dnsdist lifts it itself
      const target = targets.get(cidr);
      if (target === undefined || target.until < until - SLACK_SECONDS) {
        rebuild = true;
        break;
      }
    }
  }

  const next = new Map<string, number>();
  const toInstall: [string, { seconds: number; tag: string }][] = [];
  if (rebuild) {
    for (const [cidr, target] of targets) {
      toInstall.push([cidr, target]);
      next.set(cidr, target.until);
    }
  } else {
    for (const [cidr, until] of appliedHosts) if (until > nowSeconds) next.set(cidr, until);
    for (const [cidr, target] of targets) {
      const current = next.get(cidr);
      if (current !== undefined && current >= target.until - SLACK_SECONDS) continue;
      toInstall.push([cidr, target]);
      next.set(cidr, target.until);
    }
  }

  const groups = groupBlocks(toInstall, options);
  const hosts: HostPlan = rebuild ? { kind: 'rebuild', groups } : groups.length > 0 ? { kind: 'add', groups } : { kind: 'none' };
  const netmasksChanged = applied === undefined || !sameList(applied.netmasks, desired.netmasks);
  return {
    hosts,
    netmasks: netmasksChanged ? desired.netmasks : undefined,
    next: { hosts: next, netmasks: desired.netmasks },
  };
}

function groupBlocks(items: readonly [string, { seconds: number; tag: string }][], options: PlanOptions): BlockGroup[] {
  const byKey = new Map<string, { items: string[]; seconds: number; reason: string }>();
  for (const [cidr, { seconds, tag }] of items) {
    const reason = `${options.reasonPrefix}${tag === '' ? 'untagged' : tag}`;
    const key = `${seconds} ${reason}`;
    let group = byKey.get(key);
    if (group === undefined) {
      group = { items: [], seconds, reason };
      byKey.set(key, group);
    }
    group.items.push(hostAddress(cidr));
  }
  return [...byKey.values()]
    .sort((a, b) => a.seconds - b.seconds || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0))
    .map((g) => ({ items: g.items, seconds: g.seconds, reason: g.reason, action: options.action }));
}

/** "192.0.2.1/32" -> "192.0.2.1" (what newCA takes). */
export function hostAddress(cidr: string): string {
  const slash = cidr.indexOf('/');
  return slash === -1 ? cidr : cidr.slice(0, slash);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
