// Timers behind an interface, so the replication core (flush ticks, GC ticks,
// backoff) runs on real timers in the daemon and on a hand-driven clock in tests
// and simulations, without sleeping.
import type { ManualClock } from './clock.js';

export interface Scheduler {
  /** Calls fn every `ms` until the returned cancel function is called. */
  every(ms: number, fn: () => void): () => void;
  /** Calls fn once after `ms`, unless cancelled first. */
  after(ms: number, fn: () => void): () => void;
}

/** Real timers, unref'd so they never keep the process alive on their own. */
export const systemScheduler: Scheduler = {
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

interface ManualTimer {
  readonly id: number;
  dueMs: number;
  readonly periodMs: number | undefined;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * Timers driven by a ManualClock: `advance(ms)` runs every due callback in time
 * order (ties in creation order), moving the clock to each callback's due time.
 */
export class ManualScheduler implements Scheduler {
  private timers: ManualTimer[] = [];
  private nextId = 0;

  constructor(readonly clock: ManualClock) {}

  every(ms: number, fn: () => void): () => void {
    return this.add(ms, fn, Math.max(1, ms));
  }

  after(ms: number, fn: () => void): () => void {
    return this.add(ms, fn, undefined);
  }

  /** Number of live timers (periodic ones included). */
  get pending(): number {
    return this.timers.length;
  }

  /** When the next timer is due, if any. */
  nextDueMs(): number | undefined {
    return this.earliest()?.dueMs;
  }

  /**
   * Runs the earliest timer due at or before `untilMs`, moving the clock to its due
   * time. Returns false when none is due. Async drivers call this in a loop and let
   * promises settle between steps.
   */
  runNext(untilMs: number): boolean {
    const timer = this.earliest();
    if (timer === undefined || timer.dueMs > untilMs) return false;
    if (timer.dueMs > this.clock.nowMs()) this.clock.set(timer.dueMs);
    if (timer.periodMs === undefined) {
      this.remove(timer);
    } else {
      timer.dueMs += timer.periodMs;
    }
    timer.fn();
    return true;
  }

  /** Runs everything due within the next `ms`, then leaves the clock at now + ms. */
  advance(ms: number): void {
    const until = this.clock.nowMs() + ms;
    while (this.runNext(until)) {
      // keep going: callbacks may schedule more due work
    }
    if (this.clock.nowMs() < until) this.clock.set(until);
  }

  private add(ms: number, fn: () => void, periodMs: number | undefined): () => void {
    const timer: ManualTimer = { id: this.nextId++, dueMs: this.clock.nowMs() + Math.max(0, ms), periodMs, fn, cancelled: false };
    this.timers.push(timer);
    return () => {
      if (!timer.cancelled) this.remove(timer);
    };
  }

  private remove(timer: ManualTimer): void {
    timer.cancelled = true;
    const index = this.timers.indexOf(timer);
    if (index >= 0) this.timers.splice(index, 1);
  }

  private earliest(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.timers) {
      if (best === undefined || timer.dueMs < best.dueMs || (timer.dueMs === best.dueMs && timer.id < best.id)) best = timer;
    }
    return best;
  }
}
