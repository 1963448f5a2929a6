// A hash index over fixed-width binary keys (rule-key.ts), laid out in typed arrays:
// keys live in one pool indexed by slot, an open-addressing table (linear probing,
// backward-shift deletion, load <= 5/8: 589,824 keys fit a 2^20 table) maps a key to its slot. No object per key, so
// 600k keys cost ~34 bytes each and the garbage collector has nothing to trace.
//
// Slots are stable while the key is held (growth copies, never moves): tables of
// per-rule attributes index their columns by slot. Freed slots are reused.
import { KEY_WORDS } from './rule-key.js';

const EMPTY = -1;
const MIN_SLOTS = 64;

export class KeyIndex {
  /** Key pool: KEY_WORDS words per slot. */
  private words: Uint32Array;
  private bytes: Uint8Array;
  /** Key hash per slot (so growth and deletion never rehash). */
  private hashes: Uint32Array;
  /** Open-addressing table of slots (EMPTY when free). */
  private table: Int32Array;
  private mask: number;
  /** Stack of freed slots. */
  private readonly freeSlots: number[] = [];
  /** Slots ever handed out (the high-water mark). */
  private used = 0;
  private live = 0;
  /** Called after the slot capacity grew, so column owners can grow theirs. */
  onGrow: ((capacity: number) => void) | undefined;

  constructor(initialSlots = MIN_SLOTS) {
    const slots = Math.max(MIN_SLOTS, initialSlots);
    this.words = new Uint32Array(slots * KEY_WORDS);
    this.bytes = new Uint8Array(this.words.buffer);
    this.hashes = new Uint32Array(slots);
    const tableSize = nextPowerOfTwo(slots * 2);
    this.table = new Int32Array(tableSize).fill(EMPTY);
    this.mask = tableSize - 1;
  }

  get size(): number {
    return this.live;
  }

  /** Slots 0..highWater-1 may be in use (iterate them and check your own flags). */
  get highWater(): number {
    return this.used;
  }

  get capacity(): number {
    return this.hashes.length;
  }

  /** The key pool as bytes: slot s's key starts at s * KEY_BYTES. Do not keep across insertions (growth replaces it). */
  get keyBytes(): Uint8Array {
    return this.bytes;
  }

  /** The key pool as words. Same caveat as keyBytes. */
  get keyWords(): Uint32Array {
    return this.words;
  }

  /** Bytes held by the typed arrays (for reports). */
  get byteSize(): number {
    return this.words.byteLength + this.hashes.byteLength + this.table.byteLength;
  }

  /** Slot of the key in `key` (KEY_WORDS words at word offset `at`), or -1. */
  find(key: Uint32Array, at = 0): number {
    const hash = hashKey(key, at);
    const { table, mask, words } = this;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = table[i] ?? EMPTY;
      if (slot === EMPTY) return -1;
      if (this.hashes[slot] === hash && sameKey(words, slot * KEY_WORDS, key, at)) return slot;
    }
  }

  /** Slot of the key, inserted if absent. `created` tells which (read right after the call). */
  insert(key: Uint32Array, at = 0): number {
    const hash = hashKey(key, at);
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const found = this.table[i] ?? EMPTY;
      if (found === EMPTY) {
        const slot = this.allocate();
        const base = slot * KEY_WORDS;
        for (let w = 0; w < KEY_WORDS; w++) this.words[base + w] = key[at + w] ?? 0;
        this.hashes[slot] = hash;
        this.live++;
        this.created = true;
        this.table[i] = slot;
        if (this.live * 8 > this.table.length * 5) this.rebuildTable(this.table.length * 2);
        return slot;
      }
      if (this.hashes[found] === hash && sameKey(this.words, found * KEY_WORDS, key, at)) {
        this.created = false;
        return found;
      }
    }
  }

  /** Whether the last insert() created the key. */
  created = false;

  /** Removes the key held by `slot` and frees the slot. */
  remove(slot: number): void {
    const { table, mask } = this;
    let i = (this.hashes[slot] ?? 0) & mask;
    while (table[i] !== slot) {
      if (table[i] === EMPTY) return; // not held
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: keeps probe sequences intact without tombstones.
    let hole = i;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const s = table[j] ?? EMPTY;
      if (s === EMPTY) break;
      const home = (this.hashes[s] ?? 0) & mask;
      // Move s back into the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!stays) {
        table[hole] = s;
        hole = j;
      }
    }
    table[hole] = EMPTY;
    this.live--;
    this.freeSlots.push(slot);
  }

  clear(): void {
    this.table.fill(EMPTY);
    this.used = 0;
    this.live = 0;
    this.freeSlots.length = 0;
  }

  private allocate(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    if (this.used === this.hashes.length) this.growSlots();
    return this.used++;
  }

  private growSlots(): void {
    // 1.5x: a table just past a power of two does not pay for twice its size.
    const capacity = Math.ceil(this.hashes.length * 1.5);
    const words = new Uint32Array(capacity * KEY_WORDS);
    words.set(this.words);
    this.words = words;
    this.bytes = new Uint8Array(words.buffer);
    const hashes = new Uint32Array(capacity);
    hashes.set(this.hashes);
    this.hashes = hashes;
    this.onGrow?.(capacity);
  }

  private rebuildTable(size: number): void {
    const table = new Int32Array(size).fill(EMPTY);
    const mask = size - 1;
    const old = this.table;
    for (let k = 0; k < old.length; k++) {
      const slot = old[k] ?? EMPTY;
      if (slot === EMPTY) continue;
      let i = (this.hashes[slot] ?? 0) & mask;
      while (table[i] !== EMPTY) i = (i + 1) & mask;
      table[i] = slot;
    }
    this.table = table;
    this.mask = mask;
  }
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function sameKey(a: Uint32Array, ai: number, b: Uint32Array, bi: number): boolean {
  for (let w = 0; w < KEY_WORDS; w++) if (a[ai + w] !== b[bi + w]) return false;
  return true;
}

/** murmur3-style mix of the key words. */
export function hashKey(key: Uint32Array, at: number): number {
  let h = 0x9747b28c;
  for (let w = 0; w < KEY_WORDS; w++) {
    let k = Math.imul(key[at + w] ?? 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
