// One way to bound a wait: a promise that settles as the work does, or rejects when time is up.

/** Settles as `work` does, or rejects after `ms` with "`what` timed out after `ms` ms"; the timer never outlives it. */
export function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
