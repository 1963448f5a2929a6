// What the rule store needs from durable storage. The journal+snapshot
// implementation lives in journal-persistence.ts.
import type { ReplicatedRecord } from '../domain/replicated-record.js';
import type { RawRecordTarget } from './binary-journal.js';

/** A change to persist: the key's new record (a live entry or a tombstone). */
export type PersistedChange = ReplicatedRecord;

export interface RulePersistence {
  /**
   * Replays snapshot + journal: the latest record of every key, expired entries and
   * tombstones included (the store decides what is still worth keeping). With `sink`,
   * implementations may instead hand every record over in file order, in chunks, and
   * resolve with []: later records supersede earlier ones of the same key.
   */
  load(sink?: (records: ReplicatedRecord[]) => void, raw?: RawRecordTarget): Promise<ReplicatedRecord[]>;
  /**
   * Queues changes; resolves once they are durable (fsync'd). Calls made close together
   * share one write and one fsync (group commit). The caller may empty `changes` once
   * this returns (the store does, so a batch's objects are not kept across the fsync):
   * an implementation encodes or copies what it needs before returning.
   */
  record(changes: readonly PersistedChange[]): Promise<void>;
  close(): Promise<void>;
}
