// Min-heap of (expiration, key) for the watch expiry timer. Like store/expiry-queue
// but with peek, which the timer needs to arm itself on the earliest expiration.
export interface KeyExpiry {
  readonly expiration: number;
  readonly key: string;
}

export class KeyExpiryHeap {
  private readonly heap: KeyExpiry[] = [];

  get size(): number {
    return this.heap.length;
  }

  peekExpiration(): number | undefined {
    return this.heap[0]?.expiration;
  }

  push(item: KeyExpiry): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as KeyExpiry;
      if (p.expiration <= item.expiration) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = item;
  }

  /** Removes and returns every item with expiration <= `now`, earliest first. */
  popDue(now: number): KeyExpiry[] {
    const due: KeyExpiry[] = [];
    while (this.heap.length > 0 && (this.heap[0] as KeyExpiry).expiration <= now) due.push(this.popMin());
    return due;
  }

  clear(): void {
    this.heap.length = 0;
  }

  private popMin(): KeyExpiry {
    const heap = this.heap;
    const top = heap[0] as KeyExpiry;
    const last = heap.pop() as KeyExpiry;
    if (heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && (heap[right] as KeyExpiry).expiration < (heap[left] as KeyExpiry).expiration ? right : left;
      const c = heap[child] as KeyExpiry;
      if (c.expiration >= last.expiration) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
