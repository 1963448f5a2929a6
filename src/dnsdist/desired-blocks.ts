// What couic's rules ask of a dnsdist, computed purely from the mirrored rules:
// single-address drops become dynamic blocks (addDynBlocks), wider drops entries of the
// netmask-group rule; a drop inside or equal to an ignore is left out (ignore wins),
// and every ignore becomes a "!" exception of the netmask group so a narrower ignore
// inside a wider drop stays answered (dnsdist's group matches the longest mask).
import { tryParseCidr, type Cidr } from '../domain/cidr.js';
import { IgnoreIndex } from './ignore-index.js';
import type { MirroredRule } from './mirrored-rule.js';

export interface DesiredHost {
  /** Absolute UNIX seconds; 0 = never. */
  readonly expiration: number;
  readonly tag: string;
}

export interface DesiredBlocks {
  /** By CIDR text of the single address ("192.0.2.1/32", "2001:db8::1/128"). */
  readonly hosts: ReadonlyMap<string, DesiredHost>;
  /** Netmask-group entries, sorted: drops, then "!ignore" exceptions; empty when no wide drop. */
  readonly netmasks: readonly string[];
  /** Earliest expiration among what is blocked (UNIX seconds), to look again then. */
  readonly nextExpiry: number | undefined;
  /** Drops left out because an ignore covers them. */
  readonly ignoredDrops: number;
}

/** Parses a rule's CIDR; undefined for one that does not parse (couic sends canonical ones). */
export type RuleCidrParser = (rule: MirroredRule) => Cidr | undefined;

export function parseRuleCidr(rule: MirroredRule): Cidr | undefined {
  const cidr = tryParseCidr(rule.cidr);
  return typeof cidr === 'string' ? undefined : cidr;
}

/**
 * A parser that remembers each rule object's CIDR: the mirror keeps a rule's object
 * until it changes, so every batch tick after the first parses only what changed
 * (parsing dominated a tick with 524,288 rules held).
 */
export function cachedRuleCidrParser(): RuleCidrParser {
  const cache = new WeakMap<MirroredRule, Cidr | null>();
  return (rule) => {
    const known = cache.get(rule);
    if (known !== undefined) return known ?? undefined;
    const parsed = parseRuleCidr(rule);
    cache.set(rule, parsed ?? null);
    return parsed;
  };
}

/** Canonical CIDR text names a single address when it ends in /32 (IPv4) or /128. */
function isHostText(cidr: string): boolean {
  return cidr.endsWith('/128') || (cidr.endsWith('/32') && !cidr.includes(':'));
}

export function computeDesiredBlocks(rules: Iterable<MirroredRule>, nowSeconds: number, parse: RuleCidrParser = parseRuleCidr): DesiredBlocks {
  const live: MirroredRule[] = [];
  const ignores: string[] = [];
  for (const rule of rules) {
    if (rule.expiration !== 0 && rule.expiration <= nowSeconds) continue;
    if (rule.policy === 'ignore') ignores.push(rule.cidr);
    else live.push(rule);
  }
  // Without ignores nothing needs the CIDR's bytes: the canonical text says host or not.
  const ignoreIndex = ignores.length === 0 ? undefined : IgnoreIndex.from(ignores);
  const hosts = new Map<string, DesiredHost>();
  const wide: string[] = [];
  let nextExpiry: number | undefined;
  let ignoredDrops = 0;
  for (const rule of live) {
    if (ignoreIndex !== undefined) {
      const cidr = parse(rule);
      if (cidr === undefined) continue;
      if (ignoreIndex.covers(cidr)) {
        ignoredDrops++;
        continue;
      }
    }
    if (rule.expiration !== 0 && (nextExpiry === undefined || rule.expiration < nextExpiry)) nextExpiry = rule.expiration;
    if (isHostText(rule.cidr)) hosts.set(rule.cidr, { expiration: rule.expiration, tag: rule.tag });
    else wide.push(rule.cidr);
  }
  wide.sort();
  const netmasks = wide.length === 0 || ignoreIndex === undefined ? wide : [...wide, ...[...ignoreIndex.all()].sort().map((c) => `!${c}`)];
  return { hosts, netmasks, nextExpiry, ignoredDrops };
}
