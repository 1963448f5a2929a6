// The text format of a static set (`<name>.couic`): one CIDR per line, `#` starts a
// comment (whole line or trailing), blank lines ignored. Pure: no I/O.
import { tryParseCidr, type Cidr } from '../domain/cidr.js';
import type { Policy } from '../domain/policy.js';

export const SET_FILE_SUFFIX = '.couic';
/** Largest set file accepted, in bytes (as in the reference). */
export const MAX_SET_FILE_BYTES = 5 * 1024 * 1024;

export interface SetLineError {
  /** 1-based line number. */
  readonly line: number;
  readonly message: string;
}

export interface ParsedSetFile {
  readonly policy: Policy;
  readonly name: string;
  /** Normalised, duplicates folded, in order of first appearance. */
  readonly cidrs: Cidr[];
  readonly errors: SetLineError[];
}

export interface SetFileOrigin {
  readonly policy: Policy;
  readonly name: string;
}

export function parseSetFile(text: string, origin: SetFileOrigin): ParsedSetFile {
  const cidrs: Cidr[] = [];
  const errors: SetLineError[] = [];
  const seen = new Set<string>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const hash = raw.indexOf('#');
    const content = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (content === '') return;
    const cidr = tryParseCidr(content);
    if (typeof cidr === 'string') {
      errors.push({ line: index + 1, message: `"${truncate(content)}": ${cidr}` });
      return;
    }
    if (seen.has(cidr.text)) return;
    seen.add(cidr.text);
    cidrs.push(cidr);
  });
  return { policy: origin.policy, name: origin.name, cidrs, errors };
}

/** File content written by the API: a header comment, then one normalised CIDR per line. */
export function formatSetFile(origin: SetFileOrigin, cidrs: readonly Cidr[]): string {
  const header = [
    `# couic static set "${origin.name}" (policy ${origin.policy}), ${cidrs.length} entries.`,
    '# One CIDR per line; "#" starts a comment. Apply edits with: couicctl sets reload',
  ];
  return [...header, ...cidrs.map((c) => c.text)].join('\n') + '\n';
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
