// Where remote records enter (mesh sessions, the bus link): records dated further
// ahead of this node's clock than the allowed offset are set aside before merging
// (see clockOffsetExcessMs in domain/version.ts for why).
import { recordVersion, type ReplicatedRecord } from '../../domain/replicated-record.js';
import { clockOffsetExcessMs, formatVersion } from '../../domain/version.js';

export interface ClockOffsetSplit {
  /** The records within the bound (the input array itself when none is refused). */
  readonly accepted: readonly ReplicatedRecord[];
  readonly refused: number;
  /** How far ahead of the clock the furthest refused version was (ms). */
  readonly aheadMs: number;
  /** That version, formatted, for the log. */
  readonly example: string;
}

export function splitByClockOffset(records: readonly ReplicatedRecord[], nowMs: number, maxOffsetMs: number): ClockOffsetSplit {
  let refused = 0;
  let aheadMs = 0;
  let example = '';
  let accepted: ReplicatedRecord[] | undefined;
  records.forEach((record, index) => {
    const excess = clockOffsetExcessMs(recordVersion(record), nowMs, maxOffsetMs);
    if (excess === 0) {
      accepted?.push(record);
      return;
    }
    accepted ??= records.slice(0, index);
    refused++;
    if (excess > aheadMs) {
      aheadMs = excess;
      example = formatVersion(recordVersion(record));
    }
  });
  return { accepted: accepted ?? records, refused, aheadMs, example };
}
