// Distinct rules for the benchmarks: /32 and /128 host rules numbered from a counter,
// so every run inserts rules the store has never seen (no replace fast path).
import { Policy } from '../../src/generated/couic/v1/entry.js';
import type { RuleSpec } from '../../src/generated/couic/v1/entry.js';

export type Family = 'v4' | 'v6';

/** Expiry one hour ahead, like attack rules: the expiry queue is part of the cost. */
const EXPIRY_SECONDS = 3_600;

export class RuleSpecSource {
  private nextV4 = 0x10_00_00_00; // 16.0.0.0 upwards
  private nextV6 = 1;

  constructor(private readonly tag = 'bench', private readonly nowSeconds = () => Math.floor(Date.now() / 1000)) {}

  /** `count` new rules of one family (drop unless told). */
  take(family: Family, count: number, policy: Policy = Policy.POLICY_DROP): RuleSpec[] {
    const expiration = this.nowSeconds() + EXPIRY_SECONDS;
    const specs: RuleSpec[] = new Array<RuleSpec>(count);
    for (let i = 0; i < count; i++) {
      const cidr = family === 'v4' ? v4Cidr(this.nextV4++) : v6Cidr(this.nextV6++);
      specs[i] = { policy, cidr, tag: this.tag, expiration, metadata: undefined };
    }
    return specs;
  }
}

function v4Cidr(n: number): string {
  if (n > 0xdf_ff_ff_ff) throw new RangeError('ran out of IPv4 benchmark addresses');
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/32`;
}

function v6Cidr(n: number): string {
  return `2001:db8:${((n / 2 ** 32) & 0xffff).toString(16)}::${((n >>> 16) & 0xffff).toString(16)}:${(n & 0xffff).toString(16)}/128`;
}
