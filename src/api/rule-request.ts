// Turns RuleSpec/RuleKey messages into validated domain values, collecting every bad
// field of a request (or of a whole batch) into one INVALID_ARGUMENT.
import { tryParseCidr, type Cidr } from '../domain/cidr.js';
import type { RuleEntry } from '../domain/entry.js';
import { ViolationCollector } from '../domain/errors.js';
import type { Policy } from '../domain/policy.js';
import { checkExpiration, checkTag } from '../domain/validation.js';
import type { RuleKey, RuleSpec } from '../generated/couic/v1/entry.js';
import { tryPolicyFromWire } from './proto-convert.js';

export const MAX_METADATA_BYTES = 4096;

export interface EntryDefaults {
  readonly nowSeconds: number;
  readonly originNode: string;
}

/** Validates specs; `prefix` names fields like `rules[3].cidr` in batches. */
export function entriesFromSpecs(
  specs: readonly RuleSpec[],
  defaults: EntryDefaults,
  prefix: (index: number) => string,
): RuleEntry[] {
  const violations = new ViolationCollector();
  const entries: RuleEntry[] = [];
  // Field names are built only for a rule with a problem: a valid rule of a big batch
  // costs its entry and its Cidr, no strings or closures besides.
  for (let index = 0; index < specs.length; index++) {
    const spec = specs[index] as RuleSpec;
    const policy = tryPolicyFromWire(spec.policy);
    const cidr = tryParseCidr(spec.cidr);
    const tagProblem = checkTag(spec.tag);
    const expirationProblem = checkExpiration(spec.expiration, defaults.nowSeconds);
    const metadataProblem = checkMetadata(spec);
    const valid = isPolicy(policy) && typeof cidr !== 'string';
    if (!valid || tagProblem !== undefined || expirationProblem !== undefined || metadataProblem !== undefined) {
      const at = prefix(index);
      violations.add(`${at}policy`, isPolicy(policy) ? undefined : policy);
      violations.add(`${at}cidr`, typeof cidr === 'string' ? cidr : undefined);
      violations.add(`${at}tag`, tagProblem);
      violations.add(`${at}expiration`, expirationProblem);
      violations.add(`${at}metadata`, metadataProblem);
    }
    if (!isPolicy(policy) || typeof cidr === 'string') continue;
    const metadata = spec.metadata;
    const entry: RuleEntry = {
      policy,
      cidr,
      tag: spec.tag,
      expiration: spec.expiration,
      createdAt: defaults.nowSeconds,
      originNode: defaults.originNode,
      source: 'api',
    };
    entries.push(
      metadata === undefined
        ? entry
        : { ...entry, metadata: { kind: metadata.kind, detail: metadata.detail, ...(metadata.extra ? { extra: metadata.extra } : {}) } },
    );
  }
  violations.throwIfAny();
  return entries;
}

export function keysFromWire(
  keys: readonly Pick<RuleKey, 'policy' | 'cidr'>[],
  prefix: (index: number) => string,
): { policy: Policy; cidr: Cidr }[] {
  const violations = new ViolationCollector();
  const out: { policy: Policy; cidr: Cidr }[] = [];
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as Pick<RuleKey, 'policy' | 'cidr'>;
    const policy = tryPolicyFromWire(key.policy);
    const cidr = tryParseCidr(key.cidr);
    if (isPolicy(policy) && typeof cidr !== 'string') {
      out.push({ policy, cidr });
      continue;
    }
    const at = prefix(index);
    violations.add(`${at}policy`, isPolicy(policy) ? undefined : policy);
    violations.add(`${at}cidr`, typeof cidr === 'string' ? cidr : undefined);
  }
  violations.throwIfAny();
  return out;
}

function isPolicy(value: string): value is Policy {
  return value === 'drop' || value === 'ignore';
}

function checkMetadata(spec: RuleSpec): string | undefined {
  if (spec.metadata === undefined) return undefined;
  const size = Buffer.byteLength(JSON.stringify(spec.metadata));
  return size > MAX_METADATA_BYTES ? `must be at most ${MAX_METADATA_BYTES} bytes of JSON (got ${size})` : undefined;
}
