// Finds where the intact part of a journal segment ends. A crash during an append can
// leave a partial last line, or (on some filesystems) whole lines of zeros or garbage
// after the last good one; those trailing lines were never acknowledged (their fsync
// did not complete), so the segment is cut back to its last line with a good checksum
// and later appends start on a clean line.
import { unframeLine } from './journal-line.js';

const NEWLINE = 0x0a;

export interface TailScan {
  /** Byte length of the intact prefix (ends just after a newline, or 0). */
  readonly cleanLength: number;
  /** Non-empty lines (including a partial one) that lie beyond it. */
  readonly droppedLines: number;
}

export function scanTail(content: Buffer): TailScan {
  const lastNewline = content.lastIndexOf(NEWLINE);
  let cleanLength = lastNewline + 1;
  let droppedLines = cleanLength < content.length ? 1 : 0;
  while (cleanLength > 0) {
    // Negative offsets would count from the end of the buffer, hence the guard.
    const previousNewline = cleanLength >= 2 ? content.lastIndexOf(NEWLINE, cleanLength - 2) : -1;
    const lineStart = previousNewline + 1;
    const line = content.toString('utf8', lineStart, cleanLength - 1);
    if (unframeLine(line).ok) break;
    if (line.length > 0) droppedLines++;
    cleanLength = lineStart;
  }
  return { cleanLength, droppedLines };
}
