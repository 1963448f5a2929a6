// Replication counters exported with the other statistics, read from the link status
// sources (mesh peers, bus) at scrape time. Label `peer`: the peer's node id once
// known, else its configured address.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { LinkStatus, LinkStatusSource } from '../replication/link-status.js';

export function registerReplicationMetrics(registry: Registry, sources: readonly LinkStatusSource[]): void {
  const links = (): LinkStatus[] => sources.flatMap((s) => s.linkStatuses());
  const label = (l: LinkStatus): { peer: string; kind: string } => ({ peer: l.nodeId ?? l.address, kind: l.kind });

  const counter = (name: string, help: string, field: 'recordsSent' | 'recordsReceived' | 'bytesSent' | 'bytesReceived') =>
    new Counter({
      name,
      help,
      labelNames: ['peer', 'kind'],
      registers: [registry],
      collect() {
        this.reset();
        for (const l of links()) this.inc(label(l), l[field]);
      },
    });
  counter('couic_replication_records_sent_total', 'Replicated records sent to a peer (reconciliation and deltas).', 'recordsSent');
  counter('couic_replication_records_received_total', 'Replicated records received from a peer.', 'recordsReceived');
  counter('couic_replication_bytes_sent_total', 'Estimated bytes of records sent to a peer.', 'bytesSent');
  counter('couic_replication_bytes_received_total', 'Estimated bytes of records received from a peer.', 'bytesReceived');
  const optionalCounter = (name: string, help: string, field: 'recordsRefused' | 'sendFailures') =>
    new Counter({
      name,
      help,
      labelNames: ['peer', 'kind'],
      registers: [registry],
      collect() {
        this.reset();
        for (const l of links()) if (l[field] !== undefined) this.inc(label(l), l[field]);
      },
    });
  optionalCounter(
    'couic_replication_clock_offset_refused_total',
    'Records refused from a peer: version further ahead of this node\'s clock than [replication] max_clock_offset_ms.',
    'recordsRefused',
  );
  optionalCounter('couic_replication_send_failures_total', 'Messages to a peer that could not be encoded or sent (each ends the link).', 'sendFailures');

  new Gauge({
    name: 'couic_replication_pending_deltas',
    help: 'Distinct keys waiting to be sent to a peer (coalesced deltas).',
    labelNames: ['peer', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of links()) this.set(label(l), l.pendingDeltas);
    },
  });
  new Gauge({
    name: 'couic_replication_peer_connected',
    help: '1 when the replication link to a peer is up, else 0.',
    labelNames: ['peer', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of links()) this.set(label(l), l.state === 'connected' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'couic_replication_last_reconciliation_records',
    help: 'Records exchanged (sent + received) by the last full reconciliation with a peer.',
    labelNames: ['peer', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of links()) {
        const r = l.lastReconciliation;
        if (r !== undefined) this.set(label(l), r.recordsSent + r.recordsReceived);
      }
    },
  });
}
