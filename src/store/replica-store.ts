// The replication port of the rule store: what the replication core needs from it
// (implemented by store/rule-store.ts; an in-memory version serves the deterministic
// simulations). It lives with the store so that replication depends on the store, not
// the reverse; src/replication/replica-store.ts re-exports it for existing imports.
import type { ReplicatedRecord } from '../domain/replicated-record.js';

/** One key's record before and after a change; `after` undefined = garbage-collected. */
export interface RecordChange {
  readonly before?: ReplicatedRecord | undefined;
  readonly after?: ReplicatedRecord;
  /**
   * recordKey() of the record, when the store has it at hand: listeners reuse it instead
   * of rebuilding the string per change (and keep the store's copy, not one of their own).
   */
  readonly key?: string;
}

/** 'local': an API write on this node; 'remote': merged from a peer or the bus; 'gc': collected. */
export type RecordChangeOrigin = 'local' | 'remote' | 'gc';

export type RecordListener = (changes: readonly RecordChange[], origin: RecordChangeOrigin) => void;

export interface ReplicaStore {
  /**
   * Merges records received from elsewhere by last-writer-wins and resolves, once they
   * are durable and applied, with those that changed local state (the ones to relay).
   * A record older than (or equal to) what the store holds, or already collectable,
   * changes nothing. Listeners see the changes with origin 'remote'.
   */
  mergeRemote(records: readonly ReplicatedRecord[]): Promise<readonly ReplicatedRecord[]>;
  /** Every replicated record: live ones (expired but not yet collected included) and tombstones. */
  records(): Iterable<ReplicatedRecord>;
  /** The current record of one key ("drop 10.0.0.0/8"), if any. */
  recordOf(key: string): ReplicatedRecord | undefined;
  /** Called synchronously, in order, for every change of a record (before the write is durable). */
  onRecordChange(listener: RecordListener): void;
  /** Forgets records collectable at `nowMs`; listeners see them with origin 'gc'. Returns how many. */
  collectGarbage(nowMs: number): number;
}
