// Versions of replicated changes: a hybrid logical clock reading (wall ms, counter)
// plus the origin node id, compared lexicographically. Every node applies the same
// last-writer-wins rule with it, whatever the order in which changes arrive.
import type { Clock } from './clock.js';

/** The counter travels as a uint32 on every wire (mesh, bus, Watch). */
export const MAX_VERSION_COUNTER = 0xffff_ffff;

/** Default of `[replication] max_clock_offset_ms`: how far ahead of this node's clock a received version may be. */
export const DEFAULT_MAX_CLOCK_OFFSET_MS = 60_000;

export interface Version {
  /** Wall-clock part, ms since the UNIX epoch (never behind any version seen). */
  readonly wallMs: number;
  /** Logical counter within one wallMs. */
  readonly counter: number;
  /** Node id of the writer: breaks ties between concurrent writes deterministically. */
  readonly origin: string;
}

/** Negative when a < b, positive when a > b, 0 only for the very same version. */
export function compareVersions(a: Version, b: Version): number {
  if (a.wallMs !== b.wallMs) return a.wallMs < b.wallMs ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  if (a.origin === b.origin) return 0;
  return a.origin < b.origin ? -1 : 1;
}

export function formatVersion(v: Version): string {
  return `${v.wallMs}.${v.counter}@${v.origin}`;
}

/**
 * Hybrid logical clock: stamps local writes and observes remote versions, so a write
 * made after seeing another always compares greater, even with skewed wall clocks.
 */
export class HybridClock {
  private wallMs = 0;
  private counter = 0;

  constructor(
    private readonly clock: Clock,
    readonly nodeId: string,
  ) {}

  /**
   * A fresh version for a local write, greater than every version stamped or observed.
   * A full counter carries into the wall part (as HLCs do): the version stays
   * encodable and still compares greater.
   */
  next(): Version {
    const physical = this.clock.nowMs();
    if (physical > this.wallMs) {
      this.wallMs = physical;
      this.counter = 0;
    } else if (this.counter >= MAX_VERSION_COUNTER) {
      this.wallMs++;
      this.counter = 0;
    } else {
      this.counter++;
    }
    return { wallMs: this.wallMs, counter: this.counter, origin: this.nodeId };
  }

  /** Moves the clock past a version received from elsewhere. */
  observe(remote: Version): void {
    if (remote.wallMs > this.wallMs) {
      this.wallMs = remote.wallMs;
      this.counter = remote.counter;
    } else if (remote.wallMs === this.wallMs && remote.counter > this.counter) {
      this.counter = remote.counter;
    }
  }
}

/**
 * How far (ms) `version` is ahead of the physical clock beyond the allowed offset, or
 * 0 when within it. Hybrid logical clocks trust remote wall times only up to a bound
 * (CockroachDB's max offset): past it, one peer with a broken clock, or one forged
 * record, would drag every node's clock (and tombstone collection) along for good.
 */
export function clockOffsetExcessMs(version: Version, physicalMs: number, maxOffsetMs: number): number {
  const ahead = version.wallMs - physicalMs;
  return ahead > maxOffsetMs ? ahead : 0;
}
