// KernelMaps on the real maps of a loaded couic.bpf.o: the tables mmapped into
// this process (BPF_F_MMAPABLE arrays: a slot is written with one plain store),
// the hash maps written with batch syscalls (MapWriter), counters read per CPU.
import { BpfError } from './bpf-error.js';
import type { KernelMaps, KeyedEntry, KeyedMap, KeyedWriteFailure, TableViews, TrafficCounterValue } from './kernel-maps.js';
import {
  ACTION_STATS_MAP,
  ALL_MAPS,
  arrayKey,
  BLOCK_BYTES,
  COUNTER_SIZE,
  ROW_BYTES,
  RULE_RECORD_KEY_SIZE,
  RULE_RECORD_MAP,
  TABLE_MAPS,
  TAG_NAME_LEN,
  TAG_NAMES_MAP,
  TAG_STATS_MAPS,
  TAG_UNTRACKED,
  TOP_ROWS,
  V4_BLOCKS,
  V6_LENGTH_SETS,
  V6_LENGTHS_BYTES,
} from './layout.js';
import { mapArray, mapLookup, mapLookupAll, mapMemoryBytes, mapNextKey, mapUpdate, possibleCpus, type LoadedObject, type MappedArray } from './libbpf.js';
import { MapWriter } from './map-writer.js';
import { V6_ENTRY_WORDS, V6_SLOTS, V6Table } from './v6-table.js';

const VALUE_SIZE = 4;

class LibbpfKeyedMap implements KeyedMap {
  private readonly writer: MapWriter;

  constructor(
    private readonly fd: number,
    readonly keySize: number,
  ) {
    this.writer = new MapWriter(fd, keySize, VALUE_SIZE);
  }

  async upsert(entries: readonly KeyedEntry[]): Promise<KeyedWriteFailure[]> {
    const failures = await this.writer.upsert(entries, (e) => e.key, (e) => u32(e.value));
    return failures.map((f) => ({ key: f.item.key, error: f.error }));
  }

  async delete(keys: readonly Buffer[]): Promise<KeyedWriteFailure[]> {
    const failures = await this.writer.delete(keys, (k) => k);
    return failures.map((f) => ({ key: f.item, error: f.error }));
  }

  entries(): KeyedEntry[] {
    const out: KeyedEntry[] = [];
    try {
      const { keys, values, count } = mapLookupAll(this.fd, this.keySize, VALUE_SIZE);
      for (let i = 0; i < count; i++) {
        // Views into the one batch buffer (no copy per key).
        out.push({ key: keys.subarray(i * this.keySize, (i + 1) * this.keySize), value: values.readUInt32LE(i * VALUE_SIZE) });
      }
      return out;
    } catch (error) {
      if (!(error instanceof BpfError)) throw error;
    }
    // No batch lookups here: one key at a time.
    let key: Buffer | null = null;
    const next = Buffer.alloc(this.keySize);
    const value = Buffer.alloc(VALUE_SIZE);
    while (mapNextKey(this.fd, key, next)) {
      key = Buffer.from(next);
      if (mapLookup(this.fd, key, value)) out.push({ key, value: value.readUInt32LE(0) });
    }
    return out;
  }
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0, 0);
  return b;
}

export class LibbpfKernelMaps implements KernelMaps {
  readonly tables: TableViews;
  readonly v6Long: KeyedMap;
  readonly ruleRecord: KeyedMap;
  private readonly mappings: MappedArray[] = [];
  private readonly cpus = possibleCpus();

  constructor(private readonly object: LoadedObject) {
    const map = (name: string, bytes: number): ArrayBuffer => {
      const mapped = mapArray(object.mapFd(name), bytes);
      this.mappings.push(mapped);
      return mapped.buffer;
    };
    try {
      this.tables = {
        v4Top: new Uint32Array(map(TABLE_MAPS.v4Top, TOP_ROWS * ROW_BYTES)),
        v4Blocks: new Uint16Array(map(TABLE_MAPS.v4Blocks, V4_BLOCKS * BLOCK_BYTES)),
        v6Top: new Uint32Array(map(TABLE_MAPS.v6Top, TOP_ROWS * ROW_BYTES)),
        v6Lengths: new Uint8Array(map(TABLE_MAPS.v6Lengths, V6_LENGTH_SETS * V6_LENGTHS_BYTES)),
      };
      this.v6Long = new V6Table(new Uint32Array(map(TABLE_MAPS.v6Long, V6_SLOTS * V6_ENTRY_WORDS * 4)));
    } catch (error) {
      for (const m of this.mappings) m.unmap();
      throw error;
    }
    this.ruleRecord = new LibbpfKeyedMap(object.mapFd(RULE_RECORD_MAP), RULE_RECORD_KEY_SIZE);
  }

  readTagNames(): Map<number, string> {
    const names = new Map<number, string>();
    const fd = this.object.mapFd(TAG_NAMES_MAP);
    const raw = Buffer.alloc(TAG_NAME_LEN);
    for (let slot = 1; slot < TAG_UNTRACKED; slot++) {
      if (!mapLookup(fd, arrayKey(slot), raw)) continue;
      const end = raw.indexOf(0);
      const name = raw.subarray(0, end === -1 ? raw.length : end).toString('utf8');
      if (name !== '') names.set(slot, name);
    }
    return names;
  }

  assignTagSlot(slot: number, name: string): void {
    const raw = Buffer.alloc(TAG_NAME_LEN);
    raw.write(name.slice(0, TAG_NAME_LEN - 1), 'utf8');
    mapUpdate(this.object.mapFd(TAG_NAMES_MAP), arrayKey(slot), raw);
    const zero = Buffer.alloc(COUNTER_SIZE * this.cpus);
    for (const map of Object.values(TAG_STATS_MAPS)) mapUpdate(this.object.mapFd(map), arrayKey(slot), zero);
  }

  readCounter(map: 'actions' | 'drop' | 'ignore', index: number): TrafficCounterValue {
    const fd = this.object.mapFd(map === 'actions' ? ACTION_STATS_MAP : TAG_STATS_MAPS[map]);
    const buffer = Buffer.alloc(COUNTER_SIZE * this.cpus);
    if (!mapLookup(fd, arrayKey(index), buffer)) return { packets: 0, bytes: 0 };
    let packets = 0n;
    let bytes = 0n;
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      packets += buffer.readBigUInt64LE(cpu * COUNTER_SIZE);
      bytes += buffer.readBigUInt64LE(cpu * COUNTER_SIZE + 8);
    }
    return { packets: Number(packets), bytes: Number(bytes) };
  }

  memoryBytes(): number {
    let total = 0;
    for (const name of ALL_MAPS) total += mapMemoryBytes(this.object.mapFd(name)) ?? 0;
    return total;
  }

  close(): void {
    for (const m of this.mappings) m.unmap();
    this.mappings.length = 0;
  }
}
