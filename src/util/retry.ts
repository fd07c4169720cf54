/**
 * The wait before a retry, shared by every client that retries (the gateway's forwarder, the
 * Electricity Maps client): exponential backoff with full jitter (a uniform wait in
 * [0, min(maxMs, baseMs × 2^retry)], as in "Exponential Backoff And Jitter", AWS Architecture Blog,
 * 2015), so retries from many processes spread out; a server's `Retry-After` (already parsed and
 * capped by the caller, see retry-after.ts) replaces the computed wait.
 */

export interface Backoff {
  /** The first step, ms. */
  baseMs: number;
  /** The largest step, ms. */
  maxMs: number;
}

/**
 * Milliseconds to wait before retry number `retry` (0 for the first retry). `random` returns a
 * number in [0, 1) (tests pass a fixed one).
 */
export function retryDelayMs(
  retry: number,
  backoff: Backoff,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  const step = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, retry));
  return random() * step;
}
