// Differential reload of static sets: compare what is applied with what the files now
// say, so a reload touches only the differences and unchanged entries stay in place
// (no window where a blocked range is briefly let through). Pure: plain data in/out.
import { parseCidr, type Cidr } from '../domain/cidr.js';
import { POLICIES, type Policy } from '../domain/policy.js';

export interface SetRef {
  readonly policy: Policy;
  readonly name: string;
}

/** A set as currently applied: canonical CIDR texts (non-canonical ones are normalised). */
export interface AppliedSet extends SetRef {
  readonly cidrs: ReadonlySet<string> | readonly string[];
}

/** A set as just loaded from its file (same shape as SetRepository's LoadedSet). */
export interface NewSet extends SetRef {
  readonly cidrs: readonly Cidr[];
}

export type SetStatus = 'added' | 'changed' | 'unchanged' | 'removed';

export interface SetDelta extends SetRef {
  /** added: new file; removed: file gone (all its entries in `removed`). */
  readonly status: SetStatus;
  readonly added: Cidr[];
  readonly removed: Cidr[];
  /** Entries present before and after. */
  readonly unchanged: number;
}

/** One entry the rule store must (re)write: the CIDR and the set that now owns it. */
export interface SetEntryUpsert {
  readonly cidr: Cidr;
  readonly set: string;
}

/**
 * What a store keyed by (policy, cidr) must do. A CIDR listed in several sets of one
 * policy is a single entry owned by the first of them in name order; removing it from
 * one set while another still lists it is an owner change (upsert), not a removal.
 */
export interface PolicyDelta {
  readonly policy: Policy;
  /** New entries, and entries whose owning set changed (tag must be updated). */
  readonly upserts: SetEntryUpsert[];
  /** Entries no set of this policy lists any more. */
  readonly removals: Cidr[];
}

export interface SetsDiff {
  /** Every set seen before or after, drop first then ignore, by name. */
  readonly sets: SetDelta[];
  readonly addedSets: SetRef[];
  readonly removedSets: SetRef[];
  readonly byPolicy: PolicyDelta[];
}

export function setKey(ref: SetRef): string {
  return `${ref.policy}/${ref.name}`;
}

/** What to remember as "applied" once `sets` have been applied. */
export function toAppliedSets(sets: readonly NewSet[]): AppliedSet[] {
  return sets.map((s) => ({ policy: s.policy, name: s.name, cidrs: new Set(s.cidrs.map((c) => c.text)) }));
}

export function diffSets(applied: Iterable<AppliedSet>, loaded: Iterable<NewSet>): SetsDiff {
  const before = new Map<string, Indexed>();
  for (const set of applied) {
    const into = entryFor(before, set);
    for (const text of set.cidrs) {
      const cidr = parseCidr(text, `applied set ${setKey(set)}`);
      into.cidrs.set(cidr.text, cidr);
    }
  }
  const after = new Map<string, Indexed>();
  for (const set of loaded) {
    const into = entryFor(after, set);
    for (const cidr of set.cidrs) into.cidrs.set(cidr.text, cidr);
  }

  const refs: SetRef[] = [...after.values()];
  for (const [key, set] of before) if (!after.has(key)) refs.push(set);
  refs.sort(compareRefs);
  const sets = refs.map((ref) => deltaOf(ref, before.get(setKey(ref)), after.get(setKey(ref))));
  return {
    sets,
    addedSets: sets.filter((d) => d.status === 'added').map(refOf),
    removedSets: sets.filter((d) => d.status === 'removed').map(refOf),
    byPolicy: POLICIES.map((policy) => policyDelta(policy, before, after)),
  };
}

interface Indexed extends SetRef {
  readonly cidrs: Map<string, Cidr>;
}

function entryFor(map: Map<string, Indexed>, ref: SetRef): Indexed {
  const key = setKey(ref);
  let entry = map.get(key);
  if (entry === undefined) {
    entry = { policy: ref.policy, name: ref.name, cidrs: new Map() };
    map.set(key, entry);
  }
  return entry;
}

function deltaOf(ref: SetRef, before: Indexed | undefined, after: Indexed | undefined): SetDelta {
  const old = before?.cidrs ?? new Map<string, Cidr>();
  const now = after?.cidrs ?? new Map<string, Cidr>();
  const added = [...now.values()].filter((c) => !old.has(c.text));
  const removed = [...old.values()].filter((c) => !now.has(c.text));
  const unchanged = now.size - added.length;
  let status: SetStatus;
  if (before === undefined) status = 'added';
  else if (after === undefined) status = 'removed';
  else status = added.length === 0 && removed.length === 0 ? 'unchanged' : 'changed';
  return { policy: ref.policy, name: ref.name, status, added, removed, unchanged };
}

/** CIDR text -> owning set name (first in name order) for one policy. */
function owners(policy: Policy, sets: Map<string, Indexed>): Map<string, { cidr: Cidr; set: string }> {
  const result = new Map<string, { cidr: Cidr; set: string }>();
  const ofPolicy = [...sets.values()].filter((s) => s.policy === policy).sort(compareRefs);
  for (const set of ofPolicy) {
    for (const cidr of set.cidrs.values()) {
      if (!result.has(cidr.text)) result.set(cidr.text, { cidr, set: set.name });
    }
  }
  return result;
}

function policyDelta(policy: Policy, before: Map<string, Indexed>, after: Map<string, Indexed>): PolicyDelta {
  const old = owners(policy, before);
  const now = owners(policy, after);
  const upserts: SetEntryUpsert[] = [];
  for (const [text, owner] of now) {
    if (old.get(text)?.set !== owner.set) upserts.push(owner);
  }
  const removals = [...old.entries()].filter(([text]) => !now.has(text)).map(([, owner]) => owner.cidr);
  return { policy, upserts, removals };
}

function compareRefs(a: SetRef, b: SetRef): number {
  const byPolicy = POLICIES.indexOf(a.policy) - POLICIES.indexOf(b.policy);
  if (byPolicy !== 0) return byPolicy;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function refOf(delta: SetDelta): SetRef {
  return { policy: delta.policy, name: delta.name };
}
