// v6_long: IPv6 prefixes longer than /24 and their compiled verdicts, in an
// open-addressing hash table that lives in an mmapped BPF array (bpf/couic.h), so
// the program probes it with inlined array loads instead of a hash-map call. Each
// prefix sits in one of the 8 entries of its two 4-entry windows; the hash is the
// program's (v6_hash in bpf/couic.bpf.c). Writes keep every probe exact: an entry
// is filled, then published by storing its length last; a value changes in one
// store; an entry is retired by zeroing its length, and reused only by a later
// write call (a packet that read it before finishes within microseconds).
import { BpfError } from './bpf-error.js';
import type { KeyedEntry, KeyedMap, KeyedWriteFailure, RefusalRule } from './kernel-maps.js';

export const V6_SLOTS_LOG2 = 21;
export const V6_SLOTS = 1 << V6_SLOTS_LOG2;
export const V6_WINDOW = 4;
/** u32 words per entry: 4 address words, prefixlen, value. */
export const V6_ENTRY_WORDS = 6;
const ENOSPC = 28;

export function v6Hash(a: number, b: number, c: number, d: number, len: number): number {
  let h = Math.imul(a, 0x9e3779b1);
  h ^= Math.imul(b, 0x85ebca77);
  h = (h << 13) | (h >>> 19);
  h ^= Math.imul(c, 0xc2b2ae3d);
  h ^= Math.imul(d, 0x27d4eb2f);
  h ^= Math.imul(len, 0x165667b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

function windows(hash: number): [number, number] {
  return [hash, (Math.imul(hash, 0x297a2d39) ^ (hash >>> 16)) >>> 0];
}

/** The 20-byte key (u32 prefixlen LE + 16 masked bytes) as words. */
function wordsOf(key: Buffer): { len: number; w: [number, number, number, number] } {
  return { len: key.readUInt32LE(0), w: [key.readUInt32BE(4), key.readUInt32BE(8), key.readUInt32BE(12), key.readUInt32BE(16)] };
}

export class V6Table implements KeyedMap {
  readonly keySize = 20;
  /** Where each published prefix sits (by key hex). */
  private readonly slotOf = new Map<string, number>();
  /** Entries retired by the last call(s): reusable from the next write call on. */
  private retired: number[] = [];
  private readonly busy: Uint8Array;
  /** Tests: refuse chosen writes with an errno (the fake kernel uses it). */
  refusal: RefusalRule | undefined;
  writes = 0;

  constructor(private readonly entries32: Uint32Array) {
    this.busy = new Uint8Array(entries32.length / V6_ENTRY_WORDS);
    // Adopt what is there (pinned maps after a restart).
    for (let slot = 0; slot < this.busy.length; slot++) {
      const base = slot * V6_ENTRY_WORDS;
      if ((entries32[base + 4] ?? 0) === 0) continue;
      this.busy[slot] = 1;
      this.slotOf.set(this.keyAt(slot).toString('hex'), slot);
    }
  }

  async upsert(entries: readonly KeyedEntry[]): Promise<KeyedWriteFailure[]> {
    this.releaseRetired();
    const failures: KeyedWriteFailure[] = [];
    const table = this.entries32;
    for (const { key, value } of entries) {
      const errno = this.refusal?.('upsert', key);
      if (errno !== undefined) {
        failures.push({ key, error: new BpfError('v6_long write', errno) });
        continue;
      }
      const hex = key.toString('hex');
      const existing = this.slotOf.get(hex);
      if (existing !== undefined) {
        table[existing * V6_ENTRY_WORDS + 5] = value >>> 0;
        this.writes++;
        continue;
      }
      const { len, w } = wordsOf(key);
      const slot = this.freeSlot(v6Hash(w[0], w[1], w[2], w[3], len));
      if (slot === undefined) {
        failures.push({ key, error: new BpfError('v6_long write', ENOSPC, 'both 4-entry windows of this prefix are full') });
        continue;
      }
      const base = slot * V6_ENTRY_WORDS;
      table[base] = w[0];
      table[base + 1] = w[1];
      table[base + 2] = w[2];
      table[base + 3] = w[3];
      table[base + 5] = value >>> 0;
      // Published last, in order after the words (Atomics: sequentially consistent).
      Atomics.store(table, base + 4, len);
      this.busy[slot] = 1;
      this.slotOf.set(hex, slot);
      this.writes++;
    }
    return failures;
  }

  async delete(keys: readonly Buffer[]): Promise<KeyedWriteFailure[]> {
    const failures: KeyedWriteFailure[] = [];
    for (const key of keys) {
      const errno = this.refusal?.('delete', key);
      if (errno !== undefined) {
        failures.push({ key, error: new BpfError('v6_long delete', errno) });
        continue;
      }
      const hex = key.toString('hex');
      const slot = this.slotOf.get(hex);
      if (slot === undefined) continue;
      Atomics.store(this.entries32, slot * V6_ENTRY_WORDS + 4, 0);
      this.slotOf.delete(hex);
      this.retired.push(slot);
      this.writes++;
    }
    return failures;
  }

  entries(): KeyedEntry[] {
    const out: KeyedEntry[] = [];
    for (const slot of this.slotOf.values()) out.push({ key: this.keyAt(slot), value: this.entries32[slot * V6_ENTRY_WORDS + 5] ?? 0 });
    return out;
  }

  /** The probe the program makes for one length (address: 16 bytes, masked here). */
  probe(length: number, address: Uint8Array): number | undefined {
    const key = Buffer.alloc(20);
    key.writeUInt32LE(length, 0);
    for (let i = 0; i < 16; i++) {
      const bits = Math.min(8, Math.max(0, length - 8 * i));
      key[4 + i] = (address[i] ?? 0) & ((0xff << (8 - bits)) & 0xff);
    }
    const { len, w } = wordsOf(key);
    const t = this.entries32;
    for (const start of windows(v6Hash(w[0], w[1], w[2], w[3], len))) {
      for (let j = 0; j < V6_WINDOW; j++) {
        const base = ((start + j) & (this.busy.length - 1)) * V6_ENTRY_WORDS;
        if (t[base + 4] === len && t[base] === w[0] && t[base + 1] === w[1] && t[base + 2] === w[2] && t[base + 3] === w[3]) return t[base + 5];
      }
    }
    return undefined;
  }

  private freeSlot(hash: number): number | undefined {
    const mask = this.busy.length - 1;
    for (const start of windows(hash)) {
      for (let j = 0; j < V6_WINDOW; j++) {
        const slot = (start + j) & mask;
        if (this.busy[slot] === 0) return slot;
      }
    }
    return undefined;
  }

  private releaseRetired(): void {
    for (const slot of this.retired) this.busy[slot] = 0;
    this.retired = [];
  }

  private keyAt(slot: number): Buffer {
    const base = slot * V6_ENTRY_WORDS;
    const key = Buffer.alloc(20);
    key.writeUInt32LE(this.entries32[base + 4] ?? 0, 0);
    for (let i = 0; i < 4; i++) key.writeUInt32BE(this.entries32[base + i] ?? 0, 4 + 4 * i);
    return key;
  }
}
