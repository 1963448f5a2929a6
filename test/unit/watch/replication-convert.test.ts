// Wire forms of watch items and link statuses: every item kind, reasons, versions,
// and optional link fields mapped to their proto defaults.
import test from 'ava';
import { parseCidr } from '../../../src/domain/cidr.js';
import { linkStatusToWire, watchItemToWire } from '../../../src/api/replication-convert.js';
import { Policy } from '../../../src/generated/couic/v1/entry.js';
import { LinkKind, LinkState, RemovalReason, SnapshotReason, WatchResponse } from '../../../src/generated/couic/v1/replication.js';

const version = { wallMs: 1_700_000_000_123, counter: 2, origin: 'node-a' };

test('watch items become wire events that survive encoding', (t) => {
  const events = [
    watchItemToWire({ type: 'snapshot-begin', reason: 'cursor-reset', entries: 3 }),
    watchItemToWire({
      type: 'upsert',
      entry: { policy: 'ignore', cidr: parseCidr('192.0.2.0/24'), tag: 'x', expiration: 5, createdAt: 1, originNode: 'node-a', source: 'peer', version },
    }),
    watchItemToWire({ type: 'removal', policy: 'drop', cidr: parseCidr('10.0.0.0/8'), reason: 'deleted', version }),
    watchItemToWire({ type: 'removal', policy: 'drop', cidr: parseCidr('10.0.0.0/8'), reason: 'filtered' }),
    watchItemToWire({ type: 'snapshot-end', cursor: 'f:1@2' }),
    watchItemToWire({ type: 'checkpoint', cursor: 'f:2@2' }),
    watchItemToWire({ type: 'resumed', cursor: 'f:1@2' }),
  ];
  const decoded = WatchResponse.decode(WatchResponse.encode({ events }).finish()).events;
  t.deepEqual(decoded.map((e) => e.event?.$case), ['snapshotBegin', 'upsert', 'removal', 'removal', 'snapshotEnd', 'checkpoint', 'resumed']);
  t.deepEqual(decoded[0]?.event?.value, { reason: SnapshotReason.SNAPSHOT_REASON_CURSOR_RESET, entries: 3 });
  const upsert = decoded[1]?.event;
  if (upsert?.$case !== 'upsert') return t.fail();
  t.like(upsert.value.entry, { policy: Policy.POLICY_IGNORE, cidr: '192.0.2.0/24', tag: 'x', expiration: 5 });
  t.deepEqual(upsert.value.version, version);
  t.deepEqual(decoded[2]?.event?.value, { policy: Policy.POLICY_DROP, cidr: '10.0.0.0/8', reason: RemovalReason.REMOVAL_REASON_DELETED, version });
  t.deepEqual(decoded[3]?.event?.value, { policy: Policy.POLICY_DROP, cidr: '10.0.0.0/8', reason: RemovalReason.REMOVAL_REASON_FILTERED, version: undefined });
  return undefined;
});

test('link statuses: optional fields become proto defaults', (t) => {
  const wire = linkStatusToWire({
    kind: 'bus',
    address: 'nats://a:4222,nats://b:4222',
    state: 'backoff',
    sinceMs: 10,
    pendingDeltas: 7,
    recordsSent: 1,
    recordsReceived: 2,
    bytesSent: 3,
    bytesReceived: 4,
  });
  t.deepEqual(wire, {
    kind: LinkKind.LINK_KIND_BUS,
    address: 'nats://a:4222,nats://b:4222',
    nodeId: '',
    state: LinkState.LINK_STATE_BACKOFF,
    sinceMs: 10,
    lastError: '',
    lastErrorAtMs: 0,
    pendingDeltas: 7,
    lastFlushAtMs: 0,
    lastReconciliation: undefined,
    recordsSent: 1,
    recordsReceived: 2,
    bytesSent: 3,
    bytesReceived: 4,
  });
});
