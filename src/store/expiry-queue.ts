// Min-heap of (expiration, key) so the sweeper touches only what is due, not the
// whole store. Stale items (entry replaced or deleted since) are skipped by the caller
// when due; it holds keys, not entries, so replaced entries are not kept alive.
export interface ExpiryItem<T> {
  readonly expiration: number;
  readonly ref: T;
}

export class ExpiryQueue<T> {
  private readonly heap: ExpiryItem<T>[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(item: ExpiryItem<T>): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as ExpiryItem<T>;
      if (p.expiration <= item.expiration) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = item;
  }

  /** Removes and returns every item with expiration <= `now`. */
  popDue(now: number): ExpiryItem<T>[] {
    const due: ExpiryItem<T>[] = [];
    while (this.heap.length > 0 && (this.heap[0] as ExpiryItem<T>).expiration <= now) {
      due.push(this.popMin());
    }
    return due;
  }

  clear(): void {
    this.heap.length = 0;
  }

  private popMin(): ExpiryItem<T> {
    const heap = this.heap;
    const top = heap[0] as ExpiryItem<T>;
    const last = heap.pop() as ExpiryItem<T>;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child =
          right < heap.length && (heap[right] as ExpiryItem<T>).expiration < (heap[left] as ExpiryItem<T>).expiration
            ? right
            : left;
        const c = heap[child] as ExpiryItem<T>;
        if (c.expiration >= last.expiration) break;
        heap[i] = c;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}
