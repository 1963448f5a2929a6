// How rule entries look in couicctl: the reference's four-column table (remaining
// time from now) and the stable JSON shape documented in docs/cli.md.
import type { Entry } from '../../../generated/couic/v1/entry.js';
import type { CliContext } from '../../context.js';
import { formatRemaining } from '../../output/duration.js';
import { writeJson } from '../../output/json.js';
import { renderTable } from '../../output/table.js';
import { policyName, sourceName } from '../../policy.js';

export interface MetadataJson {
  kind: string;
  detail: string;
  extra: Record<string, unknown> | null;
}

export interface EntryJson {
  policy: string;
  cidr: string;
  tag: string;
  /** Absolute UNIX seconds, 0 = never. */
  expiration: number;
  created_at: number;
  origin_node: string;
  source: string;
  metadata: MetadataJson | null;
}

export function entryJson(entry: Entry): EntryJson {
  const metadata = entry.metadata;
  return {
    policy: policyName(entry.policy),
    cidr: entry.cidr,
    tag: entry.tag,
    expiration: entry.expiration,
    created_at: entry.createdAt,
    origin_node: entry.originNode,
    source: sourceName(entry.source),
    metadata: metadata === undefined ? null : { kind: metadata.kind, detail: metadata.detail, extra: metadata.extra ?? null },
  };
}

export const RULE_HEADERS = ['Policy', 'CIDR', 'Tag', 'Expiration'] as const;

export function ruleRow(entry: Entry, nowMs: number): string[] {
  return [policyName(entry.policy), entry.cidr, entry.tag, formatRemaining(entry.expiration, nowMs)];
}

export function renderRules(entries: readonly Entry[], nowMs: number): string {
  return renderTable(RULE_HEADERS, entries.map((entry) => ruleRow(entry, nowMs)));
}

/** `inspect` adds where the rule comes from. */
export function renderRuleDetails(entry: Entry, nowMs: number): string {
  const created = entry.createdAt === 0 ? '' : new Date(entry.createdAt * 1000).toISOString().replace('.000Z', 'Z');
  const headers = [...RULE_HEADERS, 'Created', 'Origin', 'Source'];
  let table = renderTable(headers, [[...ruleRow(entry, nowMs), created, entry.originNode, sourceName(entry.source)]]);
  const metadata = entry.metadata;
  if (metadata !== undefined && (metadata.kind !== '' || metadata.detail !== '' || metadata.extra !== undefined)) {
    table += renderTable(['Kind', 'Detail', 'Extra'], [[metadata.kind, metadata.detail, metadata.extra === undefined ? '' : JSON.stringify(metadata.extra)]]);
  }
  return table;
}

/** A single-entry answer (add, delete), as a table or JSON. */
export function printEntry(ctx: CliContext, entry: Entry | undefined, json: boolean): void {
  if (entry === undefined) throw new Error('the server answered without an entry');
  if (json) writeJson(ctx.stdout, entryJson(entry));
  else ctx.stdout.write(renderRules([entry], ctx.clock.nowMs()));
}
