// One line of a journal segment or snapshot file. Each line is JSON of its own (NDJSON):
//   {"c":"<crc32 of the record text, 8 hex digits>","r":<record JSON>}
// The checksum covers the exact record text, which sits at a fixed offset, so a torn or
// bit-flipped line is recognised (and skipped) instead of being half-applied, and the
// record is parsed only once.
import { crc32 } from 'node:zlib';
import { CODEC_VERSION } from './entry-codec.js';

const PREFIX = '{"c":"';
const MIDDLE = '","r":';
const CRC_DIGITS = 8;
const RECORD_START = PREFIX.length + CRC_DIGITS + MIDDLE.length;
const CLOSING_BRACE = 0x7d;
const TORN: Unframed = { ok: false, reason: 'not a framed record (torn or foreign line)' };
const CHECKSUM_MISMATCH: Unframed = { ok: false, reason: 'checksum mismatch' };

export type FileKind = 'couic-journal' | 'couic-snapshot';

/** First record of every file: what it is, the record format version, its sequence number. */
export interface FileHeader {
  readonly k: FileKind;
  readonly v: number;
  readonly seq: number;
}

/** Last record of a snapshot, so a reader can tell a complete snapshot from a cut one. */
export interface SnapshotTrailer {
  readonly k: 'end';
  readonly n: number;
}

export type Unframed = { readonly ok: true; readonly record: unknown } | { readonly ok: false; readonly reason: string };

/** The framed line for a record's JSON text, newline included. */
export function frameLine(recordJson: string): string {
  return `${PREFIX}${crcHex(recordJson)}${MIDDLE}${recordJson}}\n`;
}

export function frameRecord(record: unknown): string {
  return frameLine(JSON.stringify(record));
}

/** Parses a line (without its newline) and checks its checksum. */
export function unframeLine(line: string): Unframed {
  return unframeAt(line, 0, line.length);
}

/**
 * unframeLine for text[start, end), without copying the line: replay runs this for
 * every line of a 262k-entry snapshot, so it allocates only the record text.
 */
export function unframeAt(text: string, start: number, end: number): Unframed {
  if (
    end - start <= RECORD_START ||
    !text.startsWith(PREFIX, start) ||
    !text.startsWith(MIDDLE, start + PREFIX.length + CRC_DIGITS) ||
    text.charCodeAt(end - 1) !== CLOSING_BRACE
  ) {
    return TORN;
  }
  const recordText = text.slice(start + RECORD_START, end - 1);
  if (parseHex(text, start + PREFIX.length) !== crc32(recordText)) return CHECKSUM_MISMATCH;
  try {
    return { ok: true, record: JSON.parse(recordText) as unknown };
  } catch {
    return { ok: false, reason: 'checksum matches but the record is not JSON' };
  }
}

export function headerRecord(kind: FileKind, seq: number): FileHeader {
  return { k: kind, v: CODEC_VERSION, seq };
}

/** The header if `record` is one of `kind`, else undefined. */
export function asHeader(record: unknown, kind: FileKind): FileHeader | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const { k, v, seq } = record as Record<string, unknown>;
  if (k !== kind || typeof v !== 'number' || typeof seq !== 'number') return undefined;
  return { k: kind, v, seq };
}

export function asTrailer(record: unknown): SnapshotTrailer | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const { k, n } = record as Record<string, unknown>;
  if (k !== 'end' || typeof n !== 'number') return undefined;
  return { k, n };
}

function crcHex(text: string): string {
  return crc32(text).toString(16).padStart(CRC_DIGITS, '0');
}

/** The 8 lower-case hex digits at `at` as a number, or -1 (never a CRC) if they are not that. */
function parseHex(text: string, at: number): number {
  let value = 0;
  for (let i = at; i < at + CRC_DIGITS; i++) {
    const code = text.charCodeAt(i);
    const digit = code >= 0x30 && code <= 0x39 ? code - 0x30 : code >= 0x61 && code <= 0x66 ? code - 0x57 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}
