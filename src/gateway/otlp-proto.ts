/**
 * Scanner for `ExportTraceServiceRequest` in protobuf; field numbers and wire types come from the
 * table in otlp-fields.ts (opentelemetry-proto v1.7.0). Every byte is checked (tags, wire types,
 * lengths, nested messages) so a malformed body is a 400 naming the offset and field; but only job
 * spans are decoded into objects: the others are kept as byte ranges and forwarded exactly as
 * received. The limits of `gateway.limits` are checked as the bytes are walked, so a request over
 * one is refused (or its span rejected) before any work depends on it. The scan is a generator that
 * yields after every few spans, so the gateway can run it in slices (slices.ts).
 */
import type { Attributes, AttributeValue } from "@opentelemetry/api";
import { isJobSpan } from "../core/job-record.ts";
import { ATTR_JOB_NAME } from "../semconv.ts";
import { LimitError, type RequestLimits, SpanBudget, UNBOUNDED_LIMITS } from "./limits.ts";
import {
  type FieldSpec,
  fieldsByNumber,
  isMessageType,
  type MessageName,
  OTLP,
  tagOf,
} from "./otlp-fields.ts";
import { runAtOnce } from "./slices.ts";
import { DecodeError, Reader, utf8, WIRE_I64, WIRE_LEN, WIRE_VARINT } from "./wire.ts";

const F_SPAN = OTLP.Span;
const F_ANY = OTLP.AnyValue;
const F_KV = OTLP.KeyValue;

function wrongWire(at: number, path: string, wire: number, expected: number): never {
  throw new DecodeError(at, path, `wire type ${wire}, expected ${expected}`);
}

/** Array and kvlist values: each level counts against gateway.limits.maxNestingDepth. */
const NESTING: ReadonlySet<MessageName> = new Set(["ArrayValue", "KeyValueList"]);

/**
 * Walks a message of a known type, checking every field and the budget (attribute values,
 * value length, nesting); unknown fields are skipped.
 */
function validate(
  r: Reader,
  end: number,
  type: MessageName,
  path: string,
  nest: number,
  budget: SpanBudget,
): void {
  const spec = fieldsByNumber(type);
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.varint(end, path);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) throw new DecodeError(at, path, "field number 0");
    const f = spec.get(field);
    if (!f) {
      r.skip(wire, end, path);
      continue;
    }
    const fieldPath = `${path}.${f.proto}`;
    if (wire !== f.wire) wrongWire(at, fieldPath, wire, f.wire);
    if (isMessageType(f.type)) {
      const stop = r.lengthDelimited(end, fieldPath);
      if (f.type === "KeyValue" || (type === "ArrayValue" && f.type === "AnyValue")) budget.value();
      const deeper = NESTING.has(f.type) ? nest + 1 : nest;
      if (deeper !== nest) budget.depth(deeper);
      validate(r, stop, f.type, fieldPath, deeper, budget);
      r.pos = stop;
    } else if (type === "AnyValue" && f.wire === WIRE_LEN) {
      const stop = r.lengthDelimited(end, fieldPath);
      budget.length(stop - r.pos);
      r.pos = stop;
    } else r.skip(wire, end, fieldPath);
  }
}

const JOB_NAME_BYTES = new TextEncoder().encode(ATTR_JOB_NAME);

function isJobNameKey(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start !== JOB_NAME_BYTES.length) return false;
  for (let i = 0; i < JOB_NAME_BYTES.length; i++) if (buf[start + i] !== JOB_NAME_BYTES[i]) return false;
  return true;
}

function allZero(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/** A span with `job.name`, decoded enough for enrichment. */
export interface JobSpanRef {
  /** Index of its ResourceSpans in the request. */
  resourceIndex: number;
  bodyStart: number;
  bodyEnd: number;
  attributes: Attributes;
  /** Attribute fields as [fieldStart, fieldEnd, key] in body order, to drop replaced keys. */
  attributeFields: { start: number; end: number; key: string }[];
  startMs: number;
  endMs: number;
  isError: boolean;
  /** Attributes to add (replacing same-named ones); set by enrichment. */
  added?: Attributes;
}

export const REJECTED = "rejected" as const;

export interface ParsedScope {
  fieldStart: number;
  fieldEnd: number;
  /** Span fields as [start, end) pairs (tag included). */
  spans: number[];
  /** Spans that are not forwarded verbatim, by span index. */
  special: Map<number, JobSpanRef | typeof REJECTED>;
}

export interface ParsedResource {
  fieldStart: number;
  fieldEnd: number;
  /** Resource message body, when present. */
  resourceStart: number;
  resourceEnd: number;
  scopes: ParsedScope[];
}

export interface ParsedRequest {
  buf: Uint8Array;
  resources: ParsedResource[];
  jobSpans: JobSpanRef[];
  spanCount: number;
  rejectedSpans: number;
  /** First rejection reasons (for partial_success.error_message). */
  rejectReasons: string[];
}

const noteReason = (req: ParsedRequest, reason: string): void => {
  if (req.rejectReasons.length < 3 && !req.rejectReasons.includes(reason)) req.rejectReasons.push(reason);
};

/** Strings up to this many bytes go through the interning tables below. */
const INTERN_MAX_BYTES = 64;
/** Slots per table (a power of two). */
const INTERN_SLOTS = 1024;

/**
 * A direct-mapped table of decoded strings by their bytes: job spans repeat the same attribute
 * keys and many values (job names, zones), so decoding them again is saved, and equal keys are
 * the same string (cheaper as property names). A slot holds the last string hashed to it, so
 * the memory is bounded whatever a client sends; a miss costs a decode, as without the table.
 */
class StringTable {
  readonly #bytes: (Uint8Array | undefined)[] = new Array(INTERN_SLOTS);
  readonly #strings: string[] = new Array(INTERN_SLOTS).fill("");

  get(buf: Uint8Array, start: number, end: number): string {
    const len = end - start;
    if (len > INTERN_MAX_BYTES) return utf8(buf, start, end);
    let h = len;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 16777619);
    const slot = (h >>> 0) & (INTERN_SLOTS - 1);
    const known = this.#bytes[slot];
    if (known && known.length === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (known[i] !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#strings[slot]!;
    }
    const str = utf8(buf, start, end);
    this.#bytes[slot] = buf.slice(start, end);
    this.#strings[slot] = str;
    return str;
  }
}

const KEYS = new StringTable();
const VALUES = new StringTable();

/** Decodes a primitive (or array of primitives) AnyValue; kvlists and bytes give undefined. */
export function decodeAnyValue(r: Reader, end: number, path: string): AttributeValue | undefined {
  let value: AttributeValue | undefined;
  while (r.pos < end) {
    const tag = r.varint(end, path);
    switch (tag >>> 3) {
      case F_ANY.stringValue.no: {
        const stop = r.lengthDelimited(end, path);
        value = VALUES.get(r.buf, r.pos, stop);
        r.pos = stop;
        break;
      }
      case F_ANY.boolValue.no:
        value = r.varint(end, path) !== 0;
        break;
      case F_ANY.intValue.no:
        value = r.int64(end, `${path}.${F_ANY.intValue.proto}`);
        break;
      case F_ANY.doubleValue.no:
        value = r.double(end, path);
        break;
      case F_ANY.arrayValue.no: {
        const stop = r.lengthDelimited(end, path);
        const items: (string | number | boolean)[] = [];
        while (r.pos < stop) {
          const t = r.varint(stop, path);
          if (t >>> 3 === OTLP.ArrayValue.values.no && (t & 7) === WIRE_LEN) {
            const s = r.lengthDelimited(stop, path);
            const item = decodeAnyValue(r, s, path);
            if (typeof item === "string" || typeof item === "number" || typeof item === "boolean")
              items.push(item);
            r.pos = s;
          } else r.skip(t & 7, stop, path);
        }
        value = items as AttributeValue;
        break;
      }
      default:
        r.skip(tag & 7, end, path);
        value = undefined;
    }
  }
  return value;
}

/** Decodes a KeyValue body into key and value. */
function decodeKeyValue(r: Reader, end: number, path: string): [string, AttributeValue | undefined] {
  let key = "";
  let value: AttributeValue | undefined;
  while (r.pos < end) {
    const tag = r.varint(end, path);
    const stop = (tag & 7) === WIRE_LEN ? r.lengthDelimited(end, path) : -1;
    if (stop < 0) {
      r.skip(tag & 7, end, path);
      continue;
    }
    if (tag >>> 3 === F_KV.key.no) key = KEYS.get(r.buf, r.pos, stop);
    else if (tag >>> 3 === F_KV.value.no) value = decodeAnyValue(r, stop, path);
    r.pos = stop;
  }
  return [key, value];
}

/** Attributes of a message whose field `field` is `repeated KeyValue` (Resource: 1). */
export function decodeAttributes(buf: Uint8Array, start: number, end: number, field: number): Attributes {
  const out: Attributes = {};
  if (end <= start) return out;
  const r = new Reader(buf);
  r.pos = start;
  while (r.pos < end) {
    const tag = r.varint(end, "attributes");
    if (tag >>> 3 === field && (tag & 7) === WIRE_LEN) {
      const stop = r.lengthDelimited(end, "attributes");
      const [key, value] = decodeKeyValue(r, stop, "attributes");
      if (value !== undefined) out[key] = value;
      r.pos = stop;
    } else r.skip(tag & 7, end, "attributes");
  }
  return out;
}

const SPAN_PATH = "resource_spans.scope_spans.spans";
const ATTR_FIELDS: number[] = [];
const SPAN_FIELDS = fieldsByNumber("Span");
/** Span fields by number (an array: this runs for every field of every span). */
const SPAN_FIELD_BY_NO: (FieldSpec | undefined)[] = [];
/** Their error paths, built once instead of per field. */
const SPAN_FIELD_PATH: string[] = [];
for (const [no, f] of SPAN_FIELDS) {
  SPAN_FIELD_BY_NO[no] = f;
  SPAN_FIELD_PATH[no] = `${SPAN_PATH}.${f.proto}`;
}
const ATTR_PATH = `${SPAN_PATH}.${F_SPAN.attributes.proto}`;
const ATTR_KEY_PATH = `${ATTR_PATH}.${F_KV.key.proto}`;
const ATTR_VALUE_PATH = `${ATTR_PATH}.${F_KV.value.proto}`;
const TAG_STRING = F_ANY.stringValue.no * 8 + WIRE_LEN;
const TAG_BYTES = F_ANY.bytesValue.no * 8 + WIRE_LEN;
const TAG_BOOL = F_ANY.boolValue.no * 8 + WIRE_VARINT;
const TAG_INT = F_ANY.intValue.no * 8 + WIRE_VARINT;
const TAG_DOUBLE = F_ANY.doubleValue.no * 8 + WIRE_I64;
const STRING_PATH = `${ATTR_VALUE_PATH}.${F_ANY.stringValue.proto}`;
const BYTES_PATH = `${ATTR_VALUE_PATH}.${F_ANY.bytesValue.proto}`;
const BOOL_PATH = `${ATTR_VALUE_PATH}.${F_ANY.boolValue.proto}`;
const INT_PATH = `${ATTR_VALUE_PATH}.${F_ANY.intValue.proto}`;
const DOUBLE_PATH = `${ATTR_VALUE_PATH}.${F_ANY.doubleValue.proto}`;

const STATUS_PATH = SPAN_FIELD_PATH[F_SPAN.status.no]!;
const TAG_STATUS_CODE = OTLP.Status.code.no * 8 + WIRE_VARINT;
const TAG_STATUS_MESSAGE = OTLP.Status.message.no * 8 + WIRE_LEN;
const STATUS_CODE_PATH = `${STATUS_PATH}.${OTLP.Status.code.proto}`;
const STATUS_MESSAGE_PATH = `${STATUS_PATH}.${OTLP.Status.message.proto}`;

/**
 * Validates a span's Status and returns its code (0 when absent): `code` and `message` checked
 * inline, any other field by the generic walk (same checks and messages), the code then read
 * again from the start.
 */
function scanStatus(r: Reader, end: number, budget: SpanBudget): number {
  const buf = r.buf;
  const start = r.pos;
  let code = 0;
  while (r.pos < end) {
    const tag = buf[r.pos]!;
    if (tag === TAG_STATUS_CODE) {
      r.pos++;
      code = r.varint(end, STATUS_CODE_PATH);
    } else if (tag === TAG_STATUS_MESSAGE) {
      r.pos++;
      r.pos = r.lengthDelimited(end, STATUS_MESSAGE_PATH);
    } else {
      r.pos = start;
      validate(r, end, "Status", STATUS_PATH, 0, budget);
      r.pos = start;
      code = 0;
      while (r.pos < end) {
        const t = r.varint(end, STATUS_PATH);
        if (t === TAG_STATUS_CODE) code = r.varint(end, STATUS_PATH);
        else r.skip(t & 7, end, STATUS_PATH);
      }
      return code;
    }
  }
  return code;
}

/**
 * validate() for a span attribute's AnyValue, with the scalar fields (nearly every value) checked
 * inline; from the first other field on (arrays, kvlists, unknown or malformed fields) the generic
 * walk takes over, so the checks and error messages are the same.
 */
function validateSpanValue(r: Reader, end: number, budget: SpanBudget): void {
  const buf = r.buf;
  while (r.pos < end) {
    const tag = buf[r.pos]!;
    if (tag === TAG_STRING || tag === TAG_BYTES) {
      r.pos++;
      const stop = r.lengthDelimited(end, tag === TAG_STRING ? STRING_PATH : BYTES_PATH);
      budget.length(stop - r.pos);
      r.pos = stop;
    } else if (tag === TAG_INT || tag === TAG_BOOL) {
      r.pos++;
      r.varint(end, tag === TAG_INT ? INT_PATH : BOOL_PATH);
    } else if (tag === TAG_DOUBLE) {
      r.pos++;
      r.skip(WIRE_I64, end, DOUBLE_PATH);
    } else {
      validate(r, end, "AnyValue", ATTR_VALUE_PATH, 0, budget);
      return;
    }
  }
}

/**
 * Scans one Span body; returns a rejection reason, a JobSpanRef, or null for a plain span. A span
 * over a per-span limit throws LimitError (the caller rejects the span).
 */
function scanSpan(
  r: Reader,
  end: number,
  resourceIndex: number,
  budget: SpanBudget,
): string | JobSpanRef | null {
  const buf = r.buf;
  const bodyStart = r.pos;
  let traceOk = false;
  let spanOk = false;
  let startNs = 0;
  let endNs = 0;
  let statusCode = 0;
  let job = false;
  // Attribute field bounds, for a job span only (shared: scanSpan does not nest or pause).
  const attrFields = ATTR_FIELDS;
  attrFields.length = 0;
  budget.reset();
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.varint(end, SPAN_PATH);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) throw new DecodeError(at, SPAN_PATH, "field number 0");
    const f = SPAN_FIELD_BY_NO[field];
    if (!f) {
      r.skip(wire, end, SPAN_PATH);
      continue;
    }
    const path = SPAN_FIELD_PATH[field]!;
    if (wire !== f.wire) wrongWire(at, path, wire, f.wire);
    switch (field) {
      case F_SPAN.traceId.no:
      case F_SPAN.spanId.no: {
        const stop = r.lengthDelimited(end, path);
        const len = stop - r.pos;
        if (field === F_SPAN.traceId.no) traceOk = len === 16 && !allZero(buf, r.pos, stop);
        else spanOk = len === 8 && !allZero(buf, r.pos, stop);
        r.pos = stop;
        break;
      }
      case F_SPAN.startTimeUnixNano.no:
      case F_SPAN.endTimeUnixNano.no: {
        const ns = r.fixed64(end, path);
        if (field === F_SPAN.startTimeUnixNano.no) startNs = ns;
        else endNs = ns;
        break;
      }
      case F_SPAN.attributes.no: {
        const stop = r.lengthDelimited(end, path);
        budget.value();
        // KeyValue: find the key, validate the value.
        while (r.pos < stop) {
          const kvAt = r.pos;
          const kvTag = r.varint(stop, path);
          const kvField = Math.floor(kvTag / 8);
          const kvWire = kvTag & 7;
          if (kvField === F_KV.key.no || kvField === F_KV.value.no) {
            const kvPath = kvField === F_KV.key.no ? ATTR_KEY_PATH : ATTR_VALUE_PATH;
            if (kvWire !== WIRE_LEN) wrongWire(kvAt, kvPath, kvWire, WIRE_LEN);
            const s = r.lengthDelimited(stop, kvPath);
            if (kvField === F_KV.key.no) {
              if (isJobNameKey(buf, r.pos, s)) job = true;
            } else validateSpanValue(r, s, budget);
            r.pos = s;
          } else if (kvField === 0) throw new DecodeError(kvAt, path, "field number 0");
          else r.skip(kvWire, stop, path);
        }
        attrFields.push(at, stop);
        break;
      }
      case F_SPAN.status.no: {
        const stop = r.lengthDelimited(end, path);
        statusCode = scanStatus(r, stop, budget);
        r.pos = stop;
        break;
      }
      case F_SPAN.events.no:
      case F_SPAN.links.no: {
        const stop = r.lengthDelimited(end, path);
        validate(r, stop, f.type as MessageName, path, 0, budget);
        r.pos = stop;
        break;
      }
      default:
        r.skip(wire, end, path);
    }
  }
  if (!traceOk) return "invalid trace_id (must be 16 bytes, not all zero)";
  if (!spanOk) return "invalid span_id (must be 8 bytes, not all zero)";
  if (!job) return null;
  // A job span: decode its attributes (only these spans pay for objects).
  const attributes: Attributes = {};
  const attributeFields: JobSpanRef["attributeFields"] = [];
  for (let i = 0; i < attrFields.length; i += 2) {
    const fieldStart = attrFields[i]!;
    const fieldEnd = attrFields[i + 1]!;
    r.pos = fieldStart;
    r.varint(fieldEnd, SPAN_PATH);
    const stop = r.lengthDelimited(fieldEnd, SPAN_PATH);
    const [key, value] = decodeKeyValue(r, stop, `${SPAN_PATH}.attributes`);
    if (value !== undefined) attributes[key] = value;
    attributeFields.push({ start: fieldStart, end: fieldEnd, key });
  }
  r.pos = end;
  // The byte match on the key above is only a cheap pre-filter (a span without the key is never
  // decoded); the decision is the shared one, on the decoded value, so it cannot drift from the
  // in-process processor's (e.g. a non-string job.name is not a job).
  if (!isJobSpan(attributes)) return null;
  return {
    resourceIndex,
    bodyStart,
    bodyEnd: end,
    attributes,
    attributeFields,
    startMs: startNs / 1e6,
    endMs: endNs / 1e6,
    isError: statusCode === 2,
  };
}

/** Checks the wire type of a known field of a container message and returns its path. */
function containerField(
  type: MessageName,
  at: number,
  field: number,
  wire: number,
  path: string,
): FieldSpec | undefined {
  if (field === 0) throw new DecodeError(at, path, "field number 0");
  const f = fieldsByNumber(type).get(field);
  // Fields of the request itself are named without a prefix ("resource_spans").
  if (f && wire !== f.wire) wrongWire(at, path === "request" ? f.proto : `${path}.${f.proto}`, wire, f.wire);
  return f;
}

const SPANS_TAG = tagOf(OTLP.ScopeSpans.spans);
const SPANS_PER_YIELD = 8;

function* scanScope(
  r: Reader,
  end: number,
  resourceIndex: number,
  req: ParsedRequest,
  scope: ParsedScope,
  budget: SpanBudget,
): Generator<void, void> {
  const path = "resource_spans.scope_spans";
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.varint(end, path);
    // The spans field (nearly every field here) without the table lookup.
    const f =
      tag === SPANS_TAG
        ? OTLP.ScopeSpans.spans
        : containerField("ScopeSpans", at, Math.floor(tag / 8), tag & 7, path);
    if (f === OTLP.ScopeSpans.spans) {
      const stop = r.lengthDelimited(end, SPAN_PATH);
      const index = scope.spans.length / 2;
      scope.spans.push(at, stop);
      budget.spans(++req.spanCount);
      let result: string | JobSpanRef | null;
      try {
        result = scanSpan(r, stop, resourceIndex, budget);
      } catch (error) {
        if (!(error instanceof LimitError)) throw error;
        result = error.message;
      }
      if (typeof result === "string") {
        scope.special.set(index, REJECTED);
        req.rejectedSpans++;
        noteReason(req, result);
      } else if (result) {
        scope.special.set(index, result);
        req.jobSpans.push(result);
      }
      r.pos = stop;
      // A pause point every SPANS_PER_YIELD spans: resuming the generator costs about as much as
      // scanning a small span, and a span's work is bounded by gateway.limits.
      if (req.spanCount % SPANS_PER_YIELD === 0) yield;
      continue;
    }
    if (f === OTLP.ScopeSpans.scope) {
      const stop = r.lengthDelimited(end, `${path}.scope`);
      budget.reset();
      validate(r, stop, "InstrumentationScope", `${path}.scope`, 0, budget);
      r.pos = stop;
    } else r.skip(tag & 7, end, path);
  }
}

function* scanResourceSpans(
  r: Reader,
  end: number,
  index: number,
  req: ParsedRequest,
  rs: ParsedResource,
  budget: SpanBudget,
): Generator<void, void> {
  const path = "resource_spans";
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.varint(end, path);
    const f = containerField("ResourceSpans", at, Math.floor(tag / 8), tag & 7, path);
    if (f === OTLP.ResourceSpans.scopeSpans) {
      const stop = r.lengthDelimited(end, `${path}.scope_spans`);
      const scope: ParsedScope = {
        fieldStart: at,
        fieldEnd: stop,
        spans: [],
        special: new Map(),
      };
      yield* scanScope(r, stop, index, req, scope, budget);
      rs.scopes.push(scope);
      r.pos = stop;
      continue;
    }
    if (f === OTLP.ResourceSpans.resource) {
      const stop = r.lengthDelimited(end, `${path}.resource`);
      rs.resourceStart = r.pos;
      rs.resourceEnd = stop;
      budget.reset();
      validate(r, stop, "Resource", `${path}.resource`, 0, budget);
      r.pos = stop;
    } else r.skip(tag & 7, end, path);
  }
}

/**
 * Scans a whole request, yielding after every SPANS_PER_YIELD spans. Throws DecodeError (→ 400) for any malformed
 * byte, LimitError for a limit broken outside a span (→ 400) or too many spans (→ 413).
 */
export function* scanRequestSteps(buf: Uint8Array, limits: RequestLimits): Generator<void, ParsedRequest> {
  const req: ParsedRequest = {
    buf,
    resources: [],
    jobSpans: [],
    spanCount: 0,
    rejectedSpans: 0,
    rejectReasons: [],
  };
  const budget = new SpanBudget(limits);
  const r = new Reader(buf);
  const end = buf.length;
  const top = OTLP.ExportTraceServiceRequest.resourceSpans;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.varint(end, "request");
    const f = containerField("ExportTraceServiceRequest", at, Math.floor(tag / 8), tag & 7, "request");
    if (f !== top) {
      // Unknown top-level fields carry nothing the gateway forwards.
      r.skip(tag & 7, end, "request");
      continue;
    }
    const stop = r.lengthDelimited(end, top.proto);
    const rs: ParsedResource = {
      fieldStart: at,
      fieldEnd: stop,
      resourceStart: 0,
      resourceEnd: 0,
      scopes: [],
    };
    yield* scanResourceSpans(r, stop, req.resources.length, req, rs, budget);
    req.resources.push(rs);
    r.pos = stop;
  }
  return req;
}

/** Scans a whole request in one go (tests, benchmarks); no limits unless given. */
export function scanRequest(buf: Uint8Array, limits: RequestLimits = UNBOUNDED_LIMITS): ParsedRequest {
  return runAtOnce(scanRequestSteps(buf, limits));
}

/** Resource attributes of one ResourceSpans (decoded on demand: only when it holds job spans). */
export function resourceAttributes(req: ParsedRequest, index: number): Attributes {
  const rs = req.resources[index]!;
  return decodeAttributes(req.buf, rs.resourceStart, rs.resourceEnd, OTLP.Resource.attributes.no);
}
