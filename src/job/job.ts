/**
 * The job API: a job is a span with a `job.name` attribute whose CPU, memory, network (and GPU)
 * use is measured while it runs. `withJob` wraps a callback; `startJob` returns a handle for work
 * that does not fit one.
 */
import {
  type Attributes,
  type Context,
  context,
  diag,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import * as sc from "../semconv.ts";
import { isPromiseLike } from "../util/promise-like.ts";
import type { JobMeter } from "./meter.ts";
import { contextWithSpan } from "./span-context.ts";
import { beginSpanMeasurement, finishSpanMeasurement } from "./spans.ts";

/** Name of the tracer the job API uses when none is given. */
export const JOB_TRACER_NAME = "otel-co2e";

export interface JobOptions {
  /** Extra span attributes. */
  attributes?: Attributes;
  /** Grid zone of this job (`carbon.zone`), overriding config and cloud region. */
  zone?: string;
  /** Functional units the job produces (`job.functional_units`, SCI's R). */
  functionalUnits?: number;
  /** @default trace.getTracer("otel-co2e") */
  tracer?: Tracer;
  /** Parent context. @default context.active() */
  context?: Context;
  /** @default the thread's shared meter */
  meter?: JobMeter;
}

export interface JobHandle {
  readonly span: Span;
  /** Runs fn inside the job's context: the span is active and sockets count towards the job. */
  run<T>(fn: () => T): T;
  setFunctionalUnits(units: number): void;
  /** Records the error (if any), measures, ends the span. Later calls do nothing. */
  end(error?: unknown): void;
}

function jobAttributes(name: string, options: JobOptions): Attributes {
  const attributes: Attributes = { ...options.attributes, [sc.ATTR_JOB_NAME]: name };
  if (options.zone !== undefined) attributes[sc.ATTR_CARBON_ZONE] = options.zone;
  if (options.functionalUnits !== undefined)
    attributes[sc.ATTR_JOB_FUNCTIONAL_UNITS] = options.functionalUnits;
  return attributes;
}

/**
 * A message for anything thrown. Never throws itself: `String(Object.create(null))` does, and so
 * can a hostile toString or message getter; the user's own error must reach the caller unchanged.
 */
function errorMessage(error: unknown): string {
  try {
    if (error instanceof Error) return String(error.message);
    return String(error);
  } catch {
    try {
      return Object.prototype.toString.call(error);
    } catch {
      return "unprintable error";
    }
  }
}

function recordError(span: Span, error: unknown): void {
  const message = errorMessage(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  try {
    // The SDK reads name, message and stack: any of them can be a getter that throws.
    span.recordException(error instanceof Error ? error : message);
  } catch {
    span.recordException(message);
  }
}

/** The job API must not fail the user's work for a measurement problem: report it, once per kind. */
const warned = new Set<string>();
function warnOnce(kind: string, message: string, error: unknown): void {
  if (warned.has(kind)) return;
  warned.add(kind);
  diag.warn(message, error);
}

/** startJob's handle plus the end variant withJob uses when it knows the job never yielded. */
interface InternalJobHandle extends JobHandle {
  endSynchronous(error?: unknown): void;
}

export function startJob(name: string, options: JobOptions = {}): JobHandle {
  const job = openJob(name, options);
  // Methods that work detached too (`const { end } = startJob(…)`, `emitter.on("close", job.end)`).
  return {
    span: job.span,
    run: <T>(fn: () => T): T => job.run(fn),
    setFunctionalUnits: (units: number): void => job.setFunctionalUnits(units),
    end: (error?: unknown): void => job.end(error),
  };
}

function openJob(name: string, options: JobOptions): InternalJobHandle {
  const tracer = options.tracer ?? trace.getTracer(JOB_TRACER_NAME);
  const parent = options.context ?? context.active();
  const span = tracer.startSpan(name, { attributes: jobAttributes(name, options) }, parent);
  // A non-recording span (no SDK, sampled out) is not measured: no cost for jobs nobody records.
  let measurement: ReturnType<typeof beginSpanMeasurement> | undefined;
  if (span.isRecording()) {
    try {
      measurement = beginSpanMeasurement(span, options.meter);
    } catch (error) {
      // The job still runs and its span is still exported, without counters.
      warnOnce("start", "otel-co2e: cannot start measuring a job", error);
    }
  }
  return new OpenJob(span, contextWithSpan(parent, span), measurement);
}

/** One job's handle: a class, so withJob allocates one object for it and no closures. */
class OpenJob implements InternalJobHandle {
  readonly span: Span;
  readonly #spanContext: Context;
  readonly #measurement: ReturnType<typeof beginSpanMeasurement> | undefined;
  #ended = false;

  constructor(
    span: Span,
    spanContext: Context,
    measurement: ReturnType<typeof beginSpanMeasurement> | undefined,
  ) {
    this.span = span;
    this.#spanContext = spanContext;
    this.#measurement = measurement;
  }

  run<T>(fn: () => T): T {
    const measurement = this.#measurement;
    return measurement
      ? context.with(this.#spanContext, measurement.run<T>, measurement, fn)
      : context.with(this.#spanContext, fn);
  }

  setFunctionalUnits(units: number): void {
    this.span.setAttribute(sc.ATTR_JOB_FUNCTIONAL_UNITS, units);
  }

  end(error?: unknown): void {
    this.#end(error, false);
  }

  endSynchronous(error?: unknown): void {
    this.#end(error, true);
  }

  #end(error: unknown, synchronous: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    const span = this.span;
    try {
      if (error !== undefined) recordError(span, error);
    } catch (failure) {
      warnOnce("error", "otel-co2e: cannot record a job's error on its span", failure);
    }
    try {
      finishSpanMeasurement(span, { synchronous });
    } catch (failure) {
      warnOnce("finish", "otel-co2e: cannot finish measuring a job", failure);
    } finally {
      span.end();
    }
  }
}

/**
 * Runs fn as a job and returns its result. Async functions are measured until their promise
 * settles. An exception (or rejection) sets the span status to ERROR, is recorded on the span and
 * is rethrown unchanged.
 */
export function withJob<T>(name: string, fn: (span: Span) => T, options: JobOptions = {}): T {
  const job = openJob(name, options);
  let result: T;
  try {
    result = job.run(() => fn(job.span));
  } catch (error) {
    job.endSynchronous(error);
    throw error;
  }
  if (isPromiseLike(result)) {
    return Promise.resolve(result).then(
      (value) => {
        job.end();
        return value;
      },
      (error: unknown) => {
        job.end(error ?? new Error("job rejected without a reason"));
        throw error;
      },
    ) as T;
  }
  job.endSynchronous();
  return result;
}
