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
  text.split(/\r?\n/).forEach((raw, index) => {
    const hash = raw.indexOf('#');
    const value = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (value === '') return;
    const parsed = tryParseCidr(value);
    if (typeof parsed === 'string') {
      badCount += 1;
      if (problems.length < MAX_REPORTED) problems.push(`${fileName}:${index + 1}: "${value}": ${parsed}`);
      return;
    }
    cidrs.push(value);
  });
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
    cidrs.push(...parseCidrLines(text, fromFile === '-' ? 'stdin' : fromFile));
  }
  return cidrs;
}
