// What the rule store needs from durable storage. The journal+snapshot
// implementation lives in journal-persistence.ts.
import type { RuleEntry } from '../domain/entry.js';
import type { Cidr } from '../domain/cidr.js';
import type { Policy } from '../domain/policy.js';

export type PersistedChange =
  | { readonly op: 'put'; readonly entry: RuleEntry }
  | { readonly op: 'delete'; readonly policy: Policy; readonly cidr: Cidr };

export interface RulePersistence {
  /** Replays snapshot + journal; entries already expired at `nowSeconds` are left out. */
  load(nowSeconds: number): Promise<RuleEntry[]>;
  /**
   * Queues changes; resolves once they are durable (fsync'd). Calls made close together
   * share one write and one fsync (group commit).
   */
  record(changes: readonly PersistedChange[]): Promise<void>;
  close(): Promise<void>;
}
