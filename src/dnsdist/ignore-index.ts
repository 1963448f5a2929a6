// "Is this CIDR inside an ignore rule?" for the reconciler: ignore wins over drop, so
// a drop covered by an ignore is never installed. Ignores are kept per family and
// prefix length; a query masks the CIDR to each ignore length up to its own (at most
// 33 or 129 set lookups), whatever the number of ignores.
import { maskBytes, tryParseCidr, type Cidr } from '../domain/cidr.js';

export class IgnoreIndex {
  private readonly byLength = new Map<string, Set<string>>();
  private readonly lengths: { 4: number[]; 6: number[] } = { 4: [], 6: [] };
  private readonly texts: string[] = [];

  add(cidr: Cidr): void {
    const slot = `${cidr.family}/${cidr.prefixLength}`;
    let set = this.byLength.get(slot);
    if (set === undefined) {
      set = new Set();
      this.byLength.set(slot, set);
      const list = this.lengths[cidr.family];
      list.push(cidr.prefixLength);
      list.sort((a, b) => a - b);
    }
    set.add(hex(cidr.bytes));
    this.texts.push(cidr.text);
  }

  /** True when an ignore equals `cidr` or contains it. */
  covers(cidr: Cidr): boolean {
    for (const length of this.lengths[cidr.family]) {
      if (length > cidr.prefixLength) break;
      if (this.byLength.get(`${cidr.family}/${length}`)?.has(hex(maskBytes(cidr.bytes, length))) === true) return true;
    }
    return false;
  }

  /** Every ignore, as CIDR text. */
  all(): readonly string[] {
    return this.texts;
  }

  static from(cidrs: Iterable<string>): IgnoreIndex {
    const index = new IgnoreIndex();
    for (const text of cidrs) {
      const cidr = tryParseCidr(text);
      if (typeof cidr !== 'string') index.add(cidr);
    }
    return index;
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
