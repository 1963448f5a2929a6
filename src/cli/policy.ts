// Translation between the CLI's words (`drop`, `ignore`, `api`...) and the protobuf
// enums, in one place so tables and JSON agree.
import type { Policy as PolicyName } from '../domain/policy.js';
import { EntrySource, Policy } from '../generated/couic/v1/entry.js';
import { Verdict } from '../generated/couic/v1/rules.js';
import { XdpAction } from '../generated/couic/v1/stats.js';

export type { PolicyName };

export function toProtoPolicy(policy: PolicyName): Policy {
  return policy === 'drop' ? Policy.POLICY_DROP : Policy.POLICY_IGNORE;
}

export function policyName(policy: Policy): string {
  switch (policy) {
    case Policy.POLICY_DROP:
      return 'drop';
    case Policy.POLICY_IGNORE:
      return 'ignore';
    default:
      return 'unspecified';
  }
}

export function sourceName(source: EntrySource): string {
  switch (source) {
    case EntrySource.ENTRY_SOURCE_API:
      return 'api';
    case EntrySource.ENTRY_SOURCE_SET:
      return 'set';
    case EntrySource.ENTRY_SOURCE_PEER:
      return 'peer';
    default:
      return 'unspecified';
  }
}

export function verdictName(verdict: Verdict): string {
  switch (verdict) {
    case Verdict.VERDICT_DROP:
      return 'drop';
    case Verdict.VERDICT_PASS:
      return 'pass';
    default:
      return 'unspecified';
  }
}

const ACTION_NAMES: Readonly<Record<number, string>> = {
  [XdpAction.XDP_ACTION_ABORTED]: 'ABORTED',
  [XdpAction.XDP_ACTION_DROP]: 'DROP',
  [XdpAction.XDP_ACTION_PASS]: 'PASS',
  [XdpAction.XDP_ACTION_TX]: 'TX',
  [XdpAction.XDP_ACTION_REDIRECT]: 'REDIRECT',
};

export function actionName(action: XdpAction): string {
  return ACTION_NAMES[action] ?? `UNKNOWN(${action})`;
}
