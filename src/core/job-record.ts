/**
 * The job as the layers above see it: `JobRecord` (what the processor and the gateway hand to the
 * metrics), `isJobSpan`, and the readers that turn span attribute values into typed values. It
 * sits below processor/, metrics/ and gateway/ so that each imports it downward; it depends on
 * nothing above intensity/.
 */
import type { Attributes, AttributeValue } from "@opentelemetry/api";
import type { IntensityValue } from "../intensity/types.ts";
import type { Footprint } from "../model/footprint.ts";
import type { Range } from "../model/range.ts";
import * as sc from "../semconv.ts";
import { finiteNumber } from "../util/number.ts";

/** One finished job as the metrics see it. */
export interface JobRecord {
  jobName: string;
  serviceName: string;
  status: "ok" | "error";
  durationSeconds: number;
  zone: string;
  intensity: IntensityValue;
  attribution: sc.Attribution;
  functionalUnits?: number;
  footprint: Footprint;
  /** Low and high bounds of footprint.co2eGrams (model/range.ts); absent when not known. */
  co2eRange?: Range;
  bestHourGrams?: number;
}

/** A span is a job span when it carries a string `job.name`. */
export function isJobSpan(attributes: Attributes): boolean {
  return typeof attributes[sc.ATTR_JOB_NAME] === "string";
}

/** The values `carbon.attribution` may hold (`shared` from older producers is still read). */
export function isAttribution(value: AttributeValue | undefined): value is sc.Attribution {
  return (
    value === sc.ATTRIBUTION.exclusive ||
    value === sc.ATTRIBUTION.eventLoop ||
    value === sc.ATTRIBUTION.equal ||
    value === sc.ATTRIBUTION.shared
  );
}

/** A finite number from an attribute value (OTLP JSON carries 64-bit integers as strings). */
export const num: (value: AttributeValue | undefined) => number | undefined = finiteNumber;

/** A non-empty string attribute, else undefined. */
export function str(value: AttributeValue | undefined): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
