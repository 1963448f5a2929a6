// What a node remembers about the bus across restarts: which stream incarnation it
// read (its creation time), the last sequence it applied (resume point), and up to
// when everything it had to publish was acked (so a restart republishes only what
// may not have reached NATS). BusCursorKeeper holds the current value in memory and
// writes it to a BusCursorStore (a file in the daemon, memory in tests), one save
// at a time: a save asked for while one runs follows it, never overlaps it.

export interface BusCursor {
  /** Stream name and creation time: a recreated stream is a different incarnation. */
  readonly stream: string;
  readonly streamCreated: string;
  /** Last stream sequence applied to the store (0 = none). */
  readonly consumedSeq: number;
  /** Every change stamped before this (ms since epoch) was acked by NATS (0 = unknown). */
  readonly publishedThroughMs: number;
}

export interface BusCursorStore {
  /** Where the cursor is kept (for the log). */
  readonly where: string;
  /** Undefined when missing or unreadable (the node then reads the whole stream). */
  load(): Promise<BusCursor | undefined>;
  /** Atomic: a crash leaves the previous cursor or this one. */
  save(cursor: BusCursor): Promise<void>;
}

/** The in-memory cursor store of the unit tests and the simulation (survives a simulated restart). */
export class MemoryBusCursorStore implements BusCursorStore {
  readonly where = 'memory';
  saved: BusCursor | undefined;
  saves = 0;

  async load(): Promise<BusCursor | undefined> {
    return this.saved;
  }

  async save(cursor: BusCursor): Promise<void> {
    this.saves++;
    this.saved = cursor;
  }
}

export class BusCursorKeeper {
  private cursor: BusCursor | undefined;
  private dirty = false;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: BusCursorStore,
    private readonly onSaveError: (error: unknown, where: string) => void,
  ) {}

  async load(): Promise<void> {
    this.cursor = await this.store.load();
  }

  get current(): BusCursor | undefined {
    return this.cursor;
  }

  get consumedSeq(): number {
    return this.cursor?.consumedSeq ?? 0;
  }

  get publishedThroughMs(): number {
    return this.cursor?.publishedThroughMs ?? 0;
  }

  /** True when the cursor describes this incarnation of the stream. */
  matches(stream: string, created: string): boolean {
    return this.cursor?.stream === stream && this.cursor.streamCreated === created;
  }

  /** Starts over on a new stream incarnation: nothing consumed, nothing known to be published. */
  reset(stream: string, created: string): void {
    this.set({ stream, streamCreated: created, consumedSeq: 0, publishedThroughMs: 0 });
  }

  advanceConsumed(seq: number): void {
    if (this.cursor !== undefined && seq > this.cursor.consumedSeq) this.set({ ...this.cursor, consumedSeq: seq });
  }

  advancePublishedThrough(ms: number): void {
    if (this.cursor !== undefined && ms > this.cursor.publishedThroughMs) this.set({ ...this.cursor, publishedThroughMs: ms });
  }

  /** A change stamped before `ms` is owed again (relayed late): a restart must republish from there. */
  lowerPublishedThrough(ms: number): void {
    if (this.cursor !== undefined && ms < this.cursor.publishedThroughMs) this.set({ ...this.cursor, publishedThroughMs: Math.max(0, ms) });
  }

  /** Writes the cursor if it changed since the last save; queued behind a save in progress. */
  save(): Promise<void> {
    this.saving = this.saving.then(() => this.saveNow());
    return this.saving;
  }

  private set(cursor: BusCursor): void {
    this.cursor = cursor;
    this.dirty = true;
  }

  private async saveNow(): Promise<void> {
    const cursor = this.cursor;
    if (!this.dirty || cursor === undefined) return;
    this.dirty = false;
    try {
      await this.store.save(cursor);
    } catch (error) {
      if (this.cursor === cursor) this.dirty = true;
      this.onSaveError(error, this.store.where);
    }
  }
}
