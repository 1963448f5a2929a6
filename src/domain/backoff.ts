// Reconnect delays: exponential from `minMs`, capped at `maxMs`, with jitter (each
// delay drawn in [50%, 100%] of the nominal one) so peers that lost each other at
// the same moment do not retry in lockstep. Reset after a healthy session.
export interface BackoffOptions {
  readonly minMs: number;
  readonly maxMs: number;
  /** Injectable for tests; returns [0, 1). */
  readonly random?: () => number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** Delay before the next attempt; grows with every call until reset(). */
  next(): number {
    const nominal = Math.min(this.options.maxMs, this.options.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const random = this.options.random ?? Math.random;
    return Math.max(1, Math.round(nominal * (0.5 + 0.5 * random())));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
