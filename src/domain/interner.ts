// Interned strings with reference counts: per-rule tables hold a small integer per
// rule instead of a string (a tag is shared by thousands of rules). Id 0 is always "".
// Strings whose count drops to zero are forgotten and their ids reused, so a stream
// of unique tags does not grow the table forever.
export class Interner {
  private readonly strings: (string | undefined)[] = [''];
  private readonly ids = new Map<string, number>([['', 0]]);
  private refs: Uint32Array = new Uint32Array(16);
  private readonly freeIds: number[] = [];

  /** The id of `text`, one more reference held. */
  acquire(text: string): number {
    let id = this.ids.get(text);
    if (id === undefined) {
      id = this.freeIds.pop() ?? this.strings.length;
      if (id === this.strings.length) this.strings.push(text);
      else this.strings[id] = text;
      this.ids.set(text, id);
      if (id >= this.refs.length) {
        const grown = new Uint32Array(this.refs.length * 2);
        grown.set(this.refs);
        this.refs = grown;
      }
    }
    if (id !== 0) this.refs[id] = (this.refs[id] ?? 0) + 1;
    return id;
  }

  /** Drops one reference to `id`. */
  release(id: number): void {
    const held = this.refs[id] ?? 0;
    if (id === 0 || held === 0) return;
    this.refs[id] = held - 1;
    if (held > 1) return;
    const text = this.strings[id];
    if (text !== undefined) this.ids.delete(text);
    this.strings[id] = undefined;
    this.freeIds.push(id);
  }

  /** The id of `text` if interned (no reference taken), else -1. */
  peek(text: string): number {
    return this.ids.get(text) ?? -1;
  }

  text(id: number): string {
    return this.strings[id] ?? '';
  }

  /** Distinct strings held ("" included). */
  get size(): number {
    return this.ids.size;
  }
}
