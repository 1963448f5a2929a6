// What couic's rules ask of a dnsdist, computed purely from the mirrored rules:
// single-address drops become dynamic blocks (addDynBlocks), wider drops entries of the
// netmask-group rule; a drop inside or equal to an ignore is left out (ignore wins),
// and every ignore becomes a "!" exception of the netmask group so a narrower ignore
// inside a wider drop stays answered (dnsdist's group matches the longest mask).
import { tryParseCidr } from '../domain/cidr.js';
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

export function computeDesiredBlocks(rules: Iterable<MirroredRule>, nowSeconds: number): DesiredBlocks {
  const live: MirroredRule[] = [];
  const ignores: string[] = [];
  for (const rule of rules) {
    if (rule.expiration !== 0 && rule.expiration <= nowSeconds) continue;
    if (rule.policy === 'ignore') ignores.push(rule.cidr);
    else live.push(rule);
  }
  const ignoreIndex = IgnoreIndex.from(ignores);
  const hosts = new Map<string, DesiredHost>();
  const wide: string[] = [];
  let nextExpiry: number | undefined;
  let ignoredDrops = 0;
  for (const rule of live) {
    const cidr = tryParseCidr(rule.cidr);
    if (typeof cidr === 'string') continue; // couic only sends canonical CIDRs
    if (ignoreIndex.covers(cidr)) {
      ignoredDrops++;
      continue;
    }
    if (rule.expiration !== 0 && (nextExpiry === undefined || rule.expiration < nextExpiry)) nextExpiry = rule.expiration;
    const full = cidr.family === 4 ? 32 : 128;
    if (cidr.prefixLength === full) hosts.set(cidr.text, { expiration: rule.expiration, tag: rule.tag });
    else wide.push(cidr.text);
  }
  wide.sort();
  const netmasks = wide.length === 0 ? [] : [...wide, ...[...ignoreIndex.all()].sort().map((c) => `!${c}`)];
  return { hosts, netmasks, nextExpiry, ignoredDrops };
}
