// Small builders for rule requests and polling, shared by the integration tests.
import { Policy, type RuleSpec } from '../../src/generated/couic/v1/entry.js';
import { eventually as pollUntil } from './wait.js';

export { Policy };

export function spec(policy: Policy, cidr: string, extra: Partial<RuleSpec> = {}): RuleSpec {
  return { policy, cidr, tag: '', expiration: 0, metadata: undefined, ...extra };
}

export const dropSpec = (cidr: string, extra: Partial<RuleSpec> = {}): RuleSpec => spec(Policy.POLICY_DROP, cidr, extra);
export const ignoreSpec = (cidr: string, extra: Partial<RuleSpec> = {}): RuleSpec => spec(Policy.POLICY_IGNORE, cidr, extra);

/** `count` distinct IPv4 /32 CIDRs starting at the address `firstOctet`.0.0.0 + offset. */
export function v4Hosts(count: number, firstOctet = 10, offset = 0): string[] {
  const out: string[] = [];
  for (let i = offset; i < offset + count; i++) {
    out.push(`${firstOctet}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`);
  }
  return out;
}

/** `count` distinct IPv6 /128 CIDRs under 2001:db8:`group`::/48. */
export function v6Hosts(count: number, group = 1): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`2001:db8:${group.toString(16)}::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}/128`);
  return out;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Polls `probe` every `intervalMs` (default 100) until it returns true; false when `timeoutMs` passed. */
export function eventually(probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  return pollUntil(probe, timeoutMs, intervalMs);
}
