// Random rule sets for the table compiler's tests (unit, on the fake; differential,
// on the kernel): nested prefixes, ignore inside drop and drop inside ignore,
// every prefix length, deletes that must restore a covering rule, tag-changing
// replacements; and the source addresses worth probing (random, and at the edges
// of every rule). The oracle is src/domain/lpm.ts: longest ignore wins, else the
// longest drop.
import type { Address, Cidr } from '../../../src/domain/cidr.js';
import { maskBytes } from '../../../src/domain/cidr.js';
import { LpmTable } from '../../../src/domain/lpm.js';
import type { Policy } from '../../../src/domain/policy.js';
import { verdictValue } from '../../../src/dataplane/xdp/table-compiler.js';

export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

export interface RandomRule {
  readonly policy: Policy;
  readonly cidr: Cidr;
  readonly tag: string;
}

function cidrOf(family: 4 | 6, bytes: Uint8Array, prefixLength: number): Cidr {
  const masked = maskBytes(bytes, prefixLength);
  return { family, bytes: masked, prefixLength, text: `${Buffer.from(masked).toString('hex')}/${prefixLength}` };
}

function randomBytes(next: () => number, n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = Math.floor(next() * 256);
  return bytes;
}

/** A random length, biased to both ends and to the /24 boundary the tables split at. */
function randomLength(next: () => number, max: number, veryShort: number): number {
  const r = next();
  // A few /1-/8 only: more would cover the whole space.
  if (r < veryShort) return 1 + Math.floor(next() * 8);
  if (r < 0.3) return Math.min(max, 22 + Math.floor(next() * 5));
  if (r < 0.5) return max - Math.floor(next() * 4);
  return 9 + Math.floor(next() * (max - 8));
}

export interface Scenario {
  /** Rule batches: each is applied, the last state is probed. */
  readonly steps: { upserts: RandomRule[]; removals: { policy: Policy; cidr: Cidr }[] }[];
}

/**
 * Steps of random changes for one family: each rule nests inside an earlier one
 * half of the time (so ignore-in-drop and drop-in-ignore occur), some are
 * replaced with another tag, some deleted.
 */
export function randomScenario(seed: number, family: 4 | 6, rules: number, steps: number, tags = 6): Scenario {
  const next = rng(seed);
  const size = family === 4 ? 4 : 16;
  const max = family === 4 ? 32 : 128;
  const live = new Map<string, RandomRule>();
  // A few roots the rules cluster under, so that they overlap.
  const roots = Array.from({ length: 4 }, () => randomBytes(next, size));
  const out: Scenario['steps'] = [];
  for (let step = 0; step < steps; step++) {
    const upserts: RandomRule[] = [];
    const removals: { policy: Policy; cidr: Cidr }[] = [];
    const perStep = Math.ceil(rules / steps);
    for (let i = 0; i < perStep; i++) {
      const existing = [...live.values()];
      const r = next();
      if (step > 0 && r < 0.2 && existing.length > 0) {
        const victim = existing[Math.floor(next() * existing.length)] as RandomRule;
        live.delete(`${victim.policy}:${victim.cidr.text}`);
        removals.push({ policy: victim.policy, cidr: victim.cidr });
        continue;
      }
      if (r < 0.3 && existing.length > 0) {
        // Same prefix and policy, another tag.
        const old = existing[Math.floor(next() * existing.length)] as RandomRule;
        const rule = { ...old, tag: `t${Math.floor(next() * tags)}` };
        live.set(`${rule.policy}:${rule.cidr.text}`, rule);
        upserts.push(rule);
        continue;
      }
      let bytes: Uint8Array;
      let length: number;
      if (r < 0.65 && existing.length > 0) {
        // Inside an existing rule, longer.
        const parent = existing[Math.floor(next() * existing.length)] as RandomRule;
        if (parent.cidr.prefixLength >= max) continue;
        // Mostly a little longer than its parent (so that the nesting goes deep).
        const room = max - parent.cidr.prefixLength;
        length = parent.cidr.prefixLength + 1 + Math.floor(next() * next() * room);
        bytes = randomBytes(next, size);
        const keep = parent.cidr.bytes;
        for (let b = 0; b < parent.cidr.prefixLength; b++) {
          const byte = b >> 3;
          const bit = 0x80 >> (b & 7);
          bytes[byte] = ((bytes[byte] ?? 0) & ~bit) | ((keep[byte] ?? 0) & bit);
        }
      } else {
        length = randomLength(next, max, 6 / rules);
        bytes = randomBytes(next, size);
        const root = roots[Math.floor(next() * roots.length)] as Uint8Array;
        // Mostly near a root (first 2 bytes shared), sometimes anywhere.
        if (next() < 0.8) {
          bytes[0] = root[0] ?? 0;
          bytes[1] = root[1] ?? 0;
        }
      }
      const policy: Policy = next() < 0.5 ? 'drop' : 'ignore';
      const rule = { policy, cidr: cidrOf(family, bytes, length), tag: next() < 0.1 ? '' : `t${Math.floor(next() * tags)}` };
      live.set(`${policy}:${rule.cidr.text}`, rule);
      upserts.push(rule);
    }
    out.push({ upserts, removals });
  }
  return { steps: out };
}

/** The oracle: the rules in force after `steps`, as the store's LPM tables hold them. */
export class Oracle {
  readonly tables: Record<Policy, LpmTable<string>> = { drop: new LpmTable(), ignore: new LpmTable() };
  readonly deletedOnce: Cidr[] = [];

  apply(step: Scenario['steps'][number]): void {
    for (const { policy, cidr } of step.removals) {
      this.tables[policy].delete(cidr);
      this.deletedOnce.push(cidr);
    }
    for (const { policy, cidr, tag } of step.upserts) this.tables[policy].set(cidr, tag);
  }

  /** The expected verdict, given how tags map to slots. */
  verdict(address: Address, slotOf: (tag: string) => number): number {
    const ignore = this.tables.ignore.lookup(address);
    const drop = this.tables.drop.lookup(address);
    return verdictValue(ignore === undefined ? undefined : slotOf(ignore.value), drop === undefined ? undefined : slotOf(drop.value));
  }
}

/**
 * Source addresses to probe: `random` uniformly random ones, plus for every rule
 * (and every rule once deleted) its first and last address and the addresses
 * just outside it.
 */
export function probeAddresses(seed: number, family: 4 | 6, scenario: Scenario, random: number): Address[] {
  const next = rng(seed);
  const size = family === 4 ? 4 : 16;
  const out: Address[] = [];
  const add = (bytes: Uint8Array): void => {
    out.push({ family, bytes, text: Buffer.from(bytes).toString('hex') });
  };
  for (let i = 0; i < random; i++) add(randomBytes(next, size));
  const seen = new Set<string>();
  for (const step of scenario.steps) {
    for (const cidr of [...step.upserts.map((u) => u.cidr), ...step.removals.map((r) => r.cidr)]) {
      if (seen.has(cidr.text)) continue;
      seen.add(cidr.text);
      const first = Uint8Array.from(cidr.bytes);
      const last = Uint8Array.from(cidr.bytes);
      for (let b = cidr.prefixLength; b < size * 8; b++) last[b >> 3] = (last[b >> 3] ?? 0) | (0x80 >> (b & 7));
      add(first);
      add(last);
      add(step3(first, -1));
      add(step3(last, 1));
      // One random address inside.
      const inside = randomBytes(next, size);
      for (let b = 0; b < cidr.prefixLength; b++) {
        const byte = b >> 3;
        const bit = 0x80 >> (b & 7);
        inside[byte] = ((inside[byte] ?? 0) & ~bit) | ((first[byte] ?? 0) & bit);
      }
      add(inside);
    }
  }
  return out;
}

/** The address `delta` (+1/-1) away, wrapping. */
function step3(bytes: Uint8Array, delta: 1 | -1): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = out.length - 1; i >= 0; i--) {
    const v = (out[i] ?? 0) + delta;
    out[i] = v & 0xff;
    if (v >= 0 && v <= 255) break;
  }
  return out;
}
