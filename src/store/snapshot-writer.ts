// Writes a snapshot of the store's records (live entries and tombstones) without blocking the event loop: entries
// are encoded and written in chunks, yielding between chunks, into snapshot-<seq>.tmp;
// only a complete, fsync'd file is renamed to snapshot-<seq>.ndjson. A crash at any
// point leaves either no new snapshot (the .tmp is ignored) or a complete one.
import { open, rename, unlink } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { ReplicatedRecord } from '../domain/replicated-record.js';
import { encodeChangeJson } from './entry-codec.js';
import { FILE_MODE, fsyncDir, snapshotPath, snapshotTmpPath, writeAll } from './journal-files.js';
import { frameLine, frameRecord, headerRecord } from './journal-line.js';

/** ~4k entries (~400 KB) per chunk: each chunk costs a few ms of CPU, then the loop runs. */
export const SNAPSHOT_CHUNK_ENTRIES = 4_096;

export interface SnapshotRequest {
  readonly dir: string;
  readonly seq: number;
  /**
   * Iterated across several event-loop turns: changes made meanwhile may or may not
   * show; the journal segment `seq` holds them either way.
   */
  readonly entries: Iterable<ReplicatedRecord>;
  /** Checked between chunks; true stops the write and removes the .tmp file. */
  readonly aborted: () => boolean;
  readonly chunkEntries?: number;
}

export interface SnapshotResult {
  readonly path: string;
  readonly entries: number;
  readonly bytes: number;
}

/** Writes the snapshot; undefined when aborted. */
export async function writeSnapshot(request: SnapshotRequest): Promise<SnapshotResult | undefined> {
  const { dir, seq, aborted } = request;
  const chunkEntries = request.chunkEntries ?? SNAPSHOT_CHUNK_ENTRIES;
  const tmp = snapshotTmpPath(dir, seq);
  const handle = await open(tmp, 'w', FILE_MODE);
  let entries = 0;
  let bytes = 0;
  let complete = false;
  try {
    let chunk: string[] = [frameRecord(headerRecord('couic-snapshot', seq))];
    const writeChunk = async (): Promise<void> => {
      const data = Buffer.from(chunk.join(''));
      chunk = [];
      await writeAll(handle, data);
      bytes += data.length;
    };
    for (const record of request.entries) {
      chunk.push(frameLine(encodeChangeJson(record)));
      entries++;
      if (chunk.length >= chunkEntries) {
        await writeChunk();
        await yieldToLoop();
        if (aborted()) return undefined;
      }
    }
    chunk.push(frameRecord({ k: 'end', n: entries }));
    await writeChunk();
    await handle.sync();
    if (aborted()) return undefined;
    complete = true;
  } finally {
    await handle.close();
    if (!complete) await unlink(tmp).catch(() => undefined);
  }
  const path = snapshotPath(dir, seq);
  await rename(tmp, path);
  await fsyncDir(dir);
  return { path, entries, bytes };
}
