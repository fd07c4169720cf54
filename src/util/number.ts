/**
 * The one reading of a number from outside (a span attribute, an OTLP value): a finite number, or
 * a non-blank string that parses to one (some SDKs and collectors send numbers as strings).
 * Anything else — NaN, ±Infinity, booleans, arrays, blank strings — is undefined, never a number
 * that could turn a counter into NaN.
 */
export function finiteNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}
