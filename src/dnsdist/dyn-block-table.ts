// Parses what dnsdist 1.7.3 prints for showDynBlocks() and showRules(): 1.7.3 has no
// Lua accessor for the block table (getDynamicBlocks() came later), so its text is the
// only way to read it. Columns: What, Seconds (remaining), Blocks, Warning, Action
// (padded to 20 characters), Reason (rest of the line, may contain spaces).
import { tryParseCidr } from '../domain/cidr.js';

export interface DynBlockRow {
  /** A netmask ("127.0.0.2/32") or, for suffix blocks, a name without its trailing dot. */
  readonly what: string;
  readonly kind: 'netmask' | 'suffix';
  readonly remainingSeconds: number;
  readonly blocks: number;
  readonly warning: boolean;
  /** dnsdist's name of the action, e.g. "Drop", "Send Refused". */
  readonly action: string;
  readonly reason: string;
}

const ROW = /^(\S+)\s+(\d+)\s+(\d+)\s+(true|false)\s+(.*)$/;
const ACTION_WIDTH = 20;

export function parseDynBlocks(output: string): DynBlockRow[] {
  const rows: DynBlockRow[] = [];
  for (const line of output.split('\n')) {
    const m = ROW.exec(line);
    if (m === null) continue; // header, blank line
    const [, what = '', seconds = '0', blocks = '0', warning = 'false', rest = ''] = m;
    const { action, reason } = splitActionReason(rest);
    const cidr = tryParseCidr(what);
    const kind = typeof cidr === 'string' ? 'suffix' : 'netmask';
    rows.push({
      what: typeof cidr === 'string' ? what.replace(/\.$/, '') : cidr.text,
      kind,
      remainingSeconds: Number(seconds),
      blocks: Number(blocks),
      warning: warning === 'true',
      action,
      reason,
    });
  }
  return rows;
}

function splitActionReason(rest: string): { action: string; reason: string } {
  if (rest.length > ACTION_WIDTH && rest[ACTION_WIDTH] === ' ') {
    return { action: rest.slice(0, ACTION_WIDTH).trim(), reason: rest.slice(ACTION_WIDTH + 1) };
  }
  // Reason empty (the line may end after the padded action).
  return { action: rest.trim(), reason: '' };
}

/** Names of the rules in showRules() output (second column when present). */
export function parseRuleNames(output: string): string[] {
  const names: string[] = [];
  for (const line of output.split('\n')) {
    const m = /^(\d+)\s+(\S+)\s+\d+\s/.exec(line);
    if (m !== null && m[2] !== undefined) names.push(m[2]);
  }
  return names;
}
