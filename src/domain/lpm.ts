// Longest-prefix-match table, the userspace twin of the kernel's LPM trie.
// One hash map per prefix length; a lookup probes only the lengths in use, longest
// first, so it costs at most 32 (v4) or 128 (v6) map reads and usually a handful.
import { maskBytes, type Address, type AddressFamily, type Cidr } from './cidr.js';

type BucketKey = number | string;

interface FamilyTable<T> {
  byLength: Map<number, Map<BucketKey, { cidr: Cidr; value: T }>>;
  /** Prefix lengths present, longest first. */
  lengths: number[];
}

export class LpmTable<T> {
  private readonly families: Record<AddressFamily, FamilyTable<T>> = {
    4: { byLength: new Map(), lengths: [] },
    6: { byLength: new Map(), lengths: [] },
  };
  private count = 0;

  get size(): number {
    return this.count;
  }

  set(cidr: Cidr, value: T): void {
    const table = this.families[cidr.family];
    let bucket = table.byLength.get(cidr.prefixLength);
    if (bucket === undefined) {
      bucket = new Map();
      table.byLength.set(cidr.prefixLength, bucket);
      table.lengths.push(cidr.prefixLength);
      table.lengths.sort((a, b) => b - a);
    }
    const key = bytesKey(cidr.bytes);
    if (!bucket.has(key)) this.count++;
    bucket.set(key, { cidr, value });
  }

  delete(cidr: Cidr): boolean {
    const table = this.families[cidr.family];
    const bucket = table.byLength.get(cidr.prefixLength);
    if (bucket === undefined || !bucket.delete(bytesKey(cidr.bytes))) return false;
    this.count--;
    if (bucket.size === 0) {
      table.byLength.delete(cidr.prefixLength);
      table.lengths = table.lengths.filter((l) => l !== cidr.prefixLength);
    }
    return true;
  }

  get(cidr: Cidr): T | undefined {
    return this.families[cidr.family].byLength.get(cidr.prefixLength)?.get(bytesKey(cidr.bytes))?.value;
  }

  /**
   * The entry with the longest prefix containing `address`, if any. `accept` lets a
   * caller skip entries (e.g. expired ones) and fall back to shorter prefixes.
   */
  lookup(address: Address, accept?: (value: T) => boolean): { cidr: Cidr; value: T } | undefined {
    const table = this.families[address.family];
    for (const length of table.lengths) {
      const hit = table.byLength.get(length)?.get(bytesKey(maskBytes(address.bytes, length)));
      if (hit !== undefined && (accept === undefined || accept(hit.value))) return hit;
    }
    return undefined;
  }

  *values(): IterableIterator<T> {
    for (const family of [4, 6] as const) {
      for (const bucket of this.families[family].byLength.values()) {
        for (const item of bucket.values()) yield item.value;
      }
    }
  }

  clear(): void {
    for (const family of [4, 6] as const) this.families[family] = { byLength: new Map(), lengths: [] };
    this.count = 0;
  }
}

/** Allocation-light map key: a uint32 for IPv4, a 16-char string for IPv6. */
function bytesKey(bytes: Uint8Array): BucketKey {
  if (bytes.length === 4) return (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0;
  let key = '';
  for (const byte of bytes) key += String.fromCharCode(byte);
  return key;
}
