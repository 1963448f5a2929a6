// Replays a snapshot file and journal segments into a map keyed like the store
// (`policy cidr`). Every line is checked on its own: a corrupt line is skipped with a
// warning and the rest is used, so a damaged disk costs the damaged records only.
import { readFile } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { recordKey, type ReplicatedRecord } from '../domain/replicated-record.js';
import { CODEC_VERSION, decodeChange } from './entry-codec.js';
import { JournalFormatError } from './journal-errors.js';
import { asHeader, asTrailer, unframeAt, type FileKind } from './journal-line.js';

export interface ReplayLogger {
  warn(obj: object, msg: string): void;
}

/** Corrupt lines reported one by one per file; beyond this only a count is logged. */
const MAX_LINE_WARNINGS = 10;
/** Parsing is CPU-bound: let timers and I/O run every so many lines. */
const YIELD_EVERY_LINES = 16_384;

/** Applies a snapshot's records (live entries and tombstones) to `into`; returns how many it held. */
export async function replaySnapshot(
  path: string,
  into: Map<string, ReplicatedRecord>,
  logger: ReplayLogger,
): Promise<number> {
  let entries = 0;
  let trailerCount: number | undefined;
  await readFramedFile(path, 'couic-snapshot', logger, (record) => {
    const trailer = asTrailer(record);
    if (trailer !== undefined) {
      trailerCount = trailer.n;
      return undefined;
    }
    const decoded = decodeChange(record);
    if (typeof decoded === 'string') return decoded;
    into.set(recordKey(decoded), decoded);
    entries++;
    return undefined;
  });
  // Snapshots are renamed into place only once complete, so this means damage, not a crash.
  if (trailerCount === undefined) {
    logger.warn({ file: path, entries }, 'snapshot: end marker missing; using the entries it holds');
  } else if (trailerCount !== entries) {
    logger.warn({ file: path, entries, expected: trailerCount }, 'snapshot: some entries were unreadable');
  }
  return entries;
}

/** Applies a journal segment's changes to `into`, in order; returns how many it held. */
export async function replaySegment(
  path: string,
  into: Map<string, ReplicatedRecord>,
  logger: ReplayLogger,
): Promise<number> {
  let changes = 0;
  await readFramedFile(path, 'couic-journal', logger, (record) => {
    const change = decodeChange(record);
    if (typeof change === 'string') return change;
    // Journal order, not version order: each line is the key's record as of that write.
    into.set(recordKey(change), change);
    changes++;
    return undefined;
  });
  return changes;
}

/**
 * Calls `onRecord` for every intact record after the header line. `onRecord` returns
 * the reason a record is invalid, or undefined.
 */
async function readFramedFile(
  path: string,
  kind: FileKind,
  logger: ReplayLogger,
  onRecord: (record: unknown) => string | undefined,
): Promise<void> {
  const content = await readFile(path, 'utf8');
  let skipped = 0;
  const skip = (line: number, reason: string): void => {
    skipped++;
    if (skipped <= MAX_LINE_WARNINGS) logger.warn({ file: path, line, reason }, `${kind}: skipped a corrupt record`);
  };
  let lineNumber = 0;
  let start = 0;
  while (start < content.length) {
    const newline = content.indexOf('\n', start);
    const end = newline < 0 ? content.length : newline;
    const lineStart = start;
    start = end + 1;
    lineNumber++;
    if (lineNumber % YIELD_EVERY_LINES === 0) await yieldToLoop();
    if (end === lineStart) continue; // left by a failed append (see JournalSegment)
    const unframed = unframeAt(content, lineStart, end);
    if (!unframed.ok) {
      skip(lineNumber, unframed.reason);
      continue;
    }
    if (lineNumber === 1) {
      const header = asHeader(unframed.record, kind);
      if (header !== undefined) {
        if (header.v !== CODEC_VERSION) throw new JournalFormatError(path, header.v, CODEC_VERSION);
        continue;
      }
      logger.warn({ file: path }, `${kind}: header missing; reading records as version ${CODEC_VERSION}`);
    }
    const reason = onRecord(unframed.record);
    if (reason !== undefined) skip(lineNumber, reason);
  }
  if (skipped > MAX_LINE_WARNINGS) {
    logger.warn({ file: path, skipped }, `${kind}: ${skipped} corrupt records skipped in total`);
  }
}
