// The bus cursor in <working_dir>/bus/<prefix>.cursor.json. Saved atomically and
// durably: written to a temporary file of its own (unique name, so two writers
// never share one), fsynced, renamed over the old one, and the directory fsynced,
// so a crash or power loss leaves the previous cursor or the new one.
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../files/atomic-file.js';
import type { BusCursor, BusCursorStore } from './bus-cursor.js';

export class BusCursorFile implements BusCursorStore {
  readonly path: string;

  constructor(workingDir: string, prefix: string) {
    this.path = join(workingDir, 'bus', `${prefix}.cursor.json`);
  }

  get where(): string {
    return this.path;
  }

  async load(): Promise<BusCursor | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      return parseCursor(JSON.parse(text));
    } catch {
      return undefined;
    }
  }

  async save(cursor: BusCursor): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o750 });
    await writeFileAtomic(this.path, `${JSON.stringify(cursor)}\n`, { mode: 0o600, durable: true });
  }

}

function parseCursor(raw: unknown): BusCursor | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { stream, streamCreated, consumedSeq, publishedThroughMs } = raw as Record<string, unknown>;
  if (typeof stream !== 'string' || typeof streamCreated !== 'string') return undefined;
  if (typeof consumedSeq !== 'number' || !Number.isSafeInteger(consumedSeq) || consumedSeq < 0) return undefined;
  if (typeof publishedThroughMs !== 'number' || !Number.isFinite(publishedThroughMs)) return undefined;
  return { stream, streamCreated, consumedSeq, publishedThroughMs };
}
