// Publish, pure part: which of the dnsdist's own blocks to add to couic. Own = not
// installed by this bridge (reason prefix, and not among the hosts it applied), so a
// block learned from couic is never published back. A block is published when new, or
// when the dnsdist extended it (its end moved later by more than the slack); its
// reason becomes the tag (tags allow [A-Za-z0-9_-], 64 characters) and stays whole in
// the metadata, its end becomes the expiration.
import { Policy, type RuleSpec } from '../generated/couic/v1/entry.js';
import type { DynBlockRow } from './dyn-block-table.js';
import { SLACK_SECONDS } from './reconciler.js';

export interface PublishOptions {
  readonly reasonPrefix: string;
  readonly publishNetmasks: boolean;
  /** Suffix rows are selected too, for a couic that has suffix rules (not yet: see README). */
  readonly publishSuffixes: boolean;
}

export interface PublishSelection {
  readonly netmaskRules: RuleSpec[];
  /** Suffix blocks the dnsdist made (name, end, reason), for the suffix port. */
  readonly suffixes: { readonly name: string; readonly expiration: number; readonly reason: string }[];
  /** What has been published once these calls succeed: key -> end (UNIX seconds). */
  readonly nextPublished: Map<string, number>;
}

export function selectPublications(
  rows: readonly DynBlockRow[],
  installedByBridge: ReadonlyMap<string, unknown>,
  published: ReadonlyMap<string, number>,
  nowSeconds: number,
  options: PublishOptions,
): PublishSelection {
  const netmaskRules: RuleSpec[] = [];
  const suffixes: PublishSelection['suffixes'] = [];
  const nextPublished = new Map<string, number>();
  for (const row of rows) {
    if (row.reason.startsWith(options.reasonPrefix) || row.remainingSeconds <= 0) continue;
    if (row.kind === 'netmask' ? !options.publishNetmasks : !options.publishSuffixes) continue;
    if (row.kind === 'netmask' && installedByBridge.has(row.what)) continue;
    const key = `${row.kind} ${row.what}`;
    const end = nowSeconds + row.remainingSeconds;
    const before = published.get(key);
    if (before !== undefined && before >= end - SLACK_SECONDS) {
      nextPublished.set(key, before);
      continue;
    }
    nextPublished.set(key, end);
    if (row.kind === 'netmask') {
      netmaskRules.push({
        policy: Policy.POLICY_DROP,
        cidr: row.what,
        tag: reasonTag(row.reason),
        expiration: end,
        metadata: { kind: 'dnsdist', detail: row.reason, extra: undefined },
      });
    } else {
      suffixes.push({ name: row.what, expiration: end, reason: row.reason });
    }
  }
  return { netmaskRules, suffixes, nextPublished };
}

/** A dnsdist reason as a couic tag: "Exceeded query rate" -> "Exceeded_query_rate". */
export function reasonTag(reason: string): string {
  let tag = reason.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64);
  if (tag === '') tag = 'dnsdist';
  if (tag.toLowerCase() === 'untagged') tag = 'dnsdist-untagged';
  return tag;
}
