// Files of the binary format (binary-codec.ts): an append-only journal segment, the
// replay of segments and snapshots, and the incremental snapshot writer. Same
// guarantees as the NDJSON files (journal-segment.ts, journal-replay.ts,
// snapshot-writer.ts): appends are fdatasync'd before they are acknowledged, a torn
// or damaged tail is cut off at open, a snapshot is renamed into place only complete.
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { recordKey, type ReplicatedRecord } from '../domain/replicated-record.js';
import { BINARY_CODEC_VERSION, decodeFrame, FrameWriter, readHeader, scanFrames, TYPE_LIVE, TYPE_TOMBSTONE, type BinaryFileKind } from './binary-codec.js';
import { JournalFormatError } from './journal-errors.js';
import { binaryJournalPath, binarySnapshotPath, FILE_MODE, fsyncDir, snapshotTmpPath, writeAll } from './journal-files.js';
import type { SnapshotResult } from './snapshot-writer.js';

export interface BinaryLogger {
  warn(obj: object, msg: string): void;
}

/** Records per snapshot chunk: each chunk costs a few ms of CPU, then the loop runs. */
export const BINARY_SNAPSHOT_CHUNK_RECORDS = 4_096;
/** Decoding is CPU-bound: let timers and I/O run every so many frames. */
const YIELD_EVERY_FRAMES = 16_384;
const MAX_WARNINGS = 10;

export class BinarySegment {
  /** Set after a failed append: the next append rewrites from the last acknowledged end. */
  private endOffset: number;
  private broken = false;

  private constructor(
    readonly seq: number,
    readonly path: string,
    private readonly handle: FileHandle,
    size: number,
  ) {
    this.endOffset = size;
  }

  static async create(dir: string, seq: number): Promise<BinarySegment> {
    const path = binaryJournalPath(dir, seq);
    const handle = await open(path, 'wx', FILE_MODE);
    const writer = new FrameWriter(64);
    writer.header('journal', seq);
    const header = writer.take();
    try {
      await writeAll(handle, header);
      await handle.datasync();
      await fsyncDir(dir);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new BinarySegment(seq, path, handle, header.length);
  }

  /** Opens an existing segment; a torn or damaged tail (never acknowledged) is cut off with a warning. */
  static async openForAppend(dir: string, seq: number, logger: BinaryLogger): Promise<BinarySegment> {
    const path = binaryJournalPath(dir, seq);
    const content = await readFile(path);
    const header = readHeader(content);
    if (header !== undefined && header.version !== BINARY_CODEC_VERSION) throw new JournalFormatError(path, header.version, BINARY_CODEC_VERSION);
    const { cleanLength } = scanFrames(content, 0, () => undefined);
    const handle = await open(path, 'r+', FILE_MODE);
    try {
      let size = cleanLength;
      if (cleanLength < content.length) {
        await handle.truncate(cleanLength);
        logger.warn(
          { file: path, droppedBytes: content.length - cleanLength },
          'journal: cut off a torn or corrupt tail left by a crash (those changes were never acknowledged)',
        );
      }
      if (header === undefined && cleanLength === 0) {
        const writer = new FrameWriter(64);
        writer.header('journal', seq);
        const data = writer.take();
        await handle.write(data, 0, data.length, 0);
        size = data.length;
      }
      await handle.datasync();
      return new BinarySegment(seq, path, handle, size);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Appends framed records and waits until they are on disk. Returns the bytes written. */
  async append(data: Buffer): Promise<number> {
    try {
      // Positioned writes: after a failed append the next one overwrites its partial bytes.
      if (this.broken) await this.handle.truncate(this.endOffset);
      let offset = 0;
      while (offset < data.length) {
        const { bytesWritten } = await this.handle.write(data, offset, data.length - offset, this.endOffset + offset);
        offset += bytesWritten;
      }
      await this.handle.datasync();
    } catch (err) {
      this.broken = true;
      throw err;
    }
    this.broken = false;
    this.endOffset += data.length;
    return data.length;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * Where replayed records go, in file order: a map by key, a consumer of decoded chunks,
 * or a consumer of the raw record payloads (which validates and applies them itself,
 * without building objects; it returns why a payload is invalid, or undefined).
 */
export type ReplayTarget = Map<string, ReplicatedRecord> | ((records: ReplicatedRecord[]) => void) | RawRecordTarget;

export interface RawRecordTarget {
  readonly raw: (buf: Buffer, start: number, length: number) => string | undefined;
}

/** Decoded records handed to a chunk consumer at once (they die young: no map holds them). */
const REPLAY_CHUNK = 4_096;

function collector(into: Map<string, ReplicatedRecord> | ((records: ReplicatedRecord[]) => void)): { add(record: ReplicatedRecord): void; flush(): void } {
  if (into instanceof Map) return { add: (record) => void into.set(recordKey(record), record), flush: () => undefined };
  let chunk: ReplicatedRecord[] = [];
  const flush = (): void => {
    if (chunk.length === 0) return;
    const full = chunk;
    chunk = [];
    into(full);
  };
  return {
    add(record) {
      chunk.push(record);
      if (chunk.length >= REPLAY_CHUNK) flush();
    },
    flush,
  };
}

/** Applies a binary snapshot's records to `into`; returns how many it held. */
export async function replayBinarySnapshot(path: string, into: ReplayTarget, logger: BinaryLogger): Promise<number> {
  let entries = 0;
  let trailer: number | undefined;
  const sink = isRaw(into) ? undefined : collector(into);
  await readFrames(path, 'snapshot', logger, (record) => {
    if (record !== undefined) sink?.add(record);
    entries++;
  }, (count) => {
    trailer = count;
  }, isRaw(into) ? into : undefined);
  sink?.flush();
  if (trailer === undefined) logger.warn({ file: path, entries }, 'snapshot: end marker missing; using the entries it holds');
  else if (trailer !== entries) logger.warn({ file: path, entries, expected: trailer }, 'snapshot: some entries were unreadable');
  return entries;
}

/** Applies a binary journal segment's changes to `into`, in order; returns how many it held. */
export async function replayBinarySegment(path: string, into: ReplayTarget, logger: BinaryLogger): Promise<number> {
  let changes = 0;
  const sink = isRaw(into) ? undefined : collector(into);
  await readFrames(path, 'journal', logger, (record) => {
    if (record !== undefined) sink?.add(record);
    changes++;
  }, undefined, isRaw(into) ? into : undefined);
  sink?.flush();
  return changes;
}

async function readFrames(
  path: string,
  kind: BinaryFileKind,
  logger: BinaryLogger,
  onRecord: (record: ReplicatedRecord | undefined) => void,
  onTrailer?: (count: number) => void,
  raw?: RawRecordTarget,
): Promise<void> {
  const content = await readFile(path);
  const header = readHeader(content);
  if (header === undefined) logger.warn({ file: path }, `${kind}: header missing; reading records as version ${BINARY_CODEC_VERSION}`);
  else if (header.version !== BINARY_CODEC_VERSION) throw new JournalFormatError(path, header.version, BINARY_CODEC_VERSION);
  const frames: number[] = [];
  const { cleanLength, damaged } = scanFrames(content, 0, (start, length) => frames.push(start, length));
  if (damaged > 0) logger.warn({ file: path, damaged, cleanLength, bytes: content.length }, `${kind}: skipped damaged (torn or corrupt) records`);
  let skipped = 0;
  for (let i = 0; i < frames.length; i += 2) {
    if (i > 0 && i % (2 * YIELD_EVERY_FRAMES) === 0) await yieldToLoop();
    const start = frames[i] ?? 0;
    const length = frames[i + 1] ?? 0;
    const type = content[start];
    if (raw !== undefined && (type === TYPE_LIVE || type === TYPE_TOMBSTONE)) {
      const reason = raw.raw(content, start, length);
      if (reason === undefined) onRecord(undefined);
      else {
        skipped++;
        if (skipped <= MAX_WARNINGS) logger.warn({ file: path, reason }, `${kind}: skipped a corrupt record`);
      }
      continue;
    }
    const decoded = decodeFrame(content, start, length);
    if (decoded.type === 'record') onRecord(decoded.record);
    else if (decoded.type === 'trailer') onTrailer?.(decoded.count);
    else if (decoded.type === 'invalid') {
      skipped++;
      if (skipped <= MAX_WARNINGS) logger.warn({ file: path, reason: decoded.reason }, `${kind}: skipped a corrupt record`);
    }
  }
  if (skipped > MAX_WARNINGS) logger.warn({ file: path, skipped }, `${kind}: ${skipped} corrupt records skipped in total`);
}

export interface BinarySnapshotRequest {
  readonly dir: string;
  readonly seq: number;
  /** Iterated across several event-loop turns (see snapshot-writer.ts). */
  readonly entries: Iterable<ReplicatedRecord>;
  readonly aborted: () => boolean;
  readonly chunkRecords?: number;
}

/** Writes snapshot-<seq>.bin through a .tmp file, a chunk per event-loop turn; undefined when aborted. */
export async function writeBinarySnapshot(request: BinarySnapshotRequest): Promise<SnapshotResult | undefined> {
  const { dir, seq, aborted } = request;
  const chunkRecords = request.chunkRecords ?? BINARY_SNAPSHOT_CHUNK_RECORDS;
  const tmp = snapshotTmpPath(dir, seq);
  const handle = await open(tmp, 'w', FILE_MODE);
  let entries = 0;
  let bytes = 0;
  let complete = false;
  const writer = new FrameWriter(1024 * 1024);
  try {
    writer.header('snapshot', seq);
    let inChunk = 0;
    for (const record of request.entries) {
      writer.record(record);
      entries++;
      if (++inChunk >= chunkRecords) {
        inChunk = 0;
        const data = writer.take();
        await writeAll(handle, data);
        bytes += data.length;
        await yieldToLoop();
        if (aborted()) return undefined;
      }
    }
    writer.trailer(entries);
    const data = writer.take();
    await writeAll(handle, data);
    bytes += data.length;
    await handle.sync();
    if (aborted()) return undefined;
    complete = true;
  } finally {
    await handle.close();
    if (!complete) await unlink(tmp).catch(() => undefined);
  }
  const path = binarySnapshotPath(dir, seq);
  await rename(tmp, path);
  await fsyncDir(dir);
  return { path, entries, bytes };
}

function isRaw(into: ReplayTarget): into is RawRecordTarget {
  return typeof into === 'object' && !(into instanceof Map);
}
