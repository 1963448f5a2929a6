// Which tag counts under which counter slot of the XDP program. The kernel knows
// slots only; this allocates them (slot 0 untagged, 1..254 one tag each, 255 the
// overflow "untracked"), counts the entries using each, and reuses the least
// recently freed slot when all are taken. A freed slot keeps its name and counters
// (stats still show them) until it is reused.
import { TAG_SLOTS, TAG_UNTAGGED, TAG_UNTRACKED } from './layout.js';

export interface SlotSink {
  /** A slot is (re)assigned to `name`: record the name and zero its counters. */
  assign(slot: number, name: string): void;
}

export class TagSlots {
  private readonly names: (string | undefined)[] = new Array<string | undefined>(TAG_SLOTS).fill(undefined);
  private readonly refs: number[] = new Array<number>(TAG_SLOTS).fill(0);
  private readonly byName = new Map<string, number>();
  /** Slots with a name and no entry, least recently freed first (insertion order). */
  private readonly freed = new Set<number>();

  constructor(private readonly sink: SlotSink) {}

  /** Rebuilds the allocation from the pinned maps (names) and entries (slot per entry). */
  restore(names: ReadonlyMap<number, string>, entrySlots: Iterable<number>): void {
    for (const [slot, name] of names) {
      if (slot <= TAG_UNTAGGED || slot >= TAG_UNTRACKED || name === '' || this.byName.has(name)) continue;
      this.names[slot] = name;
      this.byName.set(name, slot);
    }
    for (const slot of entrySlots) if (slot < TAG_SLOTS) this.refs[slot] = (this.refs[slot] ?? 0) + 1;
    for (const [, slot] of this.byName) if (this.refs[slot] === 0) this.freed.add(slot);
  }

  /** Slot for one more entry tagged `tag`. */
  acquire(tag: string): number {
    if (tag === '') return TAG_UNTAGGED;
    let slot = this.byName.get(tag);
    if (slot === undefined) {
      slot = this.allocate(tag);
      if (slot === TAG_UNTRACKED) return slot;
    }
    this.freed.delete(slot);
    this.refs[slot] = (this.refs[slot] ?? 0) + 1;
    return slot;
  }

  /** One entry counting under `slot` is gone. */
  release(slot: number): void {
    if (slot === TAG_UNTAGGED || slot >= TAG_UNTRACKED) return;
    const refs = (this.refs[slot] ?? 0) - 1;
    this.refs[slot] = Math.max(0, refs);
    if (refs <= 0 && this.names[slot] !== undefined) this.freed.add(slot);
  }

  /** Slot a tag counts under now (undefined: no slot; '' is slot 0). */
  slotOf(tag: string): number | undefined {
    return tag === '' ? TAG_UNTAGGED : this.byName.get(tag);
  }

  /** Name of a slot for reporting, undefined when never assigned. */
  nameOf(slot: number): string | undefined {
    if (slot === TAG_UNTAGGED) return '';
    return this.names[slot];
  }

  private allocate(tag: string): number {
    let slot = this.names.findIndex((name, index) => index > TAG_UNTAGGED && index < TAG_UNTRACKED && name === undefined);
    if (slot === -1) {
      const oldest = this.freed.values().next();
      if (oldest.done === true) return TAG_UNTRACKED;
      slot = oldest.value;
      const previous = this.names[slot];
      if (previous !== undefined) this.byName.delete(previous);
    }
    this.sink.assign(slot, tag);
    this.names[slot] = tag;
    this.byName.set(tag, slot);
    return slot;
  }
}
