// Counts of the effective (enforced) entries per policy and family, and the prefix
// lengths in use: with the record table's key index this is the longest-prefix-match
// index (one probe per length in use, longest first), the same shape as the kernel's
// LPM trie answers, without a second per-rule structure.
import type { AddressFamily } from '../domain/cidr.js';
import { policyCode } from '../domain/rule-key.js';
import type { Policy } from '../domain/policy.js';

const LENGTHS = 129;

export class EffectiveIndex {
  /** [policyCode * 2 + familyIndex] */
  private readonly counts = new Float64Array(4);
  private readonly lengthCounts = new Int32Array(4 * LENGTHS);
  private readonly lengthsInUse: number[][] = [[], [], [], []];

  add(policy: Policy, family: AddressFamily, prefixLength: number): void {
    const t = tableOf(policy, family);
    this.counts[t] = (this.counts[t] ?? 0) + 1;
    const i = t * LENGTHS + prefixLength;
    const n = (this.lengthCounts[i] ?? 0) + 1;
    this.lengthCounts[i] = n;
    if (n === 1) {
      const lengths = this.lengthsInUse[t] as number[];
      lengths.push(prefixLength);
      lengths.sort((a, b) => b - a);
    }
  }

  remove(policy: Policy, family: AddressFamily, prefixLength: number): void {
    const t = tableOf(policy, family);
    this.counts[t] = (this.counts[t] ?? 0) - 1;
    const i = t * LENGTHS + prefixLength;
    const n = (this.lengthCounts[i] ?? 0) - 1;
    this.lengthCounts[i] = n;
    if (n === 0) this.lengthsInUse[t] = (this.lengthsInUse[t] as number[]).filter((l) => l !== prefixLength);
  }

  count(policy: Policy, family: AddressFamily): number {
    return this.counts[tableOf(policy, family)] ?? 0;
  }

  /** Prefix lengths with at least one effective entry, longest first. */
  lengths(policy: Policy, family: AddressFamily): readonly number[] {
    return this.lengthsInUse[tableOf(policy, family)] as number[];
  }
}

function tableOf(policy: Policy, family: AddressFamily): number {
  return policyCode(policy) * 2 + (family === 4 ? 0 : 1);
}
