// Order statistics for timing samples. Medians rather than means: on a shared machine a few requests
// land on a busy core, and one 3x outlier should not move the headline number.

export interface Summary {
  median: number;
  p90: number;
  min: number;
  max: number;
  n: number;
}

/** Linear interpolation between order statistics (numpy's default), so p90 of 30 samples is well defined. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function summarize(values: readonly number[]): Summary {
  return { median: median(values), p90: percentile(values, 90), min: Math.min(...values), max: Math.max(...values), n: values.length };
}
