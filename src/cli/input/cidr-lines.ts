// Reads CIDR lists given with --from-file: one CIDR per line, `#` comments and blank
// lines ignored (the set-file format). Lines are checked here so a mistake is
// reported with its file and line number rather than as an index into the batch.
import { tryParseCidr } from '../../domain/cidr.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';

const MAX_REPORTED = 5;

/** The CIDRs of a list file's text; throws UsageError listing the first bad lines. */
export function parseCidrLines(text: string, fileName: string): string[] {
  const cidrs: string[] = [];
  const problems: string[] = [];
  let badCount = 0;
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index] ?? '';
    const hash = raw.indexOf('#');
    const value = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (value === '') continue;
    const parsed = tryParseCidr(value);
    if (typeof parsed === 'string') {
      badCount += 1;
      if (problems.length < MAX_REPORTED) problems.push(`${fileName}:${index + 1}: "${value}": ${parsed}`);
      continue;
    }
    cidrs.push(value);
  }
  if (badCount > 0) {
    const more = badCount > problems.length ? ` (and ${badCount - problems.length} more bad lines)` : '';
    throw new UsageError(`${problems.join('; ')}${more}`);
  }
  return cidrs;
}

/** Positional CIDRs followed by those of --from-file (when given). */
export async function collectCidrs(ctx: CliContext, positional: readonly string[] | undefined, fromFile: string | undefined): Promise<string[]> {
  const cidrs = [...(positional ?? [])];
  if (fromFile !== undefined) {
    let text: string;
    try {
      text = await ctx.readText(fromFile);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
      throw new UsageError(`--from-file: cannot read ${fromFile}: ${reason}`);
    }
    // A loop, not push(...): a file may hold 589,824 lines, beyond the argument limit.
    for (const cidr of parseCidrLines(text, fromFile === '-' ? 'stdin' : fromFile)) cidrs.push(cidr);
  }
  return cidrs;
}

/**
 * The daemon's largest AddRules/DeleteRules batch (MAX_BATCH in the rules service);
 * longer lists go as consecutive batches of this size.
 */
export const MAX_BATCH_RULES = 262_144;

/** `items` cut into consecutive slices of at most `size`. */
export function* batches<T>(items: readonly T[], size = MAX_BATCH_RULES): Generator<T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size);
}
