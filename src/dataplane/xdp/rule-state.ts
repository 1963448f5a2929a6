// One state record per rule for the sync state machine, in slot-indexed typed
// arrays instead of per-rule JS maps keyed by strings (a full load of 589,824
// rules spent seconds in string ids, map inserts and GC). A rule is found by an
// open-addressing hash over its record key as five u32 words; its index holds the
// tag slot wanted, recorded (rule_record) and enforced (tables), -1 for none, and
// whether it was adopted and not yet confirmed (stale).
import type { Cidr } from '../../domain/cidr.js';
import type { Policy } from '../../domain/policy.js';

const WORDS = 5;
const EMPTY = -1;
const TOMBSTONE = -2;

function hashWords(a: number, b: number, c: number, d: number, e: number): number {
  let h = Math.imul(a ^ 0x27d4eb2f, 0x9e3779b1);
  h ^= Math.imul(b, 0x85ebca77);
  h = (h << 13) | (h >>> 19);
  h ^= Math.imul(c, 0xc2b2ae3d);
  h = (h << 11) | (h >>> 21);
  h ^= Math.imul(d, 0x27d4eb2f);
  h ^= Math.imul(e, 0x165667b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

function word(bytes: Uint8Array, i: number): number {
  return (((bytes[i] ?? 0) << 24) | ((bytes[i + 1] ?? 0) << 16) | ((bytes[i + 2] ?? 0) << 8) | (bytes[i + 3] ?? 0)) >>> 0;
}

export class RuleState {
  private capacity: number;
  private keys: Uint32Array;
  /** Open-addressing table of indices (EMPTY, TOMBSTONE or an index). */
  private table: Int32Array;
  private used = 0;
  private tombstones = 0;
  wanted: Int16Array;
  recorded: Int16Array;
  enforced: Int16Array;
  stale: Uint8Array;
  /** The rule of each index (the caller's Cidr; kept for pending reports and table writes). */
  policies: Uint8Array;
  cidrs: (Cidr | undefined)[] = [];
  private freeList: number[] = [];
  private next = 0;
  /** Enforced rules per policy (0 drop, 1 ignore). */
  readonly enforcedPerPolicy = [0, 0];

  constructor(initial = 1024) {
    this.capacity = initial;
    this.keys = new Uint32Array(initial * WORDS);
    this.table = new Int32Array(initial * 2).fill(EMPTY);
    this.wanted = new Int16Array(initial).fill(-1);
    this.recorded = new Int16Array(initial).fill(-1);
    this.enforced = new Int16Array(initial).fill(-1);
    this.stale = new Uint8Array(initial);
    this.policies = new Uint8Array(initial);
  }

  /** Index of a rule, created (all states -1) when absent. */
  indexOf(policy: Policy, cidr: Cidr): number {
    const b = cidr.bytes;
    const w0 = (policy === 'drop' ? 0 : 1) | (cidr.family << 8) | (cidr.prefixLength << 16);
    const w1 = word(b, 0);
    const w2 = cidr.family === 6 ? word(b, 4) : 0;
    const w3 = cidr.family === 6 ? word(b, 8) : 0;
    const w4 = cidr.family === 6 ? word(b, 12) : 0;
    const mask = this.table.length - 1;
    let h = hashWords(w0, w1, w2, w3, w4) & mask;
    let firstFree = -1;
    const keys = this.keys;
    for (;;) {
      const at = this.table[h] as number;
      if (at === EMPTY) break;
      if (at === TOMBSTONE) {
        if (firstFree < 0) firstFree = h;
      } else {
        const k = at * WORDS;
        if (keys[k] === w0 && keys[k + 1] === w1 && keys[k + 2] === w2 && keys[k + 3] === w3 && keys[k + 4] === w4) {
          if (this.cidrs[at] === undefined || this.cidrs[at]?.text === '') this.cidrs[at] = cidr;
          return at;
        }
      }
      h = (h + 1) & mask;
    }
    const index = this.allocate();
    const k = index * WORDS;
    this.keys[k] = w0;
    this.keys[k + 1] = w1;
    this.keys[k + 2] = w2;
    this.keys[k + 3] = w3;
    this.keys[k + 4] = w4;
    this.policies[index] = policy === 'drop' ? 0 : 1;
    this.cidrs[index] = cidr;
    if (firstFree >= 0) {
      this.table[firstFree] = index;
      this.tombstones--;
    } else this.table[h] = index;
    this.used++;
    // Load factor <= 1/2: linear probes stay short.
    if ((this.used + this.tombstones) * 2 > this.table.length) this.rehash(this.table.length * (this.used * 4 > this.table.length ? 2 : 1));
    return index;
  }

  policyOf(index: number): Policy {
    return this.policies[index] === 0 ? 'drop' : 'ignore';
  }

  setEnforced(index: number, slot: number): void {
    const before = this.enforced[index] as number;
    const policy = this.policies[index] as number;
    if (before < 0 && slot >= 0) this.enforcedPerPolicy[policy] = (this.enforcedPerPolicy[policy] as number) + 1;
    else if (before >= 0 && slot < 0) this.enforcedPerPolicy[policy] = (this.enforcedPerPolicy[policy] as number) - 1;
    this.enforced[index] = slot;
  }

  /** Forgets a rule nothing holds any more (its index is reused later). */
  releaseIfDead(index: number): void {
    if (this.wanted[index] !== -1 || this.recorded[index] !== -1 || this.enforced[index] !== -1 || this.stale[index] !== 0) return;
    if (this.cidrs[index] === undefined) return;
    const k = index * WORDS;
    const keys = this.keys;
    const mask = this.table.length - 1;
    let h = hashWords(keys[k] as number, keys[k + 1] as number, keys[k + 2] as number, keys[k + 3] as number, keys[k + 4] as number) & mask;
    for (;;) {
      const at = this.table[h] as number;
      if (at === EMPTY) return;
      if (at === index) break;
      h = (h + 1) & mask;
    }
    this.table[h] = TOMBSTONE;
    this.tombstones++;
    this.used--;
    this.cidrs[index] = undefined;
    this.freeList.push(index);
  }

  /** Indices of every live rule. */
  *indices(): IterableIterator<number> {
    for (let i = 0; i < this.next; i++) if (this.cidrs[i] !== undefined) yield i;
  }

  private allocate(): number {
    const free = this.freeList.pop();
    if (free !== undefined) return free;
    if (this.next === this.capacity) this.grow();
    return this.next++;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const keys = new Uint32Array(capacity * WORDS);
    keys.set(this.keys);
    this.keys = keys;
    const widen = (a: Int16Array): Int16Array => {
      const out = new Int16Array(capacity).fill(-1);
      out.set(a);
      return out;
    };
    this.wanted = widen(this.wanted);
    this.recorded = widen(this.recorded);
    this.enforced = widen(this.enforced);
    const stale = new Uint8Array(capacity);
    stale.set(this.stale);
    this.stale = stale;
    const policies = new Uint8Array(capacity);
    policies.set(this.policies);
    this.policies = policies;
    this.capacity = capacity;
  }

  private rehash(size: number): void {
    const table = new Int32Array(size).fill(EMPTY);
    const mask = size - 1;
    const keys = this.keys;
    for (let i = 0; i < this.next; i++) {
      if (this.cidrs[i] === undefined) continue;
      const k = i * WORDS;
      let h = hashWords(keys[k] as number, keys[k + 1] as number, keys[k + 2] as number, keys[k + 3] as number, keys[k + 4] as number) & mask;
      while (table[h] !== EMPTY) h = (h + 1) & mask;
      table[h] = i;
    }
    this.table = table;
    this.tombstones = 0;
  }
}
