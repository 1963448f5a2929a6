// The node's side of the peer mesh: one dialer per configured peer, the inbound
// links of peers that dial us, and the one-exchange-per-pair rule between them.
// When two links serve the same pair of nodes, both nodes keep the same one: the
// stream dialled by the node with the lower node id (or, both from one dialer, the
// newer). The other is closed with ALREADY_EXISTS and its dialer waits in standby.
// Also the LinkStatusSource behind `couicctl peers list` and the metrics.
import type { Logger } from 'pino';
import type { PeerOptions } from './peer-options.js';
import type { Clock } from '../../domain/clock.js';
import { FailedPreconditionError, PermissionDeniedError } from '../../domain/errors.js';
import type { LinkStatus, LinkStatusSource, ReconciliationSummary } from '../link-status.js';
import type { ReplicationHub } from '../core/replication-hub.js';
import type { Scheduler } from '../../domain/scheduler.js';
import { DuplicateLinkError } from './errors.js';
import type { MeshSessionEvent } from '../core/mesh-session.js';
import { MeshLink, type MeshLinkOptions, type MeshLinkStatus } from './mesh-link.js';
import { nodeIdBindingProblem, type NodeIdBinding, type PeerCredentials } from './node-id-binding.js';
import { describe, PeerDialer, type DialerTimings, type NodeTls } from './peer-dialer.js';

export const DEFAULT_DIALER_TIMINGS: DialerTimings = {
  reconnectMinMs: 250,
  reconnectMaxMs: 30_000,
  helloTimeoutMs: 10_000,
  healthyAfterMs: 5_000,
  standbyCheckMs: 5_000,
  // ~2.3 s to notice a frozen peer (measured, NOTES-stack.md).
  keepaliveTimeMs: 2_000,
  keepaliveTimeoutMs: 1_000,
  maxMessageBytes: 64 * 1024 * 1024,
};

export interface MeshManagerOptions {
  readonly hub: ReplicationHub;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  readonly peers: readonly PeerOptions[];
  readonly tls: NodeTls;
  readonly timings?: Partial<DialerTimings>;
  /** `[replication] max_clock_offset_ms` (default DEFAULT_MAX_CLOCK_OFFSET_MS). */
  readonly maxClockOffsetMs?: number;
  /** `[peering] node_id_binding` (default "client"). */
  readonly nodeIdBinding?: NodeIdBinding;
}

interface PeerHistory {
  recordsSent: number;
  recordsReceived: number;
  recordsRefused: number;
  sendFailures: number;
  bytesSent: number;
  bytesReceived: number;
  lastReconciliation?: ReconciliationSummary;
  lastFlushAtMs?: number;
  lastError?: string;
  lastErrorAtMs?: number;
  /** Address of the last inbound link (for peers that only dial us). */
  inboundAddress?: string;
  endedAtMs?: number;
}

export class MeshManager implements LinkStatusSource {
  private readonly dialers: PeerDialer[];
  /** The one live link per peer node id. */
  private readonly active = new Map<string, MeshLink>();
  private readonly inbound = new Set<MeshLink>();
  private readonly history = new Map<string, PeerHistory>();
  private readonly timings: DialerTimings;
  private readonly linkOptions: Pick<MeshLinkOptions, 'maxClockOffsetMs' | 'onEvent'>;
  private stopped = false;

  constructor(private readonly options: MeshManagerOptions) {
    this.timings = { ...DEFAULT_DIALER_TIMINGS, ...options.timings };
    this.linkOptions = {
      ...(options.maxClockOffsetMs !== undefined ? { maxClockOffsetMs: options.maxClockOffsetMs } : {}),
      onEvent: (link, event) => this.logEvent(link, event),
    };
    this.dialers = options.peers.map(
      (peer) =>
        new PeerDialer({
          peer,
          hub: options.hub,
          clock: options.clock,
          scheduler: options.scheduler,
          logger: options.logger,
          tls: options.tls,
          timings: this.timings,
          hooks: {
            claim: (link, nodeId) => this.claim(link, nodeId),
            ended: (link, reason) => this.ended(link, reason),
            servedElsewhere: (nodeId, self) => this.servedElsewhere(nodeId, self),
            linkOptions: this.linkOptions,
          },
        }),
    );
  }

  start(): void {
    for (const dialer of this.dialers) dialer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const link of this.inbound) link.close(undefined);
    await Promise.all(this.dialers.map((d) => d.stop()));
  }

  /**
   * A peer dialled us (its certificate and token already verified): a link for its
   * stream. Its hello must announce a node id bound to those credentials.
   */
  acceptInbound(address: string, credentials: PeerCredentials): MeshLink {
    const callerName = credentials.clientName;
    const binding = this.options.nodeIdBinding ?? 'client';
    if (this.stopped) throw new FailedPreconditionError('this node is shutting down');
    const link: MeshLink = new MeshLink({
      hub: this.options.hub,
      clock: this.options.clock,
      scheduler: this.options.scheduler,
      direction: 'inbound',
      address,
      helloTimeoutMs: this.timings.helloTimeoutMs,
      ...this.linkOptions,
      claim: (l, nodeId) => {
        // Our own id is refused by claim() with its own reason, whatever the credentials.
        const problem = nodeId === this.options.hub.nodeId ? undefined : nodeIdBindingProblem(nodeId, credentials, binding);
        if (problem !== undefined) {
          this.options.logger.warn(
            { peer: address, peerNodeId: nodeId, client: callerName, certificate: credentials.certificateName, binding },
            `inbound peer refused: ${problem}`,
          );
          throw new PermissionDeniedError(problem);
        }
        this.claim(l, nodeId);
        this.historyOf(nodeId).inboundAddress = address;
        this.options.logger.info({ peer: address, peerNodeId: nodeId, client: callerName }, 'inbound peer link connected');
      },
    });
    this.inbound.add(link);
    return link;
  }

  /** The inbound link's stream is over (called by the peering service). */
  inboundEnded(link: MeshLink, reason: unknown): void {
    this.inbound.delete(link);
    this.ended(link, reason);
    if (link.peer !== undefined) {
      this.options.logger.info({ peer: link.address, peerNodeId: link.peer, reason: describe(reason) }, 'inbound peer link ended');
    }
  }

  linkStatuses(): readonly LinkStatus[] {
    const out: LinkStatus[] = [];
    const covered = new Set<string>();
    for (const dialer of this.dialers) {
      const nodeId = dialer.nodeId;
      if (nodeId !== undefined) covered.add(nodeId);
      const own = dialer.currentLink;
      const other = nodeId === undefined ? undefined : this.active.get(nodeId);
      const live = own?.connected === true ? own : other?.connected === true ? other : undefined;
      const base = dialer.snapshot();
      if (live !== undefined) {
        out.push(this.statusOf(dialer.address, nodeId, live.status(), 'connected', live.status().connectedAtMs ?? base.sinceMs, base));
      } else {
        out.push(this.statusOf(dialer.address, nodeId, own?.status(), base.state, base.sinceMs, base));
      }
    }
    for (const link of this.active.values()) {
      const nodeId = link.peer;
      if (nodeId === undefined || covered.has(nodeId) || !link.connected) continue;
      covered.add(nodeId);
      const status = link.status();
      out.push(this.statusOf(link.address, nodeId, status, 'connected', status.connectedAtMs ?? this.options.clock.nowMs(), {}));
    }
    // Peers that only dial us and are gone for now: listed until they come back.
    for (const [nodeId, h] of this.history) {
      if (covered.has(nodeId) || h.inboundAddress === undefined) continue;
      out.push(this.statusOf(h.inboundAddress, nodeId, undefined, 'connecting', h.endedAtMs ?? this.options.clock.nowMs(), {}));
    }
    return out;
  }

  private statusOf(
    address: string,
    nodeId: string | undefined,
    current: MeshLinkStatus | undefined,
    state: LinkStatus['state'],
    sinceMs: number,
    base: { lastError?: string; lastErrorAtMs?: number },
  ): LinkStatus {
    const h = nodeId === undefined ? undefined : this.history.get(nodeId);
    // The live link's own error (refused records, a failed send) is the newest news.
    const lastError = current?.lastError ?? base.lastError ?? h?.lastError;
    const lastErrorAtMs = current?.lastError !== undefined ? current.lastErrorAtMs : (base.lastErrorAtMs ?? h?.lastErrorAtMs);
    const lastReconciliation = current?.lastReconciliation ?? h?.lastReconciliation;
    const lastFlushAtMs = current?.lastFlushAtMs ?? h?.lastFlushAtMs;
    return {
      kind: 'peer',
      address,
      ...(nodeId !== undefined ? { nodeId } : {}),
      state,
      sinceMs,
      ...(lastError !== undefined ? { lastError } : {}),
      ...(lastErrorAtMs !== undefined ? { lastErrorAtMs } : {}),
      pendingDeltas: current?.pendingDeltas ?? 0,
      ...(lastFlushAtMs !== undefined ? { lastFlushAtMs } : {}),
      ...(lastReconciliation !== undefined ? { lastReconciliation } : {}),
      recordsSent: (h?.recordsSent ?? 0) + (current?.recordsSent ?? 0),
      recordsReceived: (h?.recordsReceived ?? 0) + (current?.recordsReceived ?? 0),
      recordsRefused: (h?.recordsRefused ?? 0) + (current?.recordsRefused ?? 0),
      sendFailures: (h?.sendFailures ?? 0) + (current?.sendFailures ?? 0),
      bytesSent: (h?.bytesSent ?? 0) + (current?.bytesSent ?? 0),
      bytesReceived: (h?.bytesReceived ?? 0) + (current?.bytesReceived ?? 0),
    };
  }

  /** The one-exchange-per-pair rule; throws DuplicateLinkError to refuse `link`. */
  private claim(link: MeshLink, nodeId: string): void {
    const own = this.options.hub.nodeId;
    if (nodeId === own) {
      throw new FailedPreconditionError(`peer ${link.address} announced node id "${nodeId}", which is this node's own id: a node cannot peer with itself`);
    }
    const current = this.active.get(nodeId);
    if (current !== undefined && current !== link && current.connected) {
      const dialerOf = (l: MeshLink): string => (l.direction === 'outbound' ? own : nodeId);
      const preferred = own < nodeId ? own : nodeId;
      const keepNew = current.direction === link.direction || dialerOf(link) === preferred;
      if (!keepNew) {
        throw new DuplicateLinkError(
          `nodes "${own}" and "${nodeId}" already exchange over the stream dialled by "${dialerOf(current)}" ` +
            '(one exchange per pair: the stream dialled by the lower node id is kept)',
        );
      }
      current.close(
        new DuplicateLinkError(`superseded by the stream dialled by "${dialerOf(link)}" (one exchange per pair: the stream dialled by the lower node id is kept)`),
      );
    }
    this.active.set(nodeId, link);
  }

  private ended(link: MeshLink, reason: unknown): void {
    const nodeId = link.peer;
    if (nodeId === undefined) return;
    const h = this.historyOf(nodeId);
    const s = link.status();
    h.recordsSent += s.recordsSent;
    h.recordsReceived += s.recordsReceived;
    h.recordsRefused += s.recordsRefused;
    h.sendFailures += s.sendFailures;
    h.bytesSent += s.bytesSent;
    h.bytesReceived += s.bytesReceived;
    if (s.lastReconciliation !== undefined) h.lastReconciliation = s.lastReconciliation;
    if (s.lastFlushAtMs !== undefined) h.lastFlushAtMs = s.lastFlushAtMs;
    if (!(reason instanceof DuplicateLinkError)) {
      h.lastError = describe(reason);
      h.lastErrorAtMs = this.options.clock.nowMs();
    }
    h.endedAtMs = this.options.clock.nowMs();
    if (this.active.get(nodeId) === link) {
      this.active.delete(nodeId);
      for (const dialer of this.dialers) dialer.poke(nodeId);
    }
  }

  /** Refused records and failed sends are logged here, once per occurrence, with the peer. */
  private logEvent(link: MeshLink, event: MeshSessionEvent): void {
    const fields = { peer: link.address, peerNodeId: link.peer, direction: link.direction };
    if (event.type === 'clock-offset-refused') {
      this.options.logger.warn(
        { ...fields, refused: event.count, aheadMs: event.aheadMs, example: event.example, maxClockOffsetMs: event.maxClockOffsetMs },
        `refused ${event.count} record(s) from this peer: version up to ${event.aheadMs} ms ahead of this node's clock ` +
          '(beyond [replication] max_clock_offset_ms); check the clocks (NTP) of the nodes in the mesh',
      );
    } else {
      this.options.logger.error(
        { ...fields, message: event.messageType, err: event.error },
        `could not send a ${event.messageType} message to this peer: the link is closed and reconnects (the records stay pending)`,
      );
    }
  }

  private servedElsewhere(nodeId: string, self: MeshLink | undefined): boolean {
    const link = this.active.get(nodeId);
    return link !== undefined && link !== self && link.connected;
  }

  private historyOf(nodeId: string): PeerHistory {
    let h = this.history.get(nodeId);
    if (h === undefined) {
      h = { recordsSent: 0, recordsReceived: 0, recordsRefused: 0, sendFailures: 0, bytesSent: 0, bytesReceived: 0 };
      this.history.set(nodeId, h);
    }
    return h;
  }
}
