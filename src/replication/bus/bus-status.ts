// The bus link's state and counters, as `couicctl peers list` and the metrics show
// them, plus the one place its errors are described and logged (a repeated error
// is logged at debug only: every failed reconnect would repeat the same line).
import type { Logger } from 'pino';
import type { Clock } from '../../domain/clock.js';
import type { LinkState, LinkStatus } from '../link-status.js';
import { describeBusError } from './bus-errors.js';

export class BusStatus {
  state: LinkState;
  private sinceMs: number;
  private lastError: string | undefined;
  private lastErrorAtMs: number | undefined;
  lastFlushAtMs: number | undefined;
  recordsSent = 0;
  recordsReceived = 0;
  /** Received records refused for a version beyond the clock offset bound. */
  recordsRefused = 0;
  bytesSent = 0;
  bytesReceived = 0;
  /** Batches skipped because they did not decode (logged). */
  badBatches = 0;
  compactions = 0;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly servers: readonly string[],
    enabled: boolean,
  ) {
    this.state = enabled ? 'connecting' : 'disabled';
    this.sinceMs = clock.nowMs();
  }

  setState(state: LinkState): void {
    if (this.state === state) return;
    this.state = state;
    this.sinceMs = this.clock.nowMs();
  }

  recordError(error: unknown, what: string, pendingDeltas: number): void {
    const message = describeBusError(error, this.servers);
    const repeated = message === this.lastError;
    this.lastError = message;
    this.lastErrorAtMs = this.clock.nowMs();
    if (repeated) this.logger.debug({ err: message }, what);
    else this.logger.warn({ err: message, pendingDeltas }, what);
  }

  /** A plain message (not a transport error): shown in `peers list` as is. */
  setLastError(message: string): void {
    this.lastError = message;
    this.lastErrorAtMs = this.clock.nowMs();
  }

  describe(error: unknown): string {
    return describeBusError(error, this.servers);
  }

  toLinkStatus(pendingDeltas: number): LinkStatus {
    return {
      kind: 'bus',
      address: this.servers.join(','),
      state: this.state,
      sinceMs: this.sinceMs,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(this.lastErrorAtMs !== undefined ? { lastErrorAtMs: this.lastErrorAtMs } : {}),
      pendingDeltas,
      ...(this.lastFlushAtMs !== undefined ? { lastFlushAtMs: this.lastFlushAtMs } : {}),
      recordsSent: this.recordsSent,
      recordsReceived: this.recordsReceived,
      recordsRefused: this.recordsRefused,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
    };
  }
}
