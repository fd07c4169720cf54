/** Prints one line per finished job span with what the carbon processor wrote on it. */
import type { Context } from "@opentelemetry/api";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace";
import { isJobSpan } from "../core/job-record.ts";
import * as sc from "../semconv.ts";
import { formatDecimal, formatSignificant } from "../util/format.ts";

/** key=value lines are for grep and parsers: significant digits, no thousands separators. */
function fmt(value: unknown, digits = 3): string {
  return typeof value === "number"
    ? formatSignificant(value, digits, { grouping: false })
    : String(value ?? "?");
}

export function formatJobLine(span: ReadableSpan): string {
  const a = span.attributes;
  const seconds = formatDecimal(span.duration[0] + span.duration[1] / 1e9, 3, { grouping: false });
  if (a[sc.ATTR_CARBON_ERROR] !== undefined) {
    return `job=${a[sc.ATTR_JOB_NAME]} duration=${seconds}s error=${JSON.stringify(a[sc.ATTR_CARBON_ERROR])}`;
  }
  return [
    `job=${a[sc.ATTR_JOB_NAME]}`,
    `duration=${seconds}s`,
    `cpu=${fmt(a[sc.ATTR_JOB_CPU_SECONDS])}s`,
    `energy=${fmt(a[sc.ATTR_CARBON_ENERGY_KWH])}kWh`,
    `co2e=${fmt(a[sc.ATTR_CARBON_CO2E_GRAMS])}g`,
    `intensity=${fmt(a[sc.ATTR_CARBON_INTENSITY], 4)}g/kWh`,
    `zone=${a[sc.ATTR_CARBON_INTENSITY_ZONE]}`,
    `source=${a[sc.ATTR_CARBON_INTENSITY_SOURCE]}`,
    `attribution=${a[sc.ATTR_CARBON_ATTRIBUTION]}`,
  ].join(" ");
}

export class JobLinePrinter implements SpanProcessor {
  readonly #write: (line: string) => void;

  constructor(write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {
    this.#write = write;
  }

  onStart(_span: Span, _context: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (isJobSpan(span.attributes)) this.#write(formatJobLine(span));
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
