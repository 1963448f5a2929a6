// Keeps one outbound Sync stream to one configured peer alive: dial over mTLS with
// the peer's bearer token, run a MeshLink until it ends, then retry after a jittered,
// capped exponential backoff (reset after a healthy session). A dialer whose stream
// lost the one-exchange-per-pair rule waits in standby while the other stream lives.
// Every state change is logged once, with the reason; repeated identical failures
// are not logged again (no log storms while a peer is down).
import { ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { ClientError, createChannel, createClient, Metadata, Status, type Channel } from 'nice-grpc';
import type { Logger } from 'pino';
import type { PeerOptions } from './peer-options.js';
import { formatHostPort } from '../../domain/host-port.js';
import type { Clock } from '../../domain/clock.js';
import { CouicError } from '../../domain/errors.js';
import type { LinkState } from '../link-status.js';
import type { ReplicationHub } from '../core/replication-hub.js';
import type { Scheduler } from '../../domain/scheduler.js';
import { Backoff } from '../../domain/backoff.js';
import { DuplicateLinkError } from './errors.js';
import { MeshLink, type MeshLinkOptions } from './mesh-link.js';
import { RawPeeringServiceDefinition } from './raw-peering-definition.js';

/** PEM material of this node: its certificate is also its client certificate. */
export interface NodeTls {
  readonly caPem: Buffer;
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
}

export interface DialerTimings {
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly helloTimeoutMs: number;
  /** A session that lasted this long resets the backoff. */
  readonly healthyAfterMs: number;
  /** How often a standby dialer checks that the stream it yielded to still lives. */
  readonly standbyCheckMs: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly maxMessageBytes: number;
}

export interface DialerHooks {
  readonly claim: (link: MeshLink, peerNodeId: string) => void;
  readonly ended: (link: MeshLink, reason: unknown) => void;
  /** True while another live link serves that node (this dialer then stays in standby). */
  readonly servedElsewhere: (peerNodeId: string, self: MeshLink | undefined) => boolean;
  /** Options every link of this node shares (clock offset bound, event reporting). */
  readonly linkOptions?: Pick<MeshLinkOptions, 'maxClockOffsetMs' | 'onEvent'>;
}

export interface PeerDialerOptions {
  readonly peer: PeerOptions;
  readonly hub: ReplicationHub;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  readonly tls: NodeTls;
  readonly timings: DialerTimings;
  readonly hooks: DialerHooks;
}

export class PeerDialer {
  readonly address: string;
  private state: LinkState = 'connecting';
  private sinceMs: number;
  private lastError: string | undefined;
  private lastErrorAtMs: number | undefined;
  private peerNodeId: string | undefined;
  private link: MeshLink | undefined;
  private abort: AbortController | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private lastLogged = '';
  private readonly backoff: Backoff;
  private readonly credentials: ChannelCredentials;
  private readonly channelOptions: ChannelOptions;

  constructor(private readonly options: PeerDialerOptions) {
    this.address = formatHostPort(options.peer);
    this.sinceMs = options.clock.nowMs();
    const { timings, tls } = options;
    this.backoff = new Backoff({ minMs: timings.reconnectMinMs, maxMs: timings.reconnectMaxMs });
    this.credentials = ChannelCredentials.createSsl(tls.caPem, tls.keyPem, tls.certPem);
    this.channelOptions = {
      'grpc.keepalive_time_ms': timings.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': timings.keepaliveTimeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_receive_message_length': timings.maxMessageBytes,
      'grpc.max_send_message_length': timings.maxMessageBytes,
      // Each attempt gets a fresh channel: our backoff decides when to retry, not grpc-js's.
      'grpc.use_local_subchannel_pool': 1,
    };
  }

  get nodeId(): string | undefined {
    return this.peerNodeId;
  }

  get currentLink(): MeshLink | undefined {
    return this.link;
  }

  snapshot(): { state: LinkState; sinceMs: number; lastError?: string; lastErrorAtMs?: number } {
    return {
      state: this.state,
      sinceMs: this.sinceMs,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(this.lastErrorAtMs !== undefined ? { lastErrorAtMs: this.lastErrorAtMs } : {}),
    };
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Called by the manager when a link to `nodeId` ended: a standby dialer may take over. */
  poke(nodeId: string): void {
    if (this.state === 'standby' && nodeId === this.peerNodeId) this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.link?.close(undefined);
    this.abort?.abort();
    this.wake?.();
    await this.loop;
    this.setState('disabled', undefined);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.state === 'standby') {
        await this.sleep(this.options.timings.standbyCheckMs);
        if (this.stopped) break;
        if (this.peerNodeId !== undefined && this.options.hooks.servedElsewhere(this.peerNodeId, undefined)) continue;
      }
      const reason = await this.attempt();
      if (this.stopped) break;
      if (isDuplicate(reason)) {
        this.setState('standby', describe(reason));
        continue;
      }
      const delay = this.backoff.next();
      this.setState('backoff', describe(reason), delay);
      await this.sleep(delay);
    }
  }

  /** One dial: resolves with the reason the stream ended. */
  private async attempt(): Promise<unknown> {
    const { hooks, timings } = this.options;
    this.setState('connecting', undefined);
    const link = new MeshLink({
      hub: this.options.hub,
      clock: this.options.clock,
      scheduler: this.options.scheduler,
      direction: 'outbound',
      address: this.address,
      helloTimeoutMs: timings.helloTimeoutMs,
      ...(hooks.linkOptions ?? {}),
      claim: (l, nodeId) => {
        this.peerNodeId = nodeId;
        hooks.claim(l, nodeId);
        this.setState('connected', undefined);
      },
    });
    this.link = link;
    const abort = new AbortController();
    this.abort = abort;
    const channel: Channel = createChannel(this.address, this.credentials, this.channelOptions);
    let reason: unknown;
    try {
      const client = createClient(RawPeeringServiceDefinition, channel);
      const responses = client.sync(link.outgoing, {
        metadata: Metadata({ authorization: `Bearer ${this.options.peer.token}` }),
        signal: abort.signal,
      });
      await link.run(responses);
      reason = new ClientError('/couic.v1.PeeringService/Sync', Status.UNAVAILABLE, 'the peer ended the stream');
    } catch (error) {
      reason = error;
    } finally {
      abort.abort();
      channel.close();
      this.abort = undefined;
      this.link = undefined;
    }
    const status = link.status();
    if (status.connectedAtMs !== undefined && this.options.clock.nowMs() - status.connectedAtMs >= timings.healthyAfterMs) {
      this.backoff.reset();
    }
    hooks.ended(link, reason);
    return reason;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.options.scheduler.after(ms, () => {
        this.wake = undefined;
        resolve();
      });
      this.wake = () => {
        cancel();
        this.wake = undefined;
        resolve();
      };
    });
  }

  private setState(state: LinkState, error: string | undefined, retryInMs?: number): void {
    const now = this.options.clock.nowMs();
    if (state !== this.state) {
      this.state = state;
      this.sinceMs = now;
    }
    if (error !== undefined) {
      this.lastError = error;
      this.lastErrorAtMs = now;
    }
    this.log(state, error, retryInMs);
  }

  /** One line per change of (state, reason): retries of the same failure stay quiet. */
  private log(state: LinkState, error: string | undefined, retryInMs: number | undefined): void {
    const key = `${state}|${error ?? ''}`;
    // 'connecting' between two identical failures is not a change worth a line.
    if (state === 'connecting') return;
    if (key === this.lastLogged) {
      this.options.logger.debug({ peer: this.address, state, retryInMs }, 'peer link: unchanged');
      return;
    }
    this.lastLogged = key;
    const fields = { peer: this.address, peerNodeId: this.peerNodeId, state, ...(error !== undefined ? { reason: error } : {}) };
    if (state === 'connected') this.options.logger.info(fields, 'peer link connected');
    else if (state === 'standby') this.options.logger.info(fields, 'peer link standby: the exchange with this node runs on the stream it dialled');
    else if (state === 'backoff') this.options.logger.warn({ ...fields, retryInMs }, refusalMessage(error));
    else this.options.logger.info(fields, `peer link ${state}`);
  }
}

function isDuplicate(reason: unknown): boolean {
  return reason instanceof DuplicateLinkError || (reason instanceof ClientError && reason.code === Status.ALREADY_EXISTS);
}

function refusalMessage(error: string | undefined): string {
  if (error === undefined) return 'peer link down';
  if (/^(UNAUTHENTICATED|PERMISSION_DENIED)/.test(error)) return 'peer link refused by the peer';
  if (/certificate|handshake|SSL|TLS/i.test(error)) return 'peer link refused: TLS handshake failed';
  return 'peer link down';
}

/** "CODE: details" for gRPC errors, the message for ours. */
export function describe(reason: unknown): string {
  if (reason instanceof ClientError) return `${Status[reason.code]}: ${reason.details}`;
  if (reason instanceof CouicError) return reason.message;
  if (reason instanceof Error) return reason.name === 'AbortError' ? 'stopped' : reason.message;
  return String(reason);
}
