// The seam between the XDP data plane and the kernel: the program's maps as a
// small interface. `libbpf-kernel-maps.ts` implements it on the real (pinned,
// mmapped) maps; `fake-kernel-maps.ts` in memory, for unit tests without root,
// with writes it can be told to refuse with a chosen errno.
import type { BpfError } from './bpf-error.js';

/** The compiled tables the program reads with inlined array loads (bpf/couic.h). */
export interface TableViews {
  /** 2^24 slots, indexed by the top 24 bits of an IPv4 source. */
  readonly v4Top: Uint32Array;
  /** 256-entry blocks (IPv4 /25-/32), back to back. */
  readonly v4Blocks: Uint16Array;
  /** 2^24 slots, indexed by the top 24 bits of an IPv6 source. */
  readonly v6Top: Uint32Array;
  /** Lists of prefix lengths held in v6_long (104 bytes each, longest first, 0-terminated): 0 = all, others per /24 slot. */
  readonly v6Lengths: Uint8Array;
}

/** Decides whether one write is refused (fakes, tests): an errno, or undefined to let it through. */
export type RefusalRule = (operation: 'upsert' | 'delete', key: Buffer) => number | undefined;

export interface KeyedEntry {
  readonly key: Buffer;
  readonly value: number;
}

export interface KeyedWriteFailure {
  readonly key: Buffer;
  readonly error: BpfError;
}

/** A hash map with u32 values: v6_long, rule_record. */
export interface KeyedMap {
  readonly keySize: number;
  /** Writes in batches; returns the entries the kernel refused. */
  upsert(entries: readonly KeyedEntry[]): Promise<KeyedWriteFailure[]>;
  /** Deletes; an absent key counts as deleted. Returns the keys the kernel refused to delete. */
  delete(keys: readonly Buffer[]): Promise<KeyedWriteFailure[]>;
  /** Everything the map holds now. */
  entries(): KeyedEntry[];
}

export interface TrafficCounterValue {
  readonly packets: number;
  readonly bytes: number;
}

export interface KernelMaps {
  readonly tables: TableViews;
  readonly v6Long: KeyedMap;
  /** Which rules the tables hold, with their tag slot: read back at restart. */
  readonly ruleRecord: KeyedMap;
  readTagNames(): Map<number, string>;
  /** Records `name` for `slot` and zeroes the slot's tag counters. */
  assignTagSlot(slot: number, name: string): void;
  /** Summed over CPUs; `map` is 'actions', 'drop' or 'ignore'. */
  readCounter(map: 'actions' | 'drop' | 'ignore', index: number): TrafficCounterValue;
  /** Kernel memory the maps charge, in bytes. */
  memoryBytes(): number;
  close(): void;
}
