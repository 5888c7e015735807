// The pauses between retries everywhere the service retries by itself: exponential, capped.

/** initialMs, then doubled after each pause, never more than maxMs. Endless: stop by other means. */
export function* backoffDelays(initialMs: number, maxMs: number): Generator<number, never> {
  for (let delay = initialMs; ; delay = Math.min(delay * 2, maxMs)) yield delay;
}
