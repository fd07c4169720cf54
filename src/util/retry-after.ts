/**
 * The HTTP `Retry-After` header (RFC 9110 §10.2.3): either delay-seconds or an HTTP-date. Used by
 * every client that honours it (the gateway's forwarder, the Electricity Maps client).
 */

/**
 * Milliseconds to wait from `nowMs`, or undefined when the header is absent or unreadable.
 * Delay-seconds may carry a fraction (some servers send one); a date in the past gives 0; the
 * result never exceeds `maxMs`, so a hostile or broken server cannot park a client for days.
 */
export function parseRetryAfterMs(
  header: string | readonly string[] | undefined,
  nowMs: number = Date.now(),
  maxMs: number = Number.POSITIVE_INFINITY,
): number | undefined {
  const raw = typeof header === "string" ? header : header?.[0];
  const value = raw?.trim();
  if (!value) return undefined;
  let ms: number;
  if (/^\d+(?:\.\d+)?$/.test(value)) ms = Number(value) * 1000;
  else {
    // Only dates: a bare or signed number that failed the pattern above ("-1", "1e3") is invalid,
    // and Date.parse would read some of them as years.
    if (/^[-+]?[\d.e]+$/i.test(value)) return undefined;
    const at = Date.parse(value);
    if (!Number.isFinite(at)) return undefined;
    ms = Math.max(0, at - nowMs);
  }
  return Math.min(ms, Math.max(0, maxMs));
}
