// The seam between the bridge and its couic daemon: the Watch stream (consume) and
// AddRules (publish). The real implementation is GrpcCouicPort (couic-grpc.ts); unit
// tests use a fake.
import type { RuleSpec } from '../generated/couic/v1/entry.js';
import type { WatchEvent } from '../generated/couic/v1/replication.js';

export interface CouicPort {
  /** Opens a Watch of every dynamic rule (both policies, all tags), from `cursor` ('' = snapshot). */
  watch(cursor: string, signal: AbortSignal): AsyncIterable<readonly WatchEvent[]>;
  /** Adds (or replaces) rules, all or nothing. */
  addRules(rules: readonly RuleSpec[]): Promise<void>;
  close(): void;
}
