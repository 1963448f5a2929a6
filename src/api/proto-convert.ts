// Conversions between wire messages (src/generated) and domain values. The only
// place that knows both vocabularies.
import type { RuleEntry, EntrySource as DomainSource } from '../domain/entry.js';
import { InvalidArgumentError } from '../domain/errors.js';
import type { Policy as DomainPolicy } from '../domain/policy.js';
import { Entry, EntrySource, Policy } from '../generated/couic/v1/entry.js';

const POLICY_TO_WIRE: Record<DomainPolicy, Policy> = { drop: Policy.POLICY_DROP, ignore: Policy.POLICY_IGNORE };
const SOURCE_TO_WIRE: Record<DomainSource, EntrySource> = {
  api: EntrySource.ENTRY_SOURCE_API,
  set: EntrySource.ENTRY_SOURCE_SET,
  peer: EntrySource.ENTRY_SOURCE_PEER,
};

/** Reason a wire policy is unusable, or the domain policy. */
export function tryPolicyFromWire(policy: Policy): DomainPolicy | string {
  if (policy === Policy.POLICY_DROP) return 'drop';
  if (policy === Policy.POLICY_IGNORE) return 'ignore';
  return 'must be POLICY_DROP or POLICY_IGNORE';
}

export function policyFromWire(policy: Policy, field = 'policy'): DomainPolicy {
  const result = tryPolicyFromWire(policy);
  if (result !== 'drop' && result !== 'ignore') throw InvalidArgumentError.single(field, result);
  return result;
}

/** POLICY_UNSPECIFIED means "both" in list-like requests. */
export function optionalPolicyFromWire(policy: Policy, field = 'policy'): DomainPolicy | undefined {
  return policy === Policy.POLICY_UNSPECIFIED ? undefined : policyFromWire(policy, field);
}

export function policyToWire(policy: DomainPolicy): Policy {
  return POLICY_TO_WIRE[policy];
}

export function entryToWire(entry: RuleEntry): Entry {
  return {
    policy: POLICY_TO_WIRE[entry.policy],
    cidr: entry.cidr.text,
    tag: entry.tag,
    expiration: entry.expiration,
    createdAt: entry.createdAt,
    originNode: entry.originNode,
    source: SOURCE_TO_WIRE[entry.source],
    metadata:
      entry.metadata === undefined
        ? undefined
        : { kind: entry.metadata.kind, detail: entry.metadata.detail, extra: entry.metadata.extra },
  };
}
