// Min-heap of (expiration, slot) in typed arrays, so the sweeper touches only what is
// due and the queue holds no object per rule. Items go stale when their slot's entry
// is replaced or deleted; the store re-checks the slot when an item is due (a stale
// item whose slot now holds an entry that is due anyway is still right to act on).
export class SlotExpiryQueue {
  private expirations = new Float64Array(1024);
  private slots = new Int32Array(1024);
  private length = 0;

  get size(): number {
    return this.length;
  }

  push(expiration: number, slot: number): void {
    if (this.length === this.slots.length) this.grow();
    let i = this.length++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = this.expirations[parent] ?? 0;
      if (p <= expiration) break;
      this.expirations[i] = p;
      this.slots[i] = this.slots[parent] ?? 0;
      i = parent;
    }
    this.expirations[i] = expiration;
    this.slots[i] = slot;
  }

  /** Smallest expiration queued, or +Infinity. */
  peek(): number {
    return this.length === 0 ? Number.POSITIVE_INFINITY : (this.expirations[0] ?? 0);
  }

  /** Removes the earliest item and returns its slot (call when size > 0). */
  pop(): number {
    const top = this.slots[0] ?? 0;
    const last = --this.length;
    const lastExp = this.expirations[last] ?? 0;
    const lastSlot = this.slots[last] ?? 0;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= last) break;
      const right = left + 1;
      const child = right < last && (this.expirations[right] ?? 0) < (this.expirations[left] ?? 0) ? right : left;
      const c = this.expirations[child] ?? 0;
      if (c >= lastExp) break;
      this.expirations[i] = c;
      this.slots[i] = this.slots[child] ?? 0;
      i = child;
    }
    this.expirations[i] = lastExp;
    this.slots[i] = lastSlot;
    return top;
  }

  clear(): void {
    this.length = 0;
  }

  private grow(): void {
    const expirations = new Float64Array(this.expirations.length * 2);
    expirations.set(this.expirations);
    this.expirations = expirations;
    const slots = new Int32Array(this.slots.length * 2);
    slots.set(this.slots);
    this.slots = slots;
  }
}
