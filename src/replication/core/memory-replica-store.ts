// An in-memory ReplicaStore with the same merge rules as the real rule store, for
// unit tests and the deterministic replication simulation (no persistence, no data
// plane): last-writer-wins by version, records already collectable are refused.
import type { Clock } from '../../domain/clock.js';
import { collectableAfterMs, recordKey, supersedes, type ReplicatedRecord } from '../../domain/replicated-record.js';
import type { RecordChange, RecordChangeOrigin, RecordListener, ReplicaStore } from '../replica-store.js';

export interface MemoryReplicaStoreOptions {
  readonly clock: Clock;
  /** How long tombstones (and expired entries) are kept; see collectableAfterMs. */
  readonly tombstoneLifetimeMs: number;
}

export class MemoryReplicaStore implements ReplicaStore {
  private readonly byKey = new Map<string, ReplicatedRecord>();
  private readonly listeners: RecordListener[] = [];

  constructor(private readonly options: MemoryReplicaStoreOptions) {}

  get size(): number {
    return this.byKey.size;
  }

  /**
   * A write made on this node (API add or delete), already stamped by the caller's
   * HybridClock. Applied only if it supersedes the current record; listeners see
   * it with origin 'local'. Returns whether it was applied.
   */
  applyLocal(record: ReplicatedRecord): boolean {
    return this.apply([record], 'local').length === 1;
  }

  mergeRemote(records: readonly ReplicatedRecord[]): Promise<readonly ReplicatedRecord[]> {
    return Promise.resolve(this.apply(records, 'remote'));
  }

  records(): Iterable<ReplicatedRecord> {
    return this.byKey.values();
  }

  recordOf(key: string): ReplicatedRecord | undefined {
    return this.byKey.get(key);
  }

  onRecordChange(listener: RecordListener): void {
    this.listeners.push(listener);
  }

  collectGarbage(nowMs: number): number {
    const changes: RecordChange[] = [];
    for (const [key, record] of this.byKey) {
      if (collectableAfterMs(record, this.options.tombstoneLifetimeMs) <= nowMs) {
        this.byKey.delete(key);
        changes.push({ before: record });
      }
    }
    this.emit(changes, 'gc');
    return changes.length;
  }

  private apply(records: readonly ReplicatedRecord[], origin: RecordChangeOrigin): ReplicatedRecord[] {
    const nowMs = this.options.clock.nowMs();
    const applied: ReplicatedRecord[] = [];
    const changes: RecordChange[] = [];
    for (const record of records) {
      // A record that could already have been collected must not come back to life.
      if (collectableAfterMs(record, this.options.tombstoneLifetimeMs) <= nowMs) continue;
      const key = recordKey(record);
      const before = this.byKey.get(key);
      if (!supersedes(record, before)) continue;
      this.byKey.set(key, record);
      applied.push(record);
      changes.push(before === undefined ? { after: record } : { before, after: record });
    }
    this.emit(changes, origin);
    return applied;
  }

  private emit(changes: readonly RecordChange[], origin: RecordChangeOrigin): void {
    if (changes.length === 0) return;
    for (const listener of this.listeners) listener(changes, origin);
  }
}
