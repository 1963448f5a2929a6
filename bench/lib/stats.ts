// Order statistics over repeated runs (or over per-call latencies): the median is
// what the results table shows, min/max the spread, p99 the tail.

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly p50: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
}

/** Nearest-rank percentile of already sorted values (q in [0, 1]). */
export function percentileOfSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no values');
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}

/** Median with the usual mean of the two middle values for an even count. */
export function medianOfSorted(sorted: readonly number[]): number {
  if (sorted.length === 0) throw new RangeError('median of no values');
  const mid = sorted.length >> 1;
  const upper = sorted[mid] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] as number) + upper) / 2;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError('summary of no values');
  const sorted = Float64Array.from(values).sort();
  const list = Array.from(sorted);
  return {
    n: list.length,
    median: medianOfSorted(list),
    p50: percentileOfSorted(list, 0.5),
    p99: percentileOfSorted(list, 0.99),
    min: list[0] as number,
    max: list[list.length - 1] as number,
  };
}
