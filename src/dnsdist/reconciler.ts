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

export interface AppliedHost {
  /** When dnsdist lifts the block (UNIX seconds; the bucketed lifetime may overshoot). */
  readonly until: number;
  /** The rule's own end when it was installed (UNIX seconds). */
  readonly end: number;
}

export interface AppliedBlocks {
  /** Host blocks the bridge installed, by CIDR text. */
  readonly hosts: ReadonlyMap<string, AppliedHost>;
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
  /**
   * Applied-host entries to set once the plan has run (after a rebuild: all of them,
   * replacing the old ones). A diff rather than a copy: with 500k hosts held, copying
   * the applied map on every tick cost more than the rest of the plan.
   */
  readonly hostUpdates: ReadonlyMap<string, AppliedHost>;
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
  const endOf = (expiration: number): number => (expiration === 0 ? nowSeconds + NEVER_SECONDS : expiration);
  let rebuild = applied === undefined;
  if (applied !== undefined) {
    for (const [cidr, host] of applied.hosts) {
      if (host.until <= nowSeconds + SLACK_SECONDS) continue; // dnsdist lifts it itself
      const wanted = desired.hosts.get(cidr);
      // Gone (deleted, expired with an overshooting block, now ignored) or shortened.
      if (wanted === undefined || endOf(wanted.expiration) < host.end - SLACK_SECONDS) {
        rebuild = true;
        break;
      }
    }
  }

  const hostUpdates = new Map<string, AppliedHost>();
  const toInstall: [string, { seconds: number; tag: string }][] = [];
  for (const [cidr, host] of desired.hosts) {
    const end = endOf(host.expiration);
    if (end <= nowSeconds) continue;
    const current = rebuild ? undefined : applied?.hosts.get(cidr);
    // Covered while dnsdist's block lasts at least as long as the rule (a rounded-up
    // bucket is not re-added as time moves on).
    if (current !== undefined && current.until > nowSeconds && current.until >= end - SLACK_SECONDS) {
      if (current.end !== end) hostUpdates.set(cidr, { until: current.until, end });
      continue;
    }
    const seconds = lifetimeBucket(end - nowSeconds);
    toInstall.push([cidr, { seconds, tag: host.tag }]);
    hostUpdates.set(cidr, { until: nowSeconds + seconds, end });
  }

  const groups = groupBlocks(toInstall, options);
  const hosts: HostPlan = rebuild ? { kind: 'rebuild', groups } : groups.length > 0 ? { kind: 'add', groups } : { kind: 'none' };
  const netmasksChanged = applied === undefined || !sameList(applied.netmasks, desired.netmasks);
  return { hosts, netmasks: netmasksChanged ? desired.netmasks : undefined, hostUpdates };
}

/**
 * The applied state after `plan` ran on `applied` (mutating the map when there is one:
 * the applier owns it). Entries dnsdist has lifted by now are dropped.
 */
export function applyPlan(applied: AppliedBlocks | undefined, plan: BlockPlan, desired: DesiredBlocks, nowSeconds: number): AppliedBlocks {
  const hosts = plan.hosts.kind === 'rebuild' || applied === undefined ? new Map<string, AppliedHost>() : (applied.hosts as Map<string, AppliedHost>);
  for (const [cidr, host] of plan.hostUpdates) hosts.set(cidr, host);
  if (plan.hosts.kind !== 'rebuild') for (const [cidr, host] of hosts) if (host.until <= nowSeconds) hosts.delete(cidr);
  return { hosts, netmasks: desired.netmasks };
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
