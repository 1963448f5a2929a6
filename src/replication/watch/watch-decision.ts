// What to send for one queued key, from the key's record now: an upsert when the
// watcher should hold it, a removal (with why) when it may hold it but should not,
// nothing otherwise. Pure, so the event rules are unit-tested without a store.
import { isExpired } from '../../domain/entry.js';
import { recordCidr, recordPolicy, type ReplicatedRecord } from '../../domain/replicated-record.js';
import { isPolicy, type Policy } from '../../domain/policy.js';
import { parseCidr } from '../../domain/cidr.js';
import type { PendingKey } from './pending-keys.js';
import type { WatchFilter } from './watch-filter.js';
import type { WatchItem } from './watch-item.js';

export function decideItem(
  pending: PendingKey,
  record: ReplicatedRecord | undefined,
  filter: WatchFilter,
  nowSeconds: number,
): WatchItem | undefined {
  if (record !== undefined && filter.holds(record, nowSeconds) && record.kind === 'live') {
    return { type: 'upsert', entry: record.entry };
  }
  if (!pending.maybeHeld) return undefined;
  if (record === undefined) {
    const { policy, cidr } = splitKey(pending.key);
    return { type: 'removal', policy, cidr: parseCidr(cidr), reason: 'collected' };
  }
  const policy = recordPolicy(record);
  const cidr = recordCidr(record);
  if (record.kind === 'tombstone') return { type: 'removal', policy, cidr, reason: 'deleted', version: record.version };
  if (isExpired(record.entry, nowSeconds)) return { type: 'removal', policy, cidr, reason: 'expired' };
  return { type: 'removal', policy, cidr, reason: 'filtered' };
}

/** "drop 10.0.0.0/8" -> its parts (keys are built by ruleKey()). */
function splitKey(key: string): { policy: Policy; cidr: string } {
  const space = key.indexOf(' ');
  const policy = key.slice(0, space);
  if (!isPolicy(policy)) throw new RangeError(`not a record key: "${key}"`);
  return { policy, cidr: key.slice(space + 1) };
}
