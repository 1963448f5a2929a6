// Compiles drop/ignore rules into the tables the XDP program reads (bpf/couic.h),
// resolving longest-prefix match and ignore-over-drop when writing (the semantics
// of src/domain/lpm.ts + the program's "ignore first"), so the program decides
// with one or two array loads:
//
// - the top tables (IPv4 and IPv6 alike) hold one slot per /24 (top 24 bits): the
//   verdict of the rules of length <= 24, painted shortest first; IPv4 slots holding
//   longer prefixes point to a 256-entry block (DIR-24-8), IPv6 ones say "probe
//   v6_long" (one hash entry per prefix longer than /24, its value already resolved)
//   and keep the short rules' verdict as the fallback;
// - changes recompute only the slots, blocks and v6_long entries they can affect,
//   and write them so that each slot flips from its old to its new value in one
//   store: blocks are filled before a slot points to them and freed only after it
//   stopped pointing to them; v6_long entries exist before a slot sends lookups to
//   them; the list of lengths only ever shows a superset of the old or the new one.
import { BpfError } from './bpf-error.js';
import type { KeyedEntry, KeyedMap, TableViews } from './kernel-maps.js';

export type RulePolicy = 'drop' | 'ignore';

export interface CompiledRule {
  readonly policy: RulePolicy;
  readonly family: 4 | 6;
  readonly prefixLength: number;
  /** Network address, masked: 4 or 16 bytes. */
  readonly bytes: Uint8Array;
  /** Tag slot its hits count under. */
  readonly slot: number;
}

export type RuleKey = Omit<CompiledRule, 'slot'>;

export const VERDICT_DROP = 1 << 8;
export const VERDICT_IGNORE = 2 << 8;
export const VERDICT_MASK = 0x3ff;
export const SLOT_DEEPER = 0x80000000;
export const TOP_SLOTS = 1 << 24;
export const V6_LENGTHS = 104;
export const V6_LENGTH_SETS = 4096;
const V6_SET_SHIFT = 10;
const V6_SET_MASK = 0x1fffff;
const ENOSPC = 28;
const E2BIG = 7;

export interface CompilerLimits {
  /** 256-entry blocks available in v4_blocks. */
  readonly v4Blocks: number;
  /** Entries available in v6_long. */
  readonly v6Long: number;
}

export interface RefusedRule {
  readonly rule: CompiledRule;
  readonly error: BpfError;
}

/** Rules of one policy and family by prefix length; key: top-24 number (short) or hex (IPv6 long). */
class RuleIndex<K> {
  readonly byLength = new Map<number, Map<K, number>>();
  /** Lengths in use, ascending. */
  lengths: number[] = [];

  set(length: number, key: K, slot: number): void {
    let bucket = this.byLength.get(length);
    if (bucket === undefined) {
      bucket = new Map();
      this.byLength.set(length, bucket);
      this.lengths.push(length);
      this.lengths.sort((a, b) => a - b);
    }
    bucket.set(key, slot);
  }

  delete(length: number, key: K): boolean {
    const bucket = this.byLength.get(length);
    if (bucket === undefined || !bucket.delete(key)) return false;
    if (bucket.size === 0) {
      this.byLength.delete(length);
      this.lengths = this.lengths.filter((l) => l !== length);
    }
    return true;
  }

  get(length: number, key: K): number | undefined {
    return this.byLength.get(length)?.get(key);
  }
}

const POLICY_LIST: readonly RulePolicy[] = ['drop', 'ignore'];

/** Top 24 bits of a masked address, as a number. */
function top24(bytes: Uint8Array): number {
  return ((bytes[0] ?? 0) << 16) | ((bytes[1] ?? 0) << 8) | (bytes[2] ?? 0);
}

function v4Number(bytes: Uint8Array): number {
  return (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0;
}

/** Mask of the top `length` bits of a 24-bit slot number. */
function mask24(length: number): number {
  return length <= 0 ? 0 : (0xffffff << (24 - length)) & 0xffffff;
}

function combine(ignoreSlot: number, dropSlot: number): number {
  if (ignoreSlot >= 0) return VERDICT_IGNORE | ignoreSlot;
  if (dropSlot >= 0) return VERDICT_DROP | dropSlot;
  return 0;
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function maskedBytes(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.min(8, Math.max(0, length - 8 * i));
    out[i] = (bytes[i] ?? 0) & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** The v6_long key of a prefix: {u32 prefixlen LE, 16 bytes}, as an LPM key. */
export function v6LongKey(length: number, bytes: Uint8Array): Buffer {
  const key = Buffer.alloc(20);
  key.writeUInt32LE(length, 0);
  key.set(bytes, 4);
  return key;
}

/** Rules of one family's top table (length <= 24), per policy. */
class TopRules {
  readonly rules: Record<RulePolicy, RuleIndex<number>> = { drop: new RuleIndex(), ignore: new RuleIndex() };

  /** Tag slot of the longest rule of `policy` of length <= maxLength covering top slot `s` (-1: none). */
  cover(policy: RulePolicy, s: number, maxLength: number): number {
    const index = this.rules[policy];
    for (let i = index.lengths.length - 1; i >= 0; i--) {
      const length = index.lengths[i] ?? 0;
      if (length > maxLength) continue;
      const slot = index.get(length, s & mask24(length));
      if (slot !== undefined) return slot;
    }
    return -1;
  }

  /**
   * Short-rule layers of the slots [s0, s0 + 2^(24-length)): per policy, the tag slot
   * of the longest covering rule (-1: none), painted shortest first.
   */
  paint(s0: number, length: number): { ignore: Int16Array; drop: Int16Array } {
    const n = 1 << (24 - length);
    const layers = { ignore: new Int16Array(n), drop: new Int16Array(n) };
    for (const policy of POLICY_LIST) {
      const layer = layers[policy];
      layer.fill(this.cover(policy, s0, length));
      const index = this.rules[policy];
      for (const l of index.lengths) {
        if (l <= length) continue;
        const width = 1 << (24 - l);
        for (const [prefix, slot] of index.byLength.get(l) ?? []) {
          if (prefix < s0 || prefix >= s0 + n) continue;
          layer.fill(slot, prefix - s0, prefix - s0 + width);
        }
      }
    }
    return layers;
  }
}

/** Scratch layers of one block (fillBlock is not re-entered). */
const BLOCK_LAYERS = { ignore: new Int16Array(256), drop: new Int16Array(256) };

function v4LongKey(policy: RulePolicy, length: number, low: number): number {
  return ((policy === 'drop' ? 0 : 1) << 16) | (length << 8) | low;
}

interface V4LongRule {
  readonly policy: RulePolicy;
  readonly length: number;
  /** Offset of the prefix inside its /24 (low 8 bits). */
  readonly low: number;
  readonly slot: number;
}

export class TableCompiler {
  private readonly top: Record<4 | 6, TopRules> = { 4: new TopRules(), 6: new TopRules() };
  /** IPv4 rules longer than /24, by top slot, then by policy << 16 | length << 8 | low. */
  private readonly v4Long = new Map<number, Map<number, V4LongRule>>();
  private readonly blockOf = new Map<number, number>();
  private readonly freeBlocks: number[] = [];
  /** Blocks freed during the current change: reused only by a later one (a packet may still read them). */
  private quarantine: number[] = [];
  private nextBlock = 0;
  /** Slots that lost their last long IPv4 prefix in the current change (their block frees later). */
  private releasing = 0;
  /** Short-rule verdict each block was filled over (ignore slot << 16 | drop slot, +1 each). */
  private readonly blockBase = new Map<number, number>();
  /** IPv6 rules longer than /24, per policy: hex of the masked bytes. */
  private readonly v6LongRules: Record<RulePolicy, RuleIndex<string>> = { drop: new RuleIndex(), ignore: new RuleIndex() };
  /** Bytes of each IPv6 long prefix (by `${length}:${hex}`). */
  private readonly v6Bytes = new Map<string, Uint8Array>();
  /** IPv6 long prefixes per top slot: count per length. */
  private readonly v6LongPerTop = new Map<number, Map<number, number>>();
  /** Length lists in v6_lengths (index 0 is the list of every length), by content. */
  private readonly lengthSets = new Map<string, { index: number; refs: number }>();
  private readonly setKeyOf = new Map<number, string>();
  /** References to lists found in the tables at start (pinned), by index. */
  private readonly foreignSetRefs = new Map<number, number>();
  private freeSets: number[] = [];
  private retiredSets: number[] = [];
  /** v6_long as written to the kernel (by `${length}:${hex}`). */
  private readonly v6Written = new Map<string, number>();
  /** Entries of v6Written per prefix length (list 0 is built from it). */
  private readonly writtenPerLength = new Map<number, number>();
  /** v6_long entries whose last write the kernel refused: value wanted (undefined = absent). */
  private readonly v6Unwritten = new Map<string, number | undefined>();

  constructor(
    private readonly tables: TableViews,
    private readonly v6Long: KeyedMap,
    private readonly limits: CompilerLimits,
  ) {
    // Blocks the pinned IPv4 table points to stay with their slot (rebuilt in place,
    // never handed to another slot while one points to them).
    const v4 = tables.v4Top;
    let highest = -1;
    for (let s = 0; s < v4.length; s++) {
      const value = v4[s] ?? 0;
      if (value < SLOT_DEEPER) continue;
      const block = value - SLOT_DEEPER;
      this.blockOf.set(s, block);
      if (block > highest) highest = block;
    }
    if (this.blockOf.size > 0) {
      const used = new Uint8Array(highest + 1);
      for (const block of this.blockOf.values()) used[block] = 1;
      for (let b = highest; b >= 0; b--) if (used[b] === 0) this.freeBlocks.push(b);
      this.nextBlock = highest + 1;
    }
    // Lists the pinned tables point to stay untouched until no slot points to them.
    const top = tables.v6Top;
    for (let s = 0; s < top.length; s++) {
      const value = top[s] ?? 0;
      if (value < SLOT_DEEPER) continue;
      const set = (value >>> V6_SET_SHIFT) & V6_SET_MASK;
      if (set !== 0) this.foreignSetRefs.set(set, (this.foreignSetRefs.get(set) ?? 0) + 1);
    }
    const sets = tables.v6Lengths.length / V6_LENGTHS;
    for (let i = sets - 1; i >= 1; i--) if (!this.foreignSetRefs.has(i)) this.freeSets.push(i);
  }

  /** v6_long writes the kernel refused, waiting for retryUnwritten(). */
  get unwrittenCount(): number {
    return this.v6Unwritten.size;
  }

  get blocksInUse(): number {
    return this.blockOf.size;
  }

  /**
   * Applies removals, then upserts (an upsert of an existing key replaces its slot).
   * Returns the upserts refused for want of table space (nothing of them is written).
   */
  async apply(upserts: readonly CompiledRule[], removals: readonly RuleKey[]): Promise<RefusedRule[]> {
    for (const set of this.retiredSets) this.freeSets.push(set);
    this.retiredSets = [];
    for (const block of this.quarantine) this.freeBlocks.push(block);
    this.quarantine = [];
    this.releasing = 0;
    const dirty: Record<4 | 6, { ranges: Map<number, number>; slots: Set<number> }> = {
      4: { ranges: new Map(), slots: new Set() },
      6: { ranges: new Map(), slots: new Set() },
    };
    const v6Dirty = new Set<string>();
    /** Ignore rules changed (IPv6): the long entries inside them must be re-resolved. */
    const v6IgnoreChanges: { length: number; bytes: Uint8Array }[] = [];
    const refused: RefusedRule[] = [];
    const note = (rule: RuleKey): void => {
      const { family, prefixLength: length, bytes } = rule;
      if (length <= 24) {
        const s = top24(bytes) & mask24(length);
        const known = dirty[family].ranges.get(s);
        if (known === undefined || length < known) dirty[family].ranges.set(s, length);
      } else {
        dirty[family].slots.add(top24(bytes));
      }
      if (family === 6 && length > 24) v6Dirty.add(`${length}:${hexOf(bytes)}`);
      if (family === 6 && rule.policy === 'ignore') v6IgnoreChanges.push({ length, bytes });
    };
    for (const rule of removals) if (this.remove(rule)) note(rule);
    for (const rule of upserts) {
      const error = this.insert(rule);
      if (error !== undefined) refused.push({ rule, error });
      else note(rule);
    }
    // Long IPv6 entries under a changed ignore rule: their resolved verdict may change.
    if (v6IgnoreChanges.length > 16) for (const id of this.v6Bytes.keys()) v6Dirty.add(id);
    else for (const change of v6IgnoreChanges) this.collectV6Inside(change.length, change.bytes, v6Dirty);
    // IPv6 first the entries (so that a slot never sends lookups to a missing one), then slots.
    await this.writeV6Entries(v6Dirty, 'set');
    this.writeLengths(true);
    for (const family of [4, 6] as const) this.recompute(family, dirty[family].ranges, dirty[family].slots);
    await this.writeV6Entries(v6Dirty, 'delete');
    this.writeLengths(false);
    return refused;
  }

  /** Writes again the v6_long entries the kernel refused; returns how many are still refused. */
  async retryUnwritten(): Promise<number> {
    const ids = new Set(this.v6Unwritten.keys());
    await this.writeV6Entries(ids, 'set');
    this.writeLengths(true);
    await this.writeV6Entries(ids, 'delete');
    this.writeLengths(false);
    return this.v6Unwritten.size;
  }

  /** The verdict the tables give `address` (4 or 16 bytes), read as the program reads it. */
  verdictOf(address: Uint8Array): number {
    return readVerdict(this.tables, (length, bytes) => this.v6Written.get(`${length}:${hexOf(maskedBytes(bytes, length))}`), address);
  }

  // --- rule bookkeeping ----------------------------------------------------

  private insert(rule: CompiledRule): BpfError | undefined {
    const { family, policy, prefixLength: length, bytes, slot } = rule;
    if (length <= 24) {
      this.top[family].rules[policy].set(length, top24(bytes) & mask24(length), slot);
      return undefined;
    }
    const s = top24(bytes);
    if (family === 4) {
      let rules = this.v4Long.get(s);
      if (rules === undefined) {
        if (this.v4Long.size >= this.limits.v4Blocks - this.quarantine.length - this.releasing) {
          return new BpfError('compile IPv4 rule', ENOSPC, `no free 256-entry block (all ${this.limits.v4Blocks} hold longer-than-/24 prefixes)`);
        }
        rules = new Map();
        this.v4Long.set(s, rules);
      }
      const low = (bytes[3] ?? 0) & ((0xff << (32 - length)) & 0xff);
      rules.set(v4LongKey(policy, length, low), { policy, length, low, slot });
      return undefined;
    }
    const hex = hexOf(bytes);
    const id = `${length}:${hex}`;
    if (!this.v6Bytes.has(id)) {
      if (this.v6Bytes.size >= this.limits.v6Long) {
        return new BpfError('compile IPv6 rule', E2BIG, `v6_long is full (${this.limits.v6Long} prefixes longer than /24)`);
      }
      this.v6Bytes.set(id, Uint8Array.from(bytes));
      let perLength = this.v6LongPerTop.get(s);
      if (perLength === undefined) {
        perLength = new Map();
        this.v6LongPerTop.set(s, perLength);
      }
      perLength.set(length, (perLength.get(length) ?? 0) + 1);
    }
    this.v6LongRules[policy].set(length, hex, slot);
    return undefined;
  }

  /** false when the rule was not there. */
  private remove(rule: RuleKey): boolean {
    const { family, policy, prefixLength: length, bytes } = rule;
    if (length <= 24) return this.top[family].rules[policy].delete(length, top24(bytes) & mask24(length));
    const s = top24(bytes);
    if (family === 4) {
      const rules = this.v4Long.get(s);
      const low = (bytes[3] ?? 0) & ((0xff << (32 - length)) & 0xff);
      if (rules === undefined || !rules.delete(v4LongKey(policy, length, low))) return false;
      if (rules.size === 0) {
        this.v4Long.delete(s);
        if (this.blockOf.has(s)) this.releasing++;
      }
      return true;
    }
    const hex = hexOf(bytes);
    if (!this.v6LongRules[policy].delete(length, hex)) return false;
    const other: RulePolicy = policy === 'drop' ? 'ignore' : 'drop';
    if (this.v6LongRules[other].get(length, hex) === undefined) {
      this.v6Bytes.delete(`${length}:${hex}`);
      const perLength = this.v6LongPerTop.get(s);
      const count = (perLength?.get(length) ?? 1) - 1;
      if (count === 0) perLength?.delete(length);
      else perLength?.set(length, count);
      if (perLength?.size === 0) this.v6LongPerTop.delete(s);
    }
    return true;
  }

  // --- top tables and blocks -----------------------------------------------

  /** Recomputes the dirty ranges (top slot -> shortest changed length) and single slots. */
  private recompute(family: 4 | 6, ranges: Map<number, number>, slots: Set<number>): void {
    const rules = this.top[family];
    let list = [...ranges].map(([s0, length]) => ({ s0, length })).sort((a, b) => a.length - b.length);
    // Many wide ranges: one pass over everything is cheaper than a scan per range.
    if (list.filter((r) => r.length < 24).length > 32) list = [{ s0: 0, length: 0 }];
    let dirtyFlags: Uint8Array | undefined;
    if (list[0]?.length === 0 && slots.size > 0) {
      dirtyFlags = new Uint8Array(TOP_SLOTS);
      for (const s of slots) dirtyFlags[s] = 1;
      slots.clear();
    }
    // Shortest first; a range inside a wider one already recomputed is skipped.
    const wide: { s0: number; length: number }[] = [];
    for (const range of list) {
      if (wide.some((d) => range.length >= d.length && (range.s0 & mask24(d.length)) === d.s0)) continue;
      if (range.length < 24) wide.push(range);
      const { ignore, drop } = rules.paint(range.s0, range.length);
      const top = family === 4 ? this.tables.v4Top : this.tables.v6Top;
      const slow = writeShortVerdicts(top, ignore, drop, range.s0, dirtyFlags, dirtyFlags === undefined ? slots : undefined);
      for (const s of slow) {
        const longChanged = dirtyFlags !== undefined ? dirtyFlags[s] === 1 : slots.delete(s);
        this.setSlot(family, s, ignore[s - range.s0] ?? -1, drop[s - range.s0] ?? -1, longChanged);
      }
    }
    for (const s of slots) this.setSlot(family, s, rules.cover('ignore', s, 24), rules.cover('drop', s, 24), true);
  }

  /**
   * Writes one top slot from its short-rule verdict. `longChanged`: a longer prefix
   * inside it changed (its block must be rebuilt even if the short verdict did not).
   */
  private setSlot(family: 4 | 6, s: number, ignoreSlot: number, dropSlot: number, longChanged: boolean): void {
    const base = combine(ignoreSlot, dropSlot);
    const top = family === 4 ? this.tables.v4Top : this.tables.v6Top;
    const current = top[s] ?? 0;
    // Fast path: no longer prefix inside this slot before or after.
    if (!longChanged && current < SLOT_DEEPER) {
      if (current !== base) top[s] = base;
      return;
    }
    if (family === 6) {
      const perLength = this.v6LongPerTop.get(s);
      const set = perLength === undefined ? undefined : this.lengthSet([...perLength.keys()]);
      const value = set === undefined ? base : (SLOT_DEEPER | (set << V6_SET_SHIFT) | base) >>> 0;
      if (current !== value) top[s] = value;
      if (current >= SLOT_DEEPER && current !== value) this.releaseSet((current >>> V6_SET_SHIFT) & V6_SET_MASK);
      else if (current >= SLOT_DEEPER && set !== undefined) this.releaseSet(set); // unchanged: drop the reference lengthSet() took
      return;
    }
    const long = this.v4Long.get(s);
    const block = this.blockOf.get(s);
    if (long === undefined) {
      if (current !== base) top[s] = base;
      if (block !== undefined) {
        this.blockOf.delete(s);
        this.blockBase.delete(block);
        this.quarantine.push(block);
      }
      return;
    }
    // Rebuilt when new, when a longer prefix changed, or when the short verdict under it changed.
    const packed = ((ignoreSlot + 1) << 16) | (dropSlot + 1);
    if (block !== undefined && !longChanged && this.blockBase.get(block) === packed) return;
    const target = block ?? this.allocateBlock();
    this.fillBlock(target, long, ignoreSlot, dropSlot);
    this.blockBase.set(target, packed);
    if (block === undefined) this.blockOf.set(s, target);
    const pointer = (SLOT_DEEPER | target) >>> 0;
    if (current !== pointer) top[s] = pointer;
  }

  private allocateBlock(): number {
    const free = this.freeBlocks.pop();
    if (free !== undefined) return free;
    return this.nextBlock++;
  }

  private fillBlock(block: number, long: Map<number, V4LongRule>, ignoreSlot: number, dropSlot: number): void {
    const blocks = this.tables.v4Blocks;
    const offset = block * 256;
    if (long.size === 1) {
      // One longer rule (the common case): native fills of disjoint ranges, each
      // entry written once with its final value (a block rebuilt in place never
      // shows a value of neither state).
      for (const rule of long.values()) {
        const inside = rule.policy === 'ignore' ? combine(rule.slot, dropSlot) : combine(ignoreSlot, rule.slot);
        const base = combine(ignoreSlot, dropSlot);
        const end = rule.low + (1 << (32 - rule.length));
        blocks.fill(base, offset, offset + rule.low);
        blocks.fill(inside, offset + rule.low, offset + end);
        blocks.fill(base, offset + end, offset + 256);
      }
      return;
    }
    const layers = BLOCK_LAYERS;
    layers.ignore.fill(ignoreSlot);
    layers.drop.fill(dropSlot);
    {
      const sorted = [...long.values()].sort((a, b) => a.length - b.length);
      for (const rule of sorted) layers[rule.policy].fill(rule.slot, rule.low, rule.low + (1 << (32 - rule.length)));
    }
    for (let i = 0; i < 256; i++) {
      const value = combine(layers.ignore[i] ?? -1, layers.drop[i] ?? -1);
      if (blocks[offset + i] !== value) blocks[offset + i] = value;
    }
  }

  /**
   * Index of the list holding exactly `lengths` (one more reference), written into
   * v6_lengths before any slot points to it; 0 (the list of every length) when all
   * lists are taken.
   */
  private lengthSet(lengths: number[]): number {
    lengths.sort((a, b) => b - a);
    const key = lengths.join(',');
    const known = this.lengthSets.get(key);
    if (known !== undefined) {
      known.refs++;
      return known.index;
    }
    const index = this.freeSets.pop();
    if (index === undefined) return 0;
    const list = this.tables.v6Lengths.subarray(index * V6_LENGTHS, (index + 1) * V6_LENGTHS);
    list.fill(0);
    list.set(lengths.slice(0, V6_LENGTHS));
    this.lengthSets.set(key, { index, refs: 1 });
    this.setKeyOf.set(index, key);
    return index;
  }

  /** One slot stopped pointing to list `index`. */
  private releaseSet(index: number): void {
    if (index === 0) return;
    const foreign = this.foreignSetRefs.get(index);
    if (foreign !== undefined) {
      if (foreign <= 1) {
        this.foreignSetRefs.delete(index);
        this.retiredSets.push(index);
      } else this.foreignSetRefs.set(index, foreign - 1);
      return;
    }
    const key = this.setKeyOf.get(index);
    const entry = key === undefined ? undefined : this.lengthSets.get(key);
    if (key === undefined || entry === undefined) return;
    entry.refs--;
    if (entry.refs <= 0) {
      this.lengthSets.delete(key);
      this.setKeyOf.delete(index);
      this.retiredSets.push(index);
    }
  }

  // --- IPv6 long prefixes ----------------------------------------------------

  /** Adds to `into` every IPv6 long prefix strictly inside (length, bytes). */
  private collectV6Inside(length: number, bytes: Uint8Array, into: Set<string>): void {
    for (const [id, prefix] of this.v6Bytes) {
      const l = Number(id.slice(0, id.indexOf(':')));
      if (l <= length) continue;
      if (coversBytes(bytes, length, prefix)) into.add(id);
    }
  }

  /** Resolved v6_long value of a long prefix, or undefined when no rule has it. */
  private v6Value(length: number, hex: string): number | undefined {
    const ignoreSlot = this.v6LongRules.ignore.get(length, hex);
    if (ignoreSlot !== undefined) return VERDICT_IGNORE | ignoreSlot;
    const dropSlot = this.v6LongRules.drop.get(length, hex);
    if (dropSlot === undefined) return undefined;
    // No IPv6 ignore rule at all (the common case): no ancestor to look for.
    if (this.v6LongRules.ignore.lengths.length === 0 && this.top[6].rules.ignore.lengths.length === 0) return VERDICT_DROP | dropSlot;
    const ancestor = this.v6IgnoreAncestor(length, this.v6Bytes.get(`${length}:${hex}`) ?? Buffer.from(hex, 'hex'));
    return ancestor >= 0 ? VERDICT_IGNORE | ancestor : VERDICT_DROP | dropSlot;
  }

  /** Tag slot of the longest ignore rule shorter than `length` covering the prefix (-1: none). */
  private v6IgnoreAncestor(length: number, bytes: Uint8Array): number {
    const index = this.v6LongRules.ignore;
    for (let i = index.lengths.length - 1; i >= 0; i--) {
      const l = index.lengths[i] ?? 0;
      if (l >= length) continue;
      const slot = index.get(l, hexOf(maskedBytes(bytes, l)));
      if (slot !== undefined) return slot;
    }
    return this.top[6].cover('ignore', top24(bytes), 24);
  }

  /** Writes (phase 'set') or deletes (phase 'delete') the v6_long entries of `ids` that differ from the kernel. */
  private async writeV6Entries(ids: ReadonlySet<string>, phase: 'set' | 'delete'): Promise<void> {
    const sets: (KeyedEntry & { id: string })[] = [];
    const deletes: { id: string; key: Buffer }[] = [];
    // Keys of this call in one buffer (one allocation, not one per entry).
    const keyBytes = Buffer.alloc(ids.size * 20);
    let used = 0;
    for (const id of ids) {
      const colon = id.indexOf(':');
      const length = Number(id.slice(0, colon));
      const hex = id.slice(colon + 1);
      const wanted = this.v6Value(length, hex);
      const written = this.v6Written.get(id);
      const unwritten = this.v6Unwritten.size > 0 && this.v6Unwritten.has(id);
      if (wanted === written && !unwritten) continue;
      if ((phase === 'set') !== (wanted !== undefined)) continue;
      const key = keyBytes.subarray(used, used + 20);
      used += 20;
      key.writeUInt32LE(length, 0);
      const bytes = this.v6Bytes.get(id);
      if (bytes !== undefined) key.set(bytes, 4);
      else key.write(hex, 4, 'hex');
      if (wanted !== undefined) sets.push({ id, key, value: wanted });
      else deletes.push({ id, key });
    }
    if (sets.length > 0) {
      const failed = new Set((await this.v6Long.upsert(sets)).map((f) => f.key));
      for (const entry of sets) {
        if (failed.has(entry.key)) this.v6Unwritten.set(entry.id, entry.value);
        else {
          if (!this.v6Written.has(entry.id)) this.countWritten(entry.id, 1);
          this.v6Written.set(entry.id, entry.value);
          this.v6Unwritten.delete(entry.id);
        }
      }
    }
    if (deletes.length > 0) {
      const failed = new Set((await this.v6Long.delete(deletes.map((d) => d.key))).map((f) => f.key));
      for (const entry of deletes) {
        if (failed.has(entry.key)) this.v6Unwritten.set(entry.id, undefined);
        else {
          if (this.v6Written.delete(entry.id)) this.countWritten(entry.id, -1);
          this.v6Unwritten.delete(entry.id);
        }
      }
    }
  }

  private countWritten(id: string, delta: 1 | -1): void {
    const length = Number(id.slice(0, id.indexOf(':')));
    const count = (this.writtenPerLength.get(length) ?? 0) + delta;
    if (count <= 0) this.writtenPerLength.delete(length);
    else this.writtenPerLength.set(length, count);
  }

  /**
   * Rewrites the lengths list. grow: the union of the lengths written and wanted,
   * written back to front; shrink: exactly the wanted ones, front to back. Either
   * way every intermediate list holds every length of the old or the new state.
   */
  private writeLengths(grow: boolean): void {
    const present = new Set<number>();
    for (const length of this.writtenPerLength.keys()) present.add(length);
    const list = this.tables.v6Lengths.subarray(0, V6_LENGTHS);
    if (grow) for (const l of list) if (l !== 0) present.add(l);
    const next = [...present].sort((a, b) => b - a);
    const target = new Uint8Array(V6_LENGTHS);
    target.set(next.slice(0, V6_LENGTHS));
    if (grow) {
      for (let i = V6_LENGTHS - 1; i >= 0; i--) if (list[i] !== target[i]) list[i] = target[i] ?? 0;
    } else {
      for (let i = 0; i < V6_LENGTHS; i++) if (list[i] !== target[i]) list[i] = target[i] ?? 0;
    }
  }
}

/**
 * Writes the short-rule verdict of every slot of a painted range that has no
 * longer prefix before or after (the hot loop of a full recompute: 2^24 slots);
 * returns the other slots, for setSlot().
 */
function writeShortVerdicts(top: Uint32Array, ignore: Int16Array, drop: Int16Array, s0: number, dirtyFlags: Uint8Array | undefined, dirtySlots: Set<number> | undefined): number[] {
  const slow: number[] = [];
  const n = ignore.length;
  for (let i = 0; i < n; i++) {
    const s = s0 + i;
    const current = top[s] as number;
    if (current >= SLOT_DEEPER || (dirtyFlags !== undefined && dirtyFlags[s] === 1) || (dirtySlots !== undefined && dirtySlots.size > 0 && dirtySlots.has(s))) {
      slow.push(s);
      continue;
    }
    const ignoreSlot = ignore[i] as number;
    const dropSlot = drop[i] as number;
    const base = ignoreSlot >= 0 ? VERDICT_IGNORE | ignoreSlot : dropSlot >= 0 ? VERDICT_DROP | dropSlot : 0;
    if (current !== base) top[s] = base;
  }
  return slow;
}

function coversBytes(prefix: Uint8Array, length: number, bytes: Uint8Array): boolean {
  const whole = length >> 3;
  for (let i = 0; i < whole; i++) if (prefix[i] !== bytes[i]) return false;
  const rest = length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((prefix[whole] ?? 0) & mask) === ((bytes[whole] ?? 0) & mask);
}

/**
 * The program's lookup, in TypeScript: what verdict the tables give `address`.
 * `v6Long(length, address)` answers a v6_long probe (the address is masked by the caller's map).
 */
export function readVerdict(tables: TableViews, v6Long: (length: number, address: Uint8Array) => number | undefined, address: Uint8Array): number {
  if (address.length === 4) {
    const a = v4Number(address);
    const value = tables.v4Top[a >>> 8] ?? 0;
    if ((value & SLOT_DEEPER) === 0) return value;
    return tables.v4Blocks[(value & ~SLOT_DEEPER) * 256 + (a & 0xff)] ?? 0;
  }
  const value = tables.v6Top[top24(address)] ?? 0;
  if ((value & SLOT_DEEPER) === 0) return value;
  const set = (value >>> V6_SET_SHIFT) & V6_SET_MASK;
  for (const length of tables.v6Lengths.subarray(set * V6_LENGTHS, (set + 1) * V6_LENGTHS)) {
    if (length === 0) break;
    const hit = v6Long(length, address);
    if (hit !== undefined) return hit;
  }
  return value & VERDICT_MASK;
}

/** The verdict src/domain/lpm.ts semantics give: longest ignore wins, else longest drop. */
export function verdictValue(ignoreSlot: number | undefined, dropSlot: number | undefined): number {
  return combine(ignoreSlot ?? -1, dropSlot ?? -1);
}

export { maskedBytes, v4Number };
