/**
 * The /metrics body, rendered in slices. The exporter's own handler serializes the whole
 * collection in one synchronous call; with thousands of job series that is tens to hundreds of
 * milliseconds during which the process (the gateway's OTLP receiver included) answers nothing.
 * Here the event loop gets a turn whenever a slice has run `sliceMs`, so a scrape delays a
 * concurrent request by about one slice plus the SDK's collection. Scrapes that arrive while a
 * render is running share it instead of starting another.
 *
 * The text is the exporter's (PrometheusSerializer, default options) byte for byte, which a test
 * checks on a collection with every instrument kind. Counters, gauges and explicit-bucket
 * histograms of a family from one meter are written here, with each data point's label string
 * built once (the library rebuilds and re-escapes it for every bucket line) and label keys and
 * values escaped once per render; anything else (a name shared by several meters, exponential
 * histograms) goes through the library's serializer.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Attributes, diag } from "@opentelemetry/api";
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import type { Resource } from "@opentelemetry/resources";
import {
  DataPointType,
  type MetricData,
  type MetricReader,
  type ResourceMetrics,
  type ScopeMetrics,
} from "@opentelemetry/sdk-metrics";
import { resourceAttributesNow } from "../util/resource-attributes.ts";

/** Longest error text a failed scrape answers with (the error's message is cut to fit). */
const SCRAPE_ERROR_MAX_CHARS = 500;
/** What the library writes when there is nothing to export. */
const NO_REGISTERED_METRICS = "# no registered metrics";
/** Prometheus text format 0.0.4, the format the serializer writes. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface SlicedExpositionOptions {
  /** Longest synchronous stretch of serializing before the event loop gets a turn, ms. @default 4 */
  sliceMs?: number;
  /** Sample lines written between two looks at the clock. @default 500 */
  linesPerPiece?: number;
}

/**
 * target_info through the library's own (protected) resource serializer, which reads only
 * `resource.attributes`: given the attributes settled so far, so a scrape while a detector is
 * still running neither waits nor makes the SDK log "Accessing resource attributes before async
 * attributes settled".
 */
class TargetInfoSerializer extends PrometheusSerializer {
  targetInfo(resource: Resource): string {
    return this._serializeResource({ attributes: resourceAttributesNow(resource) } as Resource);
  }
}

type Scope = ScopeMetrics["scope"];

/** One stretch of work: the text of a few data points, written when the generator is resumed. */
type Pieces = Generator<string, void, undefined>;

export class SlicedExposition {
  readonly #reader: Pick<MetricReader, "collect">;
  readonly #sliceMs: number;
  readonly #linesPerPiece: number;
  // The PrometheusExporter's serializer settings with its defaults (no prefix, no timestamps,
  // scope labels on), minus target_info, which is written once per body.
  readonly #library = new PrometheusSerializer(undefined, false, undefined, true, false);
  readonly #targetInfo = new TargetInfoSerializer();
  /** Label strings of the SDK's attribute objects, which live as long as their series. */
  readonly #labelCache = new WeakMap<Attributes, string>();
  #inflight: Promise<Buffer> | undefined;

  constructor(reader: Pick<MetricReader, "collect">, options: SlicedExpositionOptions = {}) {
    this.#reader = reader;
    this.#sliceMs = options.sliceMs ?? 4;
    this.#linesPerPiece = Math.max(1, options.linesPerPiece ?? 500);
  }

  /** The exposition text of one collection, UTF-8; concurrent callers share one render. */
  renderBody(): Promise<Buffer> {
    this.#inflight ??= this.#render().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** renderBody() as a string. */
  async render(): Promise<string> {
    return (await this.renderBody()).toString("utf8");
  }

  /** Answers a GET /metrics: 200 with the text, or 500 naming the failure. */
  handle(_req: IncomingMessage, res: ServerResponse): void {
    this.renderBody().then(
      (body) => {
        res.statusCode = 200;
        res.setHeader("content-type", EXPOSITION_CONTENT_TYPE);
        res.end(body);
      },
      (error: unknown) => {
        const text = (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(
          0,
          SCRAPE_ERROR_MAX_CHARS,
        );
        diag.error(`otel-co2e: /metrics scrape failed: ${text}`);
        try {
          if (!res.headersSent) {
            res.statusCode = 500;
            res.setHeader("content-type", "text/plain; charset=utf-8");
          }
          res.end(`# metrics could not be served: ${text}\n`);
        } catch {
          res.destroy();
        }
      },
    );
  }

  async #render(): Promise<Buffer> {
    const { resourceMetrics, errors } = await this.#reader.collect();
    if (errors.length) diag.error("otel-co2e: metrics collection errors", ...errors);
    // Each piece is encoded inside its slice: joining megabytes of concatenated strings at the
    // end would be one more long stretch.
    const parts = [Buffer.from(this.#targetInfo.targetInfo(resourceMetrics.resource))];
    const header = parts.length;
    let sliceStart = performance.now();
    for (const text of this.#pieces(resourceMetrics)) {
      if (text !== "") parts.push(Buffer.from(text));
      if (performance.now() - sliceStart >= this.#sliceMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    if (parts.length === header) parts.push(Buffer.from(NO_REGISTERED_METRICS));
    return Buffer.concat(parts);
  }

  /** Every family's text in collection order, in pieces of about linesPerPiece lines. */
  *#pieces(resourceMetrics: ResourceMetrics): Pieces {
    const families = new Map<string, Array<{ scope: Scope; metric: MetricData }>>();
    for (const { scope, metrics } of resourceMetrics.scopeMetrics) {
      for (const metric of metrics) {
        const name = familyName(metric);
        if (name === undefined) continue;
        const members = families.get(name);
        if (members) members.push({ scope, metric });
        else families.set(name, [{ scope, metric }]);
      }
    }
    const labels = new LabelWriter(this.#labelCache);
    for (const [name, members] of families) {
      const only = members.length === 1 ? members[0]! : undefined;
      if (only && isWritable(only.metric)) {
        yield* writeFamily(name, only.metric, only.scope, labels, this.#linesPerPiece);
        continue;
      }
      // Several meters, or a kind we do not write: the library merges, drops or writes it.
      const text = this.#library.serialize({
        resource: resourceMetrics.resource,
        scopeMetrics: members.map(({ scope, metric }) => ({ scope, metrics: [metric] })),
      });
      yield text === NO_REGISTERED_METRICS ? "" : text;
    }
  }
}

function isWritable(metric: MetricData): boolean {
  return (
    metric.dataPointType === DataPointType.SUM ||
    metric.dataPointType === DataPointType.GAUGE ||
    metric.dataPointType === DataPointType.HISTOGRAM
  );
}

// --- The exporter's text format (its PrometheusSerializer with default options) ---------------

function escapeString(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function sanitizeName(name: string): string {
  return name.replace(/[^a-z0-9_]/gi, "_").replace(/_{2,}/g, "_");
}

function valueString(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return `${value}`;
}

/** The family name the library gives `metric`, or undefined when it skips it. */
function familyName(metric: MetricData): string | undefined {
  let name = sanitizeName(escapeString(metric.descriptor.name));
  if (name === "" || name === "_") {
    diag.error(`Normalization for metric "${metric.descriptor.name}" resulted in an invalid name: "${name}"`);
    return undefined;
  }
  if (name[0]! >= "0" && name[0]! <= "9") name = `_${name}`;
  if (metric.dataPointType === DataPointType.SUM && metric.isMonotonic && !name.endsWith("_total"))
    name += "_total";
  return name;
}

function typeOf(metric: MetricData): string {
  if (metric.dataPointType === DataPointType.SUM) return metric.isMonotonic ? "counter" : "gauge";
  return metric.dataPointType === DataPointType.GAUGE ? "gauge" : "histogram";
}

/** Label keys and values escaped once per render (both are bounded by the series count). */
class LabelWriter {
  readonly #byObject: WeakMap<Attributes, string>;
  readonly #keys = new Map<string, string>();
  readonly #values = new Map<string, string>();

  pair(key: string, value: unknown): string {
    let k = this.#keys.get(key);
    if (k === undefined) {
      k = sanitizeName(key);
      this.#keys.set(key, k);
    }
    let v: string | undefined;
    if (typeof value === "string") {
      v = this.#values.get(value);
      if (v === undefined) {
        v = escapeValue(value);
        this.#values.set(value, v);
      }
    } else v = escapeValue(value === undefined ? "" : JSON.stringify(value));
    return `${k}="${v}"`;
  }

  constructor(byObject: WeakMap<Attributes, string>) {
    this.#byObject = byObject;
  }

  /** `k="v",…` of a data point's attributes (the SDK never changes an attributes object it holds). */
  attributes(attributes: Attributes): string {
    const cached = this.#byObject.get(attributes);
    if (cached !== undefined) return cached;
    let out = "";
    for (const key in attributes) {
      if (!Object.hasOwn(attributes, key)) continue;
      out += `${out === "" ? "" : ","}${this.pair(key, attributes[key])}`;
    }
    this.#byObject.set(attributes, out);
    return out;
  }

  /** The otel_scope_* labels the library adds to every sample. */
  scope(scope: Scope): string {
    let out = this.pair("otel_scope_name", scope.name);
    if (scope.schemaUrl) out += `,${this.pair("otel_scope_schema_url", scope.schemaUrl)}`;
    if (scope.version) out += `,${this.pair("otel_scope_version", scope.version)}`;
    return out;
  }
}

function escapeValue(text: string): string {
  return escapeString(text).replace(/"/g, '\\"');
}

function* writeFamily(
  name: string,
  metric: MetricData,
  scope: Scope,
  labels: LabelWriter,
  linesPerPiece: number,
): Pieces {
  const { description, unit } = metric.descriptor;
  let text = `# HELP ${name} ${escapeString(description || "description missing")}\n`;
  if (unit) text += `# UNIT ${name} ${escapeString(unit)}\n`;
  text += `# TYPE ${name} ${typeOf(metric)}\n`;
  const scopeLabels = labels.scope(scope);
  let lines = 0;
  if (metric.dataPointType === DataPointType.HISTOGRAM) {
    for (const point of metric.dataPoints) {
      const own = labels.attributes(point.attributes);
      const all = own === "" ? scopeLabels : `${own},${scopeLabels}`;
      const h = point.value;
      if (h.count != null) text += `${name}_count{${all}} ${valueString(h.count)}\n`;
      if (h.sum != null) text += `${name}_sum{${all}} ${valueString(h.sum)}\n`;
      let cumulative = 0;
      let infinityDefined = false;
      const { boundaries, counts } = h.buckets;
      for (let i = 0; i < counts.length; i++) {
        cumulative += counts[i]!;
        const upper = boundaries[i];
        if (upper === undefined && infinityDefined) break;
        if (upper === Infinity) infinityDefined = true;
        const le = upper === undefined || upper === Infinity ? "+Inf" : String(upper);
        text += `${name}_bucket{${all},le="${le}"} ${cumulative}\n`;
      }
      lines += counts.length + 2;
      if (lines >= linesPerPiece) {
        yield text;
        text = "";
        lines = 0;
      }
    }
  } else {
    for (const point of metric.dataPoints) {
      const own = labels.attributes(point.attributes);
      text += `${name}{${own === "" ? scopeLabels : `${own},${scopeLabels}`}} ${valueString(point.value as number)}\n`;
      if (++lines >= linesPerPiece) {
        yield text;
        text = "";
        lines = 0;
      }
    }
  }
  yield text;
}
