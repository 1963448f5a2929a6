// How static sets look: a Policy / Name / Entries summary table, a CIDR table for
// `inspect`, and the JSON shapes documented in docs/cli.md.
import type { Argv } from 'yargs';
import type { SetChange, SetInfo } from '../../../generated/couic/v1/sets.js';
import { POLICIES } from '../../../domain/policy.js';
import { renderTable } from '../../output/table.js';
import { policyName } from '../../policy.js';

export interface SetJson {
  policy: string;
  name: string;
  entry_count: number;
  cidrs?: string[];
}

export function setJson(set: SetInfo, withCidrs: boolean): SetJson {
  const out: SetJson = { policy: policyName(set.policy), name: set.name, entry_count: set.entryCount };
  if (withCidrs) out.cidrs = [...set.cidrs];
  return out;
}

export function renderSets(sets: readonly SetInfo[]): string {
  return renderTable(
    ['Policy', 'Name', 'Entries'],
    sets.map((set) => [policyName(set.policy), set.name, String(set.entryCount)]),
  );
}

export interface SetChangeJson {
  policy: string;
  name: string;
  added: number;
  removed: number;
}

export function setChangeJson(change: SetChange): SetChangeJson {
  return { policy: policyName(change.policy), name: change.name, added: change.added, removed: change.removed };
}

export function renderSetChanges(changes: readonly SetChange[]): string {
  return renderTable(
    ['Policy', 'Name', 'Added', 'Removed'],
    changes.map((change) => [policyName(change.policy), change.name, String(change.added), String(change.removed)]),
  );
}

/** The `POLICY NAME` positionals shared by inspect, create, update and delete. */
export function withSetKey<T>(yargs: Argv<T>) {
  return yargs
    .positional('policy', { choices: POLICIES, demandOption: true, describe: 'drop or ignore' })
    .positional('name', { type: 'string', demandOption: true, describe: 'Set name (file name without .couic)' });
}
