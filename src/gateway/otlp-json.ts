/**
 * OTLP/JSON (`application/json`) request → the protobuf bytes of the same request, so one scanner
 * and one forward path serve both encodings. Driven by the field table (otlp-fields.ts), following
 * the OTLP JSON encoding (opentelemetry-proto v1.7.0, docs/specification.md "JSON Protobuf
 * Encoding"): lowerCamelCase keys, trace/span ids as hex, 64-bit integers as decimal strings or
 * numbers, enums as integers, `bytesValue` as base64, unknown keys ignored. A malformed id is not a
 * 400: it becomes an empty id, which the scanner rejects through partial_success like the same span
 * sent in protobuf. `gateway.limits` are checked as in the protobuf scanner: too many spans → 413
 * before anything is converted, a span over a per-span limit is left out and counted as rejected.
 */
import { Co2eError, ERROR_CODES } from "../errors.ts";
import { LimitError, type RequestLimits, SpanBudget, UNBOUNDED_LIMITS } from "./limits.ts";
import { type FieldSpec, isMessageType, type MessageName, OTLP, type ScalarType } from "./otlp-fields.ts";
import { runAtOnce } from "./slices.ts";
import { Encoder } from "./wire.ts";

type Json = Record<string, unknown>;

function fail(path: string, reason: string): never {
  throw new Co2eError(ERROR_CODES.otlpDecode, `invalid OTLP JSON at ${path}: ${reason}`);
}

function obj(value: unknown, path: string): Json | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) fail(path, "expected an object");
  return value as Json;
}

function arr(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(path, "expected an array");
  return value;
}

function str(value: unknown, path: string): string {
  if (typeof value !== "string") fail(path, "expected a string");
  return value;
}

const INT_RE = /^-?\d{1,20}$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** A 64-bit integer given as a number or a decimal string, inside [min, max]. */
function int64(value: unknown, path: string, min: bigint, max: bigint): bigint {
  let n: bigint;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) fail(path, `expected an integer, got ${value}`);
    n = BigInt(value);
  } else if (typeof value === "string" && INT_RE.test(value)) n = BigInt(value);
  else return fail(path, "expected an integer or a decimal string");
  if (n < min || n > max) fail(path, `integer ${value} outside the 64-bit range [${min}, ${max}]`);
  return n;
}

function uint32(value: unknown, path: string): number {
  const n = typeof value === "string" && INT_RE.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 0xffffffff)
    fail(path, "expected a uint32");
  return n;
}

/** Enums are integers in OTLP JSON. */
function enumValue(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    fail(path, "expected an enum integer");
  }
  return value;
}

const HEX_RE = /^[0-9a-fA-F]*$/;

/** Hex id → bytes; a malformed id becomes empty bytes (rejected later, per span). */
function hexId(value: unknown, path: string): Uint8Array {
  const s = str(value, path);
  if (s.length % 2 !== 0 || !HEX_RE.test(s)) return new Uint8Array(0);
  return Uint8Array.from(Buffer.from(s, "hex"));
}

function double(value: unknown, path: string): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return Number.NaN;
  if (value === "Infinity") return Number.POSITIVE_INFINITY;
  if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)))
    return Number(value);
  return fail(path, "expected a number");
}

/** Bytes of a string in UTF-8, computed only when its length leaves the answer open. */
function checkLength(s: string, budget: SpanBudget): void {
  const max = budget.limits.maxAttributeValueBytes;
  if (s.length > max) budget.length(s.length);
  else if (s.length * 3 > max) budget.length(Buffer.byteLength(s, "utf8"));
}

/**
 * Writes one scalar field. Inside a oneof (AnyValue) the value is written even when it is the
 * default, because which field is set is the value's type; elsewhere defaults are left out, as a
 * protobuf encoder does.
 */
function scalar(
  e: Encoder,
  f: FieldSpec,
  type: ScalarType,
  value: unknown,
  path: string,
  budget: SpanBudget,
  oneof: boolean,
): void {
  switch (type) {
    case "string": {
      const s = str(value, path);
      if (oneof) checkLength(s, budget);
      if (s || oneof) e.string(f.no, s);
      return;
    }
    case "bool":
      if (typeof value !== "boolean") fail(path, "expected a boolean");
      if (value || oneof) e.bool(f.no, value);
      return;
    case "int64":
      e.int64(f.no, int64(value, path, INT64_MIN, INT64_MAX));
      return;
    case "double":
      e.double(f.no, double(value, path));
      return;
    case "bytes": {
      const bytes = Uint8Array.from(Buffer.from(str(value, path), "base64"));
      budget.length(bytes.length);
      e.bytes(f.no, bytes);
      return;
    }
    case "hexId": {
      const bytes = hexId(value, path);
      if (bytes.length) e.bytes(f.no, bytes);
      return;
    }
    case "uint32": {
      const n = uint32(value, path);
      if (n) e.uint(f.no, n);
      return;
    }
    case "fixed32": {
      const n = uint32(value, path);
      if (n) e.fixed32(f.no, n);
      return;
    }
    case "enum":
    case "int32": {
      const n = enumValue(value, path);
      if (n) e.uint(f.no, n);
      return;
    }
    case "fixed64": {
      const n = int64(value, path, 0n, UINT64_MAX);
      if (n !== 0n) e.fixed64(f.no, n);
      return;
    }
  }
}

/** Converts one message; `nest` counts array/kvlist levels inside an attribute value. */
function message(type: MessageName, value: Json, path: string, budget: SpanBudget, nest: number): Encoder {
  const e = new Encoder();
  const oneof = type === "AnyValue";
  for (const f of Object.values(OTLP[type]) as FieldSpec[]) {
    const v = value[f.json];
    if (v === undefined || v === null) continue;
    const p = `${path}.${f.json}`;
    if (isMessageType(f.type)) {
      const child = f.type;
      const deeper = child === "ArrayValue" || child === "KeyValueList" ? nest + 1 : nest;
      if (deeper !== nest) budget.depth(deeper);
      if (f.repeated) {
        const items = arr(v, p);
        items.forEach((item, i) => {
          if (child === "KeyValue" || type === "ArrayValue") budget.value();
          e.message(f.no, message(child, obj(item, `${p}[${i}]`) ?? {}, `${p}[${i}]`, budget, deeper));
        });
      } else {
        const o = obj(v, p);
        if (o) e.message(f.no, message(child, o, p, budget, deeper));
      }
    } else scalar(e, f, f.type, v, p, budget, oneof);
    if (oneof) break; // the first field set is the value
  }
  return e;
}

export interface JsonRequest {
  /** The request as protobuf bytes (spans over a limit left out). */
  bytes: Uint8Array;
  /** Spans left out for a per-span limit, and why (first few reasons). */
  rejectedSpans: number;
  rejectReasons: string[];
}

function parse(text: string): Json {
  let root: unknown;
  try {
    // A UTF-8 byte order mark is allowed before JSON text (RFC 8259 §8.1: a parser may ignore it).
    root = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new Co2eError(ERROR_CODES.otlpDecode, `invalid JSON: ${(error as Error).message}`);
  }
  const top = obj(root, "(root)");
  if (!top) fail("(root)", "expected an object");
  return top;
}

/** Conversion of a parsed document, yielding after each span (see slices.ts). */
export function* jsonRequestSteps(text: string, limits: RequestLimits): Generator<void, JsonRequest> {
  const top = parse(text);
  const budget = new SpanBudget(limits);
  const resourceSpans = arr(top.resourceSpans, "resourceSpans");
  // Count first: a request over the span limit is refused before any span is converted.
  let spanCount = 0;
  resourceSpans.forEach((rs, i) => {
    arr(obj(rs, `resourceSpans[${i}]`)?.scopeSpans, `resourceSpans[${i}].scopeSpans`).forEach((ss, j) => {
      const path = `resourceSpans[${i}].scopeSpans[${j}]`;
      spanCount += arr(obj(ss, path)?.spans, `${path}.spans`).length;
    });
  });
  budget.spans(spanCount);
  const out: JsonRequest = { bytes: new Uint8Array(0), rejectedSpans: 0, rejectReasons: [] };
  const req = new Encoder();
  const F = OTLP.ResourceSpans;
  const S = OTLP.ScopeSpans;
  for (const [i, rsValue] of resourceSpans.entries()) {
    const p = `resourceSpans[${i}]`;
    const rs = obj(rsValue, p) ?? {};
    const rse = new Encoder();
    const resource = obj(rs[F.resource.json], `${p}.resource`);
    budget.reset();
    if (resource) rse.message(F.resource.no, message("Resource", resource, `${p}.resource`, budget, 0));
    for (const [j, ssValue] of arr(rs[F.scopeSpans.json], `${p}.scopeSpans`).entries()) {
      const sp = `${p}.scopeSpans[${j}]`;
      const ss = obj(ssValue, sp) ?? {};
      const sse = new Encoder();
      const scope = obj(ss[S.scope.json], `${sp}.scope`);
      budget.reset();
      if (scope) sse.message(S.scope.no, message("InstrumentationScope", scope, `${sp}.scope`, budget, 0));
      for (const [k, spanValue] of arr(ss[S.spans.json], `${sp}.spans`).entries()) {
        const path = `${sp}.spans[${k}]`;
        budget.reset();
        try {
          sse.message(S.spans.no, message("Span", obj(spanValue, path) ?? {}, path, budget, 0));
        } catch (error) {
          if (!(error instanceof LimitError)) throw error;
          out.rejectedSpans++;
          if (out.rejectReasons.length < 3 && !out.rejectReasons.includes(error.message))
            out.rejectReasons.push(error.message);
        }
        yield;
      }
      const schemaUrl = ss[S.schemaUrl.json];
      if (schemaUrl !== undefined && schemaUrl !== null)
        scalar(sse, S.schemaUrl, "string", schemaUrl, `${sp}.schemaUrl`, budget, false);
      rse.message(F.scopeSpans.no, sse);
    }
    const schemaUrl = rs[F.schemaUrl.json];
    if (schemaUrl !== undefined && schemaUrl !== null)
      scalar(rse, F.schemaUrl, "string", schemaUrl, `${p}.schemaUrl`, budget, false);
    req.message(OTLP.ExportTraceServiceRequest.resourceSpans.no, rse);
  }
  out.bytes = req.finish();
  return out;
}

/** Parses an OTLP/JSON body and returns the equivalent protobuf request bytes (no limits unless given). */
export function jsonToProto(text: string, limits: RequestLimits = UNBOUNDED_LIMITS): Uint8Array {
  return runAtOnce(jsonRequestSteps(text, limits)).bytes;
}
