// KernelMaps in memory, for unit tests of the compiler and the sync state machine
// without root: the tables are plain typed arrays (same sizes as the kernel's top
// tables, fewer blocks), the hash maps JS maps, and `refuse` makes writes fail
// with a chosen errno, as the kernel does when a map is full or memory is short.
import { BpfError } from './bpf-error.js';
import type { KernelMaps, KeyedEntry, KeyedMap, KeyedWriteFailure, RefusalRule, TableViews, TrafficCounterValue } from './kernel-maps.js';
import { TOP_SLOTS, V6_LENGTH_SETS, V6_LENGTHS } from './table-compiler.js';
import { V6_ENTRY_WORDS, V6Table } from './v6-table.js';


export class FakeKeyedMap implements KeyedMap {
  readonly data = new Map<string, number>();
  refusal: RefusalRule | undefined;
  writes = 0;

  constructor(
    readonly keySize: number,
    readonly capacity: number,
  ) {}

  async upsert(entries: readonly KeyedEntry[]): Promise<KeyedWriteFailure[]> {
    const failures: KeyedWriteFailure[] = [];
    for (const { key, value } of entries) {
      const hex = key.toString('hex');
      let errno = this.refusal?.('upsert', key);
      if (errno === undefined && !this.data.has(hex) && this.data.size >= this.capacity) errno = 7; // E2BIG
      if (errno !== undefined) {
        failures.push({ key, error: new BpfError('map update', errno) });
        continue;
      }
      this.writes++;
      this.data.set(hex, value);
    }
    return failures;
  }

  async delete(keys: readonly Buffer[]): Promise<KeyedWriteFailure[]> {
    const failures: KeyedWriteFailure[] = [];
    for (const key of keys) {
      const errno = this.refusal?.('delete', key);
      if (errno !== undefined) {
        failures.push({ key, error: new BpfError('map delete', errno) });
        continue;
      }
      this.writes++;
      this.data.delete(key.toString('hex'));
    }
    return failures;
  }

  entries(): KeyedEntry[] {
    return [...this.data].map(([hex, value]) => ({ key: Buffer.from(hex, 'hex'), value }));
  }
}

export interface FakeKernelOptions {
  readonly v4Blocks?: number;
  /** Entries of the v6_long table (a power of two). */
  readonly v6Slots?: number;
  readonly ruleRecord?: number;
}

export class FakeKernelMaps implements KernelMaps {
  readonly tables: TableViews;
  readonly v6Long: V6Table;
  readonly ruleRecord: FakeKeyedMap;
  readonly tagNames = new Map<number, string>();
  readonly counters = { actions: new Map<number, TrafficCounterValue>(), drop: new Map<number, TrafficCounterValue>(), ignore: new Map<number, TrafficCounterValue>() };
  closed = false;
  private readonly v6LongBytes: number;

  constructor(options: FakeKernelOptions = {}) {
    this.tables = {
      v4Top: new Uint32Array(TOP_SLOTS),
      v4Blocks: new Uint16Array((options.v4Blocks ?? 4096) * 256),
      v6Top: new Uint32Array(TOP_SLOTS),
      v6Lengths: new Uint8Array(V6_LENGTHS * V6_LENGTH_SETS),
    };
    // Same table as the kernel's, over a plain array (smaller unless asked).
    this.v6Long = new V6Table(new Uint32Array((options.v6Slots ?? 1 << 16) * V6_ENTRY_WORDS));
    this.ruleRecord = new FakeKeyedMap(20, options.ruleRecord ?? 1 << 20);
    this.v6LongBytes = (options.v6Slots ?? 1 << 16) * V6_ENTRY_WORDS * 4;
  }

  readTagNames(): Map<number, string> {
    return new Map(this.tagNames);
  }

  assignTagSlot(slot: number, name: string): void {
    this.tagNames.set(slot, name);
    this.counters.drop.delete(slot);
    this.counters.ignore.delete(slot);
  }

  readCounter(map: 'actions' | 'drop' | 'ignore', index: number): TrafficCounterValue {
    return this.counters[map].get(index) ?? { packets: 0, bytes: 0 };
  }

  memoryBytes(): number {
    const t = this.tables;
    return t.v4Top.byteLength + t.v4Blocks.byteLength + t.v6Top.byteLength + t.v6Lengths.byteLength + this.v6LongBytes;
  }

  close(): void {
    this.closed = true;
  }

  /** The v6_long probe the program makes. */
  v6Probe(length: number, address: Uint8Array): number | undefined {
    return this.v6Long.probe(length, address);
  }
}
