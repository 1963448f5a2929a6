// One mesh connection, whichever side dialled: runs the core's MeshSession over a
// stream of wire messages. The peer's hello is shown to `claim` before the session
// sees it, so the mesh manager can keep exactly one exchange per pair of nodes; a
// peer that says nothing within the hello timeout is dropped (a frozen peer can hold
// a TCP connection open forever). Messages travel as bytes (raw-peering-definition.ts):
// each is encoded or decoded here exactly once, and its real size is what the session
// counts.
import type { Clock } from '../../domain/clock.js';
import { InvalidArgumentError } from '../../domain/errors.js';
import { SyncMessage } from '../../generated/couic/v1/peering.js';
import { MeshSession, type MeshSessionEvent, type MeshSessionStatus } from '../core/mesh-session.js';
import type { ReplicationHub } from '../core/replication-hub.js';
import type { Scheduler } from '../../domain/scheduler.js';
import { LinkUnavailableError } from './errors.js';
import { encodeMeshMessage, meshFromWire } from './mesh-message-codec.js';
import { MessageQueue } from './message-queue.js';

export type LinkDirection = 'outbound' | 'inbound';

export interface MeshLinkOptions {
  readonly hub: ReplicationHub;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly direction: LinkDirection;
  /** Remote address: the configured "host:port" (outbound) or the caller's address (inbound). */
  readonly address: string;
  readonly helloTimeoutMs: number;
  /** Sees the peer's node id before the session does; throws to refuse the link. */
  readonly claim: (link: MeshLink, peerNodeId: string) => void;
  /** `[replication] max_clock_offset_ms` (default: the session's). */
  readonly maxClockOffsetMs?: number;
  /** Refused records and failed sends, to be logged. */
  readonly onEvent?: (link: MeshLink, event: MeshSessionEvent) => void;
}

export interface MeshLinkStatus extends MeshSessionStatus {
  readonly direction: LinkDirection;
  readonly address: string;
  /** When the peer's hello was accepted. */
  readonly connectedAtMs?: number;
}

const CLOSED = Symbol('closed');

export class MeshLink {
  readonly outgoing = new MessageQueue<Uint8Array>();
  readonly direction: LinkDirection;
  readonly address: string;
  private readonly session: MeshSession;
  private peerNodeId: string | undefined;
  private connectedAtMs: number | undefined;
  private closeError: unknown;
  private closedSignal: () => void = () => undefined;
  private readonly closed: Promise<typeof CLOSED>;
  private isClosed = false;

  constructor(private readonly options: MeshLinkOptions) {
    this.direction = options.direction;
    this.address = options.address;
    this.closed = new Promise((resolve) => {
      this.closedSignal = () => resolve(CLOSED);
    });
    this.session = new MeshSession(
      options.hub,
      (message) => {
        if (this.outgoing.closed) return 0;
        const bytes = encodeMeshMessage(message);
        this.outgoing.push(bytes);
        return bytes.length;
      },
      {
        pipelineMerges: true,
        onError: (error) => this.close(error),
        ...(options.maxClockOffsetMs !== undefined ? { maxClockOffsetMs: options.maxClockOffsetMs } : {}),
        onEvent: (event) => options.onEvent?.(this, event),
      },
    );
  }

  get peer(): string | undefined {
    return this.peerNodeId;
  }

  get connected(): boolean {
    return this.connectedAtMs !== undefined && !this.isClosed;
  }

  /**
   * Runs the exchange until the peer ends its stream (resolves) or the link fails or
   * is closed (rejects with the reason). The session is closed either way: un-acked
   * deltas go back to pending and reconciliation covers them on the next connection.
   */
  async run(incoming: AsyncIterable<Uint8Array>): Promise<void> {
    const iterator = incoming[Symbol.asyncIterator]();
    const cancelHelloTimer = this.options.scheduler.after(this.options.helloTimeoutMs, () => {
      if (this.peerNodeId === undefined) {
        this.close(new LinkUnavailableError(`no hello from ${this.address} within ${this.options.helloTimeoutMs} ms`));
      }
    });
    try {
      this.session.start();
      for (;;) {
        const next = await Promise.race([iterator.next(), this.closed]);
        if (next === CLOSED) throw this.closeError;
        if (next.done === true) return;
        const bytes = next.value;
        const message = meshFromWire(decode(bytes));
        if (message.type === 'hello' && this.peerNodeId === undefined) {
          this.options.claim(this, message.nodeId);
          this.peerNodeId = message.nodeId;
          this.connectedAtMs = this.options.clock.nowMs();
          cancelHelloTimer();
        }
        await this.session.onMessage(message, bytes.length);
        if (this.isClosed) throw this.closeError;
      }
    } catch (error) {
      this.close(error);
      throw error;
    } finally {
      cancelHelloTimer();
      this.close(undefined);
      // Do not wait: a stream whose peer is frozen may never answer the return.
      iterator.return?.().catch(() => undefined);
    }
  }

  /** Ends the link: `error` becomes the stream's status (undefined = normal end). */
  close(error: unknown): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeError = error ?? new LinkUnavailableError('link closed');
    this.session.close();
    if (error === undefined) this.outgoing.end();
    else this.outgoing.fail(error);
    this.closedSignal();
  }

  status(): MeshLinkStatus {
    return {
      ...this.session.status(),
      direction: this.direction,
      address: this.address,
      ...(this.connectedAtMs !== undefined ? { connectedAtMs: this.connectedAtMs } : {}),
    };
  }
}

/** A message that does not decode is the peer's fault: INVALID_ARGUMENT ends the stream. */
function decode(bytes: Uint8Array): SyncMessage {
  try {
    return SyncMessage.decode(bytes);
  } catch (error) {
    throw InvalidArgumentError.single('message', `cannot be decoded: ${error instanceof Error ? error.message : String(error)}`);
  }
}
