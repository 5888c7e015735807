// Percentiles and throughput of one benchmark phase.

/** Nearest-rank percentile (p in 0..100) of the values; 0 when there are none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

/**
 * Lifecycles per second while the load is steady. In each measured chunk, the completions
 * between its 10th and 90th percentile of completion times count, over the time between them:
 * the ramp-up (every slot starting at once) and the tail (fewer than C lifecycles left in
 * flight) are left out. Chunks too small for a window count whole (count / wall time).
 */
export function sustainedRate(chunks: { startedAt: number; completedAt: number[] }[]): number {
  let count = 0;
  let ms = 0;
  for (const { startedAt, completedAt } of chunks) {
    const times = [...completedAt].sort((a, b) => a - b);
    if (times.length === 0) continue;
    const lo = Math.floor(times.length * 0.1);
    const hi = Math.ceil(times.length * 0.9) - 1;
    const from = times[lo] ?? startedAt;
    const to = times[hi] ?? startedAt;
    if (hi - lo >= 10 && to > from) {
      count += hi - lo;
      ms += to - from;
    } else {
      count += times.length;
      ms += (times[times.length - 1] ?? startedAt) - startedAt;
    }
  }
  return ms > 0 ? (count * 1000) / ms : 0;
}

/** Completions over the whole wall time of the chunks, ramp-up and tail included. */
export function overallRate(chunks: { startedAt: number; completedAt: number[] }[]): number {
  let count = 0;
  let ms = 0;
  for (const { startedAt, completedAt } of chunks) {
    if (completedAt.length === 0) continue;
    count += completedAt.length;
    ms += Math.max(...completedAt) - startedAt;
  }
  return ms > 0 ? (count * 1000) / ms : 0;
}

export const round = (value: number, digits = 1) => {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight; resolves when all settled. */
export async function runPool(count: number, concurrency: number, task: (index: number) => Promise<void>) {
  let next = 0;
  const slot = async () => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, slot));
}
