// What a node remembers about the bus across restarts, in <working_dir>/bus/:
// which stream incarnation it read (its creation time), the last sequence it
// applied (resume point), and up to when everything it had to publish was acked
// (so a restart republishes only what may not have reached NATS).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface BusCursor {
  /** Stream name and creation time: a recreated stream is a different incarnation. */
  readonly stream: string;
  readonly streamCreated: string;
  /** Last stream sequence applied to the store (0 = none). */
  readonly consumedSeq: number;
  /** Every change stamped before this (ms since epoch) was acked by NATS (0 = unknown). */
  readonly publishedThroughMs: number;
}

export class BusCursorFile {
  readonly path: string;

  constructor(workingDir: string, prefix: string) {
    this.path = join(workingDir, 'bus', `${prefix}.cursor.json`);
  }

  /** Undefined when missing or unreadable (the node then reads the whole stream). */
  async load(): Promise<BusCursor | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const raw: unknown = JSON.parse(text);
      if (typeof raw !== 'object' || raw === null) return undefined;
      const r = raw as Record<string, unknown>;
      const { stream, streamCreated, consumedSeq, publishedThroughMs } = r;
      if (typeof stream !== 'string' || typeof streamCreated !== 'string') return undefined;
      if (typeof consumedSeq !== 'number' || !Number.isSafeInteger(consumedSeq) || consumedSeq < 0) return undefined;
      if (typeof publishedThroughMs !== 'number' || !Number.isFinite(publishedThroughMs)) return undefined;
      return { stream, streamCreated, consumedSeq, publishedThroughMs };
    } catch {
      return undefined;
    }
  }

  /** Atomic replace (write + rename), so a crash leaves the old or the new cursor. */
  async save(cursor: BusCursor): Promise<void> {
    await mkdir(join(this.path, '..'), { recursive: true, mode: 0o750 });
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, `${JSON.stringify(cursor)}\n`, { mode: 0o600 });
    await rename(tmp, this.path);
  }
}
