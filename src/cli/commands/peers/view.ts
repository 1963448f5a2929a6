// How `couicctl peers list` shows replication links: a reference-style table with
// times relative to now, or the JSON shape documented in docs/cli.md.
import { LinkKind, LinkState, type LinkReconciliation, type LinkStatus } from '../../../generated/couic/v1/replication.js';
import { formatDuration } from '../../output/duration.js';
import { renderTable } from '../../output/table.js';

const STATES: Readonly<Record<number, string>> = {
  [LinkState.LINK_STATE_CONNECTED]: 'connected',
  [LinkState.LINK_STATE_CONNECTING]: 'connecting',
  [LinkState.LINK_STATE_BACKOFF]: 'backoff',
  [LinkState.LINK_STATE_STANDBY]: 'standby',
  [LinkState.LINK_STATE_DISABLED]: 'disabled',
};

export function stateName(state: LinkState): string {
  return STATES[state] ?? 'unspecified';
}

export function kindName(kind: LinkKind): string {
  return kind === LinkKind.LINK_KIND_BUS ? 'bus' : kind === LinkKind.LINK_KIND_PEER ? 'peer' : 'unspecified';
}

export const PEER_HEADERS = ['Peer', 'Node', 'State', 'Since', 'Pending', 'Last flush', 'Last reconciliation (records/bytes)', 'Last error'] as const;

/** "4m 12s ago"; "never" for 0. */
export function ago(atMs: number, nowMs: number): string {
  if (atMs === 0) return 'never';
  const seconds = Math.max(0, nowMs - atMs) / 1000;
  return seconds < 1 ? 'just now' : `${formatDuration(seconds)} ago`;
}

/** 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function reconciliationCell(r: LinkReconciliation | undefined, nowMs: number): string {
  if (r === undefined) return 'never';
  const records = `${r.recordsSent} sent/${r.recordsReceived} received`;
  const bytes = `${formatBytes(r.bytesSent)}/${formatBytes(r.bytesReceived)}`;
  return `${ago(r.atMs, nowMs)} in ${r.durationMs} ms: ${records}, ${bytes}`;
}

function errorCell(link: LinkStatus, nowMs: number): string {
  if (link.lastError === '') return '';
  return link.lastErrorAtMs === 0 ? link.lastError : `${link.lastError} (${ago(link.lastErrorAtMs, nowMs)})`;
}

export function peerRow(link: LinkStatus, nowMs: number): string[] {
  return [
    link.kind === LinkKind.LINK_KIND_BUS ? `bus ${link.address}` : link.address,
    link.nodeId === '' ? '-' : link.nodeId,
    stateName(link.state),
    ago(link.sinceMs, nowMs),
    String(link.pendingDeltas),
    ago(link.lastFlushAtMs, nowMs),
    reconciliationCell(link.lastReconciliation, nowMs),
    errorCell(link, nowMs),
  ];
}

export function renderPeers(links: readonly LinkStatus[], nowMs: number): string {
  return renderTable(PEER_HEADERS, links.map((link) => peerRow(link, nowMs)));
}

export interface ReconciliationJson {
  at_ms: number;
  duration_ms: number;
  buckets_differing: number;
  records_sent: number;
  records_received: number;
  bytes_sent: number;
  bytes_received: number;
}

export interface PeerJson {
  kind: string;
  address: string;
  node_id: string | null;
  state: string;
  since_ms: number;
  pending_deltas: number;
  last_flush_at_ms: number | null;
  last_reconciliation: ReconciliationJson | null;
  last_error: string | null;
  last_error_at_ms: number | null;
  records_sent: number;
  records_received: number;
  bytes_sent: number;
  bytes_received: number;
}

export function peerJson(link: LinkStatus): PeerJson {
  const r = link.lastReconciliation;
  return {
    kind: kindName(link.kind),
    address: link.address,
    node_id: link.nodeId === '' ? null : link.nodeId,
    state: stateName(link.state),
    since_ms: link.sinceMs,
    pending_deltas: link.pendingDeltas,
    last_flush_at_ms: link.lastFlushAtMs === 0 ? null : link.lastFlushAtMs,
    last_reconciliation:
      r === undefined
        ? null
        : {
            at_ms: r.atMs,
            duration_ms: r.durationMs,
            buckets_differing: r.bucketsDiffering,
            records_sent: r.recordsSent,
            records_received: r.recordsReceived,
            bytes_sent: r.bytesSent,
            bytes_received: r.bytesReceived,
          },
    last_error: link.lastError === '' ? null : link.lastError,
    last_error_at_ms: link.lastErrorAtMs === 0 ? null : link.lastErrorAtMs,
    records_sent: link.recordsSent,
    records_received: link.recordsReceived,
    bytes_sent: link.bytesSent,
    bytes_received: link.bytesReceived,
  };
}
