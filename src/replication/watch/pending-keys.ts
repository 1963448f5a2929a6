// The per-watcher queue: keys waiting to be sent, each at most once, oldest first.
// A slow watcher costs one entry per distinct key, never one per change: what is
// sent for a key is read from the store when its turn comes (the latest state wins).
// Each key remembers whether the watcher may hold it, which decides whether a key
// that is no longer live needs a removal at all.

export interface PendingKey {
  readonly key: string;
  /** The watcher may hold an entry for this key (so a removal must be sent if it is gone). */
  readonly maybeHeld: boolean;
}

export class PendingKeys {
  private readonly pending = new Map<string, boolean>();
  /** Live Map iterator: sees keys added later and skips removed ones; reset once done. */
  private cursor: Iterator<[string, boolean]> | undefined;

  get size(): number {
    return this.pending.size;
  }

  has(key: string): boolean {
    return this.pending.has(key);
  }

  /**
   * Queues a key. A key already queued keeps its place and its flag: nothing has been
   * sent for it since it was queued, so what the watcher holds has not changed.
   */
  add(key: string, maybeHeld: boolean): void {
    if (!this.pending.has(key)) this.pending.set(key, maybeHeld);
  }

  /** Corrects what the watcher holds for a queued key (the snapshot just sent it, or skipped it). */
  setHeld(key: string, maybeHeld: boolean): void {
    if (this.pending.has(key)) this.pending.set(key, maybeHeld);
  }

  /** Removes and returns the oldest queued key. */
  shift(): PendingKey | undefined {
    if (this.pending.size === 0) return undefined;
    for (;;) {
      this.cursor ??= this.pending.entries();
      const next = this.cursor.next();
      if (next.done === true) {
        this.cursor = undefined;
        continue;
      }
      const [key, maybeHeld] = next.value;
      this.pending.delete(key);
      return { key, maybeHeld };
    }
  }

  clear(): void {
    this.pending.clear();
    this.cursor = undefined;
  }
}
