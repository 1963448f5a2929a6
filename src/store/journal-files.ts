// File names and small filesystem helpers of the persistence directory:
//   journal-<seq>.ndjson    append-only change segments
//   snapshot-<seq>.ndjson   complete snapshot, taken when segment <seq> was opened
//   snapshot-<seq>.tmp      snapshot being written (never read; removed at open)
//   journal-<seq>.bin, snapshot-<seq>.bin: the same in the binary format (binary-codec.ts);
//   a directory may hold both while NDJSON state left by an older couic is rewritten
import { readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory } from '../files/atomic-file.js';

const SEQ_DIGITS = 10;
const JOURNAL = /^journal-(\d+)\.ndjson$/;
const SNAPSHOT = /^snapshot-(\d+)\.ndjson$/;
const SNAPSHOT_TMP = /^snapshot-\d+\.tmp$/;
const BINARY_JOURNAL = /^journal-(\d+)\.bin$/;
const BINARY_SNAPSHOT = /^snapshot-(\d+)\.bin$/;

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

export function journalPath(dir: string, seq: number): string {
  return join(dir, `journal-${pad(seq)}.ndjson`);
}

export function snapshotPath(dir: string, seq: number): string {
  return join(dir, `snapshot-${pad(seq)}.ndjson`);
}

export function snapshotTmpPath(dir: string, seq: number): string {
  return join(dir, `snapshot-${pad(seq)}.tmp`);
}

export function binaryJournalPath(dir: string, seq: number): string {
  return join(dir, `journal-${pad(seq)}.bin`);
}

export function binarySnapshotPath(dir: string, seq: number): string {
  return join(dir, `snapshot-${pad(seq)}.bin`);
}

export interface DirListing {
  /** Sequence numbers, ascending (both formats). */
  readonly segments: number[];
  readonly snapshots: number[];
  /** Which of those are in the binary format (the others are NDJSON). */
  readonly binarySegments: Set<number>;
  readonly binarySnapshots: Set<number>;
  /** Full paths of unfinished snapshots. */
  readonly temporaries: string[];
}

export async function listDir(dir: string): Promise<DirListing> {
  const listing: DirListing = { segments: [], snapshots: [], temporaries: [], binarySegments: new Set(), binarySnapshots: new Set() };
  for (const name of await readdir(dir)) {
    const journal = JOURNAL.exec(name);
    const snapshot = SNAPSHOT.exec(name);
    const binaryJournal = BINARY_JOURNAL.exec(name);
    const binarySnapshot = BINARY_SNAPSHOT.exec(name);
    if (journal?.[1] !== undefined) listing.segments.push(Number(journal[1]));
    else if (snapshot?.[1] !== undefined) listing.snapshots.push(Number(snapshot[1]));
    else if (binaryJournal?.[1] !== undefined) {
      listing.segments.push(Number(binaryJournal[1]));
      listing.binarySegments.add(Number(binaryJournal[1]));
    } else if (binarySnapshot?.[1] !== undefined) {
      listing.snapshots.push(Number(binarySnapshot[1]));
      listing.binarySnapshots.add(Number(binarySnapshot[1]));
    } else if (SNAPSHOT_TMP.test(name)) listing.temporaries.push(join(dir, name));
  }
  listing.segments.sort((a, b) => a - b);
  listing.snapshots.sort((a, b) => a - b);
  return listing;
}

/** Makes creations, renames and removals in `dir` durable. */
export const fsyncDir = syncDirectory;

/** Writes all of `data` at the handle's position (appends for 'a' handles). */
export async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

function pad(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0');
}

/**
 * Removes what a complete snapshot `seq` made obsolete: older snapshots, segments
 * before `seq`, and unfinished snapshots. Returns the removed paths.
 */
export async function pruneBefore(dir: string, seq: number): Promise<string[]> {
  const listing = await listDir(dir);
  const doomed = [
    ...listing.temporaries,
    ...listing.snapshots.filter((s) => s < seq).map((s) => (listing.binarySnapshots.has(s) ? binarySnapshotPath(dir, s) : snapshotPath(dir, s))),
    ...listing.segments.filter((s) => s < seq).map((s) => (listing.binarySegments.has(s) ? binaryJournalPath(dir, s) : journalPath(dir, s))),
  ];
  for (const path of doomed) await unlink(path).catch(ignoreMissing);
  if (doomed.length > 0) await fsyncDir(dir);
  return doomed;
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}
