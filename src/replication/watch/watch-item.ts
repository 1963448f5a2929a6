// What a watcher receives, in domain terms (the API layer turns these into wire events).
import type { Cidr } from '../../domain/cidr.js';
import type { Policy } from '../../domain/policy.js';
import type { VersionedEntry } from '../../domain/replicated-record.js';
import type { Version } from '../../domain/version.js';

export type SnapshotReason = 'no-cursor' | 'cursor-reset';

/** deleted: tombstone; expired: expiration passed; collected: record GC'd; filtered: tag no longer matches. */
export type RemovalReason = 'deleted' | 'expired' | 'collected' | 'filtered';

export type WatchItem =
  | { readonly type: 'snapshot-begin'; readonly reason: SnapshotReason; readonly entries: number }
  | { readonly type: 'upsert'; readonly entry: VersionedEntry }
  | {
      readonly type: 'removal';
      readonly policy: Policy;
      readonly cidr: Cidr;
      readonly reason: RemovalReason;
      /** Version of the delete (tombstones only). */
      readonly version?: Version;
    }
  | { readonly type: 'snapshot-end'; readonly cursor: string }
  | { readonly type: 'checkpoint'; readonly cursor: string }
  | { readonly type: 'resumed'; readonly cursor: string };
