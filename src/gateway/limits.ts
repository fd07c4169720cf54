/**
 * Bounds on the work one OTLP request may ask for (`gateway.limits`), checked while scanning,
 * before the work they bound is done. A span over a per-span limit is rejected through
 * partial_success; the same limit broken outside a span (resource, scope) refuses the request (400);
 * too many spans refuse it with 413.
 */
import type { Config } from "../config.ts";
import { Co2eError, ERROR_CODES } from "../errors.ts";

export type RequestLimits = Config["gateway"]["limits"];

/**
 * Limits large enough for any test body, used when a caller gives none (unit tests of the
 * scanner and JSON reader). The gateway always passes the configured ones.
 */
export const UNBOUNDED_LIMITS: RequestLimits = {
  maxSpansPerRequest: Number.MAX_SAFE_INTEGER,
  maxAttributesPerSpan: Number.MAX_SAFE_INTEGER,
  maxAttributeValueBytes: Number.MAX_SAFE_INTEGER,
  maxNestingDepth: 32,
};

export class LimitError extends Co2eError {
  /** Key path of the limit, e.g. `gateway.limits.maxSpansPerRequest`. */
  readonly limit: string;
  /** HTTP status when the whole request is refused. */
  readonly status: 400 | 413;
  constructor(limit: keyof RequestLimits, message: string, status: 400 | 413 = 400) {
    super(ERROR_CODES.otlpDecode, `${message} (gateway.limits.${limit})`);
    this.limit = `gateway.limits.${limit}`;
    this.status = status;
  }
}

/** Per-span budget of attribute values, reset for each span. */
export class SpanBudget {
  readonly limits: RequestLimits;
  values = 0;
  constructor(limits: RequestLimits) {
    this.limits = limits;
  }

  reset(): void {
    this.values = 0;
  }

  /** Counts one attribute value (a KeyValue, or an array/kvlist element). */
  value(): void {
    if (++this.values > this.limits.maxAttributesPerSpan) {
      throw new LimitError(
        "maxAttributesPerSpan",
        `more than ${this.limits.maxAttributesPerSpan} attribute values in one span`,
      );
    }
  }

  length(bytes: number): void {
    if (bytes > this.limits.maxAttributeValueBytes) {
      throw new LimitError(
        "maxAttributeValueBytes",
        `attribute value of ${bytes} bytes, more than ${this.limits.maxAttributeValueBytes}`,
      );
    }
  }

  depth(depth: number): void {
    if (depth > this.limits.maxNestingDepth) {
      throw new LimitError(
        "maxNestingDepth",
        `attribute value nested more than ${this.limits.maxNestingDepth} levels deep`,
      );
    }
  }

  spans(count: number): void {
    if (count > this.limits.maxSpansPerRequest) {
      throw new LimitError(
        "maxSpansPerRequest",
        `request holds more than ${this.limits.maxSpansPerRequest} spans`,
        413,
      );
    }
  }
}
