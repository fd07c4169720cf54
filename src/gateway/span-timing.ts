/**
 * The gateway cannot trust a client's span timestamps. OTLP leaves an unset time as 0, which
 * would make a job started "in 1970": its memory energy, linear idle power and embodied carbon
 * all scale with the duration (about 56 years), and the monotonic Prometheus counters would keep
 * that figure forever. A job span whose times are missing, reversed, or absurdly long is therefore
 * forwarded with `carbon.error` and neither enriched nor counted.
 */

/**
 * Longest job duration the gateway accepts: 30 days, in ms. Batch jobs of a few days exist; a
 * job span open for a month is far more likely a wrong clock or a unit mistake than real work,
 * and one such span would dominate every total it is summed into.
 */
export const MAX_JOB_DURATION_MS = 30 * 24 * 3_600_000;

/** Prefix of the `carbon.error` text for such spans (stable, so users can grep for it). */
export const INVALID_TIMESTAMPS = "invalid span timestamps";

/** Why [startMs, endMs] cannot be a job's run, as a `carbon.error` text; undefined when it can. */
export function invalidTimingReason(startMs: number, endMs: number): string | undefined {
  let why: string | undefined;
  if (!(startMs > 0)) why = "start_time_unix_nano is unset (0)";
  else if (!(endMs >= startMs)) why = "end_time_unix_nano is unset or before start_time_unix_nano";
  else if (endMs - startMs > MAX_JOB_DURATION_MS) {
    const days = (endMs - startMs) / 86_400_000;
    why = `duration of ${days.toFixed(1)} days exceeds the limit of ${MAX_JOB_DURATION_MS / 86_400_000} days`;
  }
  return why === undefined ? undefined : `${INVALID_TIMESTAMPS}: ${why}`;
}
