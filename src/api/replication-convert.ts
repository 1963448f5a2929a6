// Wire forms of watch items and link statuses (ReplicationService). Kept apart from
// proto-convert.ts, which holds the rule vocabulary these build on.
import type { Version } from '../domain/version.js';
import type { Policy } from '../generated/couic/v1/entry.js';
import type { RecordVersion } from '../generated/couic/v1/peering.js';
import {
  LinkKind,
  LinkState,
  RemovalReason,
  SnapshotReason,
  type LinkStatus as WireLinkStatus,
  type WatchEvent,
} from '../generated/couic/v1/replication.js';
import type { RemovalReason as DomainRemovalReason, SnapshotReason as DomainSnapshotReason, WatchItem } from '../replication/watch/watch-item.js';
import type { LinkKind as DomainLinkKind, LinkState as DomainLinkState, LinkStatus } from '../replication/link-status.js';
import { entryToWire, policyToWire } from './proto-convert.js';

const SNAPSHOT_REASON: Record<DomainSnapshotReason, SnapshotReason> = {
  'no-cursor': SnapshotReason.SNAPSHOT_REASON_NO_CURSOR,
  'cursor-reset': SnapshotReason.SNAPSHOT_REASON_CURSOR_RESET,
};

const REMOVAL_REASON: Record<DomainRemovalReason, RemovalReason> = {
  deleted: RemovalReason.REMOVAL_REASON_DELETED,
  expired: RemovalReason.REMOVAL_REASON_EXPIRED,
  collected: RemovalReason.REMOVAL_REASON_COLLECTED,
  filtered: RemovalReason.REMOVAL_REASON_FILTERED,
};

const LINK_KIND: Record<DomainLinkKind, LinkKind> = { peer: LinkKind.LINK_KIND_PEER, bus: LinkKind.LINK_KIND_BUS };

const LINK_STATE: Record<DomainLinkState, LinkState> = {
  connected: LinkState.LINK_STATE_CONNECTED,
  connecting: LinkState.LINK_STATE_CONNECTING,
  backoff: LinkState.LINK_STATE_BACKOFF,
  standby: LinkState.LINK_STATE_STANDBY,
  disabled: LinkState.LINK_STATE_DISABLED,
};

export function versionToWire(version: Version): RecordVersion {
  return { wallMs: version.wallMs, counter: version.counter, origin: version.origin };
}

export function watchItemToWire(item: WatchItem): WatchEvent {
  switch (item.type) {
    case 'snapshot-begin':
      return { event: { $case: 'snapshotBegin', value: { reason: SNAPSHOT_REASON[item.reason], entries: item.entries } } };
    case 'upsert':
      return { event: { $case: 'upsert', value: { entry: entryToWire(item.entry), version: versionToWire(item.entry.version) } } };
    case 'removal': {
      const policy: Policy = policyToWire(item.policy);
      const version = item.version === undefined ? undefined : versionToWire(item.version);
      return { event: { $case: 'removal', value: { policy, cidr: item.cidr.text, reason: REMOVAL_REASON[item.reason], version } } };
    }
    case 'snapshot-end':
      return { event: { $case: 'snapshotEnd', value: { cursor: item.cursor } } };
    case 'checkpoint':
      return { event: { $case: 'checkpoint', value: { cursor: item.cursor } } };
    case 'resumed':
      return { event: { $case: 'resumed', value: { cursor: item.cursor } } };
  }
}

export function linkStatusToWire(status: LinkStatus): WireLinkStatus {
  const r = status.lastReconciliation;
  return {
    kind: LINK_KIND[status.kind],
    address: status.address,
    nodeId: status.nodeId ?? '',
    state: LINK_STATE[status.state],
    sinceMs: status.sinceMs,
    lastError: status.lastError ?? '',
    lastErrorAtMs: status.lastErrorAtMs ?? 0,
    pendingDeltas: status.pendingDeltas,
    lastFlushAtMs: status.lastFlushAtMs ?? 0,
    lastReconciliation:
      r === undefined
        ? undefined
        : {
            atMs: r.atMs,
            durationMs: r.durationMs,
            bucketsDiffering: r.bucketsDiffering,
            recordsSent: r.recordsSent,
            recordsReceived: r.recordsReceived,
            bytesSent: r.bytesSent,
            bytesReceived: r.bytesReceived,
          },
    recordsSent: status.recordsSent,
    recordsReceived: status.recordsReceived,
    bytesSent: status.bytesSent,
    bytesReceived: status.bytesReceived,
  };
}
