// One append-only journal file. Appends are made durable with fdatasync (file size
// changes included); the caller serialises them, so there is never more than one
// write in flight on a segment.
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { CODEC_VERSION } from './entry-codec.js';
import { JournalFormatError } from './journal-errors.js';
import { FILE_MODE, fsyncDir, journalPath, writeAll } from './journal-files.js';
import { asHeader, frameRecord, headerRecord, unframeLine } from './journal-line.js';
import { scanTail } from './journal-tail.js';

export interface SegmentLogger {
  warn(obj: object, msg: string): void;
}

export class JournalSegment {
  /** Set after a failed append: the file may end in a partial line, so start the next append on a fresh one. */
  private isolateNextWrite = false;

  private constructor(
    readonly seq: number,
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /** Creates segment `seq` (refusing to overwrite one) with its header, durably. */
  static async create(dir: string, seq: number): Promise<JournalSegment> {
    const path = journalPath(dir, seq);
    const handle = await open(path, 'ax', FILE_MODE);
    try {
      await writeAll(handle, Buffer.from(frameRecord(headerRecord('couic-journal', seq))));
      await handle.datasync();
      await fsyncDir(dir);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new JournalSegment(seq, path, handle);
  }

  /**
   * Opens an existing segment for appending. A torn or corrupt tail (left by a crash
   * mid-append, so never acknowledged) is cut off with a warning.
   */
  static async openForAppend(dir: string, seq: number, logger: SegmentLogger): Promise<JournalSegment> {
    const path = journalPath(dir, seq);
    const content = await readFile(path);
    const { cleanLength, droppedLines } = scanTail(content);
    if (cleanLength > 0) checkHeaderVersion(path, content);
    const handle = await open(path, 'a', FILE_MODE);
    try {
      if (cleanLength < content.length) {
        await handle.truncate(cleanLength);
        logger.warn(
          { file: path, droppedLines, droppedBytes: content.length - cleanLength },
          'journal: cut off a torn or corrupt tail left by a crash (those changes were never acknowledged)',
        );
      }
      if (cleanLength === 0) {
        await writeAll(handle, Buffer.from(frameRecord(headerRecord('couic-journal', seq))));
      }
      await handle.datasync();
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new JournalSegment(seq, path, handle);
  }

  /** Appends framed lines and waits until they are on disk. Returns the bytes written. */
  async append(lines: string): Promise<number> {
    const data = Buffer.from(this.isolateNextWrite ? `\n${lines}` : lines);
    try {
      await writeAll(this.handle, data);
      await this.handle.datasync();
    } catch (err) {
      this.isolateNextWrite = true;
      throw err;
    }
    this.isolateNextWrite = false;
    return data.length;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Refuses to append version-1 records to a file a newer couic started. */
function checkHeaderVersion(path: string, content: Buffer): void {
  const firstNewline = content.indexOf(0x0a);
  const firstLine = content.toString('utf8', 0, firstNewline < 0 ? content.length : firstNewline);
  const unframed = unframeLine(firstLine);
  const header = unframed.ok ? asHeader(unframed.record, 'couic-journal') : undefined;
  if (header !== undefined && header.v !== CODEC_VERSION) {
    throw new JournalFormatError(path, header.v, CODEC_VERSION);
  }
}
