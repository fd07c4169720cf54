/**
 * Scanner for `ExportTraceServiceRequest` in protobuf, following the OTLP specification
 * (opentelemetry-proto v1.x; field numbers checked against v1.7.0): collector/trace/v1
 * `ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1 }`, trace/v1
 * `ResourceSpans { resource = 1; repeated ScopeSpans scope_spans = 2; schema_url = 3 }`,
 * `ScopeSpans { scope = 1; repeated Span spans = 2; schema_url = 3 }` and `Span` (trace_id = 1,
 * span_id = 2, start/end_time_unix_nano = 7/8 fixed64, attributes = 9, status = 15 with
 * code = 3). Every byte is checked (tags, wire types, lengths, nested messages) so a malformed body
 * is a 400 naming the offset and field; but only job spans are decoded into objects: the others
 * are kept as byte ranges and forwarded exactly as received.
 */
import type { Attributes, AttributeValue } from "@opentelemetry/api";
import { isJobSpan } from "../core/job-record.ts";
import { ATTR_JOB_NAME } from "../semconv.ts";
import { DecodeError, Reader, utf8, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT } from "./wire.ts";

/** [wire type, nested message name or null, field name] per field number. */
type FieldSpec = readonly [number, string | null, string];
const MESSAGES: Record<string, Record<number, FieldSpec>> = {
  KeyValue: { 1: [WIRE_LEN, null, "key"], 2: [WIRE_LEN, "AnyValue", "value"] },
  AnyValue: {
    1: [WIRE_LEN, null, "string_value"],
    2: [WIRE_VARINT, null, "bool_value"],
    3: [WIRE_VARINT, null, "int_value"],
    4: [WIRE_I64, null, "double_value"],
    5: [WIRE_LEN, "ArrayValue", "array_value"],
    6: [WIRE_LEN, "KeyValueList", "kvlist_value"],
    7: [WIRE_LEN, null, "bytes_value"],
  },
  ArrayValue: { 1: [WIRE_LEN, "AnyValue", "values"] },
  KeyValueList: { 1: [WIRE_LEN, "KeyValue", "values"] },
  Resource: { 1: [WIRE_LEN, "KeyValue", "attributes"], 2: [WIRE_VARINT, null, "dropped_attributes_count"] },
  InstrumentationScope: {
    1: [WIRE_LEN, null, "name"],
    2: [WIRE_LEN, null, "version"],
    3: [WIRE_LEN, "KeyValue", "attributes"],
    4: [WIRE_VARINT, null, "dropped_attributes_count"],
  },
  Event: {
    1: [WIRE_I64, null, "time_unix_nano"],
    2: [WIRE_LEN, null, "name"],
    3: [WIRE_LEN, "KeyValue", "attributes"],
    4: [WIRE_VARINT, null, "dropped_attributes_count"],
  },
  Link: {
    1: [WIRE_LEN, null, "trace_id"],
    2: [WIRE_LEN, null, "span_id"],
    3: [WIRE_LEN, null, "trace_state"],
    4: [WIRE_LEN, "KeyValue", "attributes"],
    5: [WIRE_VARINT, null, "dropped_attributes_count"],
    6: [WIRE_I32, null, "flags"],
  },
  Status: { 2: [WIRE_LEN, null, "message"], 3: [WIRE_VARINT, null, "code"] },
};

/** AnyValue may nest arrays and kvlists; a body nesting deeper than this is rejected. */
const MAX_DEPTH = 32;

function wrongWire(r: Reader, at: number, path: string, wire: number, expected: number): never {
  void r;
  throw new DecodeError(at, path, `wire type ${wire}, expected ${expected}`);
}

/** Walks a message of a known type, checking every field; unknown fields are skipped. */
function validate(r: Reader, end: number, type: string, path: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new DecodeError(r.pos, path, "nesting too deep");
  const spec = MESSAGES[type]!;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.varint(end, path);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) throw new DecodeError(at, path, "field number 0");
    const f = spec[field];
    if (!f) {
      r.skip(wire, end, path);
      continue;
    }
    if (wire !== f[0]) wrongWire(r, at, `${path}.${f[2]}`, wire, f[0]);
    if (f[1]) {
      const stop = r.lengthDelimited(end, `${path}.${f[2]}`);
      validate(r, stop, f[1], `${path}.${f[2]}`, depth + 1);
      r.pos = stop;
    } else r.skip(wire, end, `${path}.${f[2]}`);
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

/** Decodes a primitive (or array of primitives) AnyValue; kvlists and bytes give undefined. */
export function decodeAnyValue(r: Reader, end: number, path: string): AttributeValue | undefined {
  let value: AttributeValue | undefined;
  while (r.pos < end) {
    const tag = r.varint(end, path);
    const field = tag >>> 3;
    switch (field) {
      case 1: {
        const stop = r.lengthDelimited(end, path);
        value = utf8(r.buf, r.pos, stop);
        r.pos = stop;
        break;
      }
      case 2:
        value = r.varint(end, path) !== 0;
        break;
      case 3:
        value = r.int64(end, path);
        break;
      case 4:
        value = r.double(end, path);
        break;
      case 5: {
        const stop = r.lengthDelimited(end, path);
        const items: (string | number | boolean)[] = [];
        while (r.pos < stop) {
          const t = r.varint(stop, path);
          if (t >>> 3 === 1 && (t & 7) === WIRE_LEN) {
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
    if (tag >>> 3 === 1) key = utf8(r.buf, r.pos, stop);
    else if (tag >>> 3 === 2) value = decodeAnyValue(r, stop, path);
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

/** Scans one Span body; returns a rejection reason, a JobSpanRef, or null for a plain span. */
function scanSpan(r: Reader, end: number, resourceIndex: number): string | JobSpanRef | null {
  const buf = r.buf;
  const bodyStart = r.pos;
  let traceOk = false;
  let spanOk = false;
  let startNs = 0;
  let endNs = 0;
  let statusCode = 0;
  let job = false;
  let attrFields: number[] | undefined;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.varint(end, SPAN_PATH);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    switch (field) {
      case 1:
      case 2:
      case 4: {
        const name = field === 1 ? "trace_id" : field === 2 ? "span_id" : "parent_span_id";
        if (wire !== WIRE_LEN) wrongWire(r, at, `${SPAN_PATH}.${name}`, wire, WIRE_LEN);
        const stop = r.lengthDelimited(end, `${SPAN_PATH}.${name}`);
        const len = stop - r.pos;
        if (field === 1) traceOk = len === 16 && !allZero(buf, r.pos, stop);
        else if (field === 2) spanOk = len === 8 && !allZero(buf, r.pos, stop);
        r.pos = stop;
        break;
      }
      case 7:
      case 8: {
        if (wire !== WIRE_I64)
          wrongWire(r, at, `${SPAN_PATH}.${field === 7 ? "start" : "end"}_time_unix_nano`, wire, WIRE_I64);
        const ns = r.fixed64(end, SPAN_PATH);
        if (field === 7) startNs = ns;
        else endNs = ns;
        break;
      }
      case 9: {
        const path = `${SPAN_PATH}.attributes`;
        if (wire !== WIRE_LEN) wrongWire(r, at, path, wire, WIRE_LEN);
        const stop = r.lengthDelimited(end, path);
        // KeyValue: find the key, validate the value.
        while (r.pos < stop) {
          const kvAt = r.pos;
          const kvTag = r.varint(stop, path);
          const kvField = Math.floor(kvTag / 8);
          const kvWire = kvTag & 7;
          if (kvField === 1 || kvField === 2) {
            if (kvWire !== WIRE_LEN)
              wrongWire(r, kvAt, `${path}.${kvField === 1 ? "key" : "value"}`, kvWire, WIRE_LEN);
            const s = r.lengthDelimited(stop, path);
            if (kvField === 1) {
              if (isJobNameKey(buf, r.pos, s)) job = true;
              r.pos = s;
            } else {
              validate(r, s, "AnyValue", `${path}.value`, 1);
              r.pos = s;
            }
          } else if (kvField === 0) throw new DecodeError(kvAt, path, "field number 0");
          else r.skip(kvWire, stop, path);
        }
        if (!attrFields) attrFields = [];
        attrFields.push(at, stop);
        break;
      }
      case 11:
      case 13:
      case 15: {
        const type = field === 11 ? "Event" : field === 13 ? "Link" : "Status";
        const path = `${SPAN_PATH}.${field === 11 ? "events" : field === 13 ? "links" : "status"}`;
        if (wire !== WIRE_LEN) wrongWire(r, at, path, wire, WIRE_LEN);
        const stop = r.lengthDelimited(end, path);
        if (field === 15) {
          const s = r.pos;
          validate(r, stop, type, path, 1);
          r.pos = s;
          while (r.pos < stop) {
            const t = r.varint(stop, path);
            if (t === 3 * 8 + WIRE_VARINT) statusCode = r.varint(stop, path);
            else r.skip(t & 7, stop, path);
          }
        } else validate(r, stop, type, path, 1);
        r.pos = stop;
        break;
      }
      case 0:
        throw new DecodeError(at, SPAN_PATH, "field number 0");
      case 3:
      case 5:
        if (wire !== WIRE_LEN)
          wrongWire(r, at, `${SPAN_PATH}.${field === 3 ? "trace_state" : "name"}`, wire, WIRE_LEN);
        r.skip(wire, end, SPAN_PATH);
        break;
      case 6:
      case 10:
      case 12:
      case 14:
        if (wire !== WIRE_VARINT) wrongWire(r, at, `${SPAN_PATH} field ${field}`, wire, WIRE_VARINT);
        r.skip(wire, end, SPAN_PATH);
        break;
      case 16:
        if (wire !== WIRE_I32) wrongWire(r, at, `${SPAN_PATH}.flags`, wire, WIRE_I32);
        r.skip(wire, end, SPAN_PATH);
        break;
      default:
        r.skip(wire, end, SPAN_PATH);
    }
  }
  if (!traceOk) return "invalid trace_id (must be 16 bytes, not all zero)";
  if (!spanOk) return "invalid span_id (must be 8 bytes, not all zero)";
  if (!job) return null;
  // A job span: decode its attributes (only these spans pay for objects).
  const attributes: Attributes = {};
  const attributeFields: JobSpanRef["attributeFields"] = [];
  const fields = attrFields ?? [];
  for (let i = 0; i < fields.length; i += 2) {
    const fieldStart = fields[i]!;
    const fieldEnd = fields[i + 1]!;
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

function scanScope(
  r: Reader,
  end: number,
  resourceIndex: number,
  req: ParsedRequest,
  scope: ParsedScope,
): void {
  const path = "resource_spans.scope_spans";
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.varint(end, path);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) throw new DecodeError(at, path, "field number 0");
    if (field === 2) {
      if (wire !== WIRE_LEN) wrongWire(r, at, SPAN_PATH, wire, WIRE_LEN);
      const stop = r.lengthDelimited(end, SPAN_PATH);
      const index = scope.spans.length / 2;
      scope.spans.push(at, stop);
      req.spanCount++;
      const result = scanSpan(r, stop, resourceIndex);
      if (typeof result === "string") {
        scope.special.set(index, REJECTED);
        req.rejectedSpans++;
        noteReason(req, result);
      } else if (result) {
        scope.special.set(index, result);
        req.jobSpans.push(result);
      }
      r.pos = stop;
      continue;
    }
    if (field === 1) {
      if (wire !== WIRE_LEN) wrongWire(r, at, `${path}.scope`, wire, WIRE_LEN);
      const stop = r.lengthDelimited(end, `${path}.scope`);
      validate(r, stop, "InstrumentationScope", `${path}.scope`, 1);
      r.pos = stop;
    } else if (field === 3 && wire !== WIRE_LEN) wrongWire(r, at, `${path}.schema_url`, wire, WIRE_LEN);
    else r.skip(wire, end, path);
  }
}

function scanResourceSpans(
  r: Reader,
  end: number,
  index: number,
  req: ParsedRequest,
  rs: ParsedResource,
): void {
  const path = "resource_spans";
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.varint(end, path);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) throw new DecodeError(at, path, "field number 0");
    if (field === 2) {
      if (wire !== WIRE_LEN) wrongWire(r, at, `${path}.scope_spans`, wire, WIRE_LEN);
      const stop = r.lengthDelimited(end, `${path}.scope_spans`);
      const scope: ParsedScope = {
        fieldStart: at,
        fieldEnd: stop,
        spans: [],
        special: new Map(),
      };
      scanScope(r, stop, index, req, scope);
      rs.scopes.push(scope);
      r.pos = stop;
      continue;
    }
    if (field === 1) {
      if (wire !== WIRE_LEN) wrongWire(r, at, `${path}.resource`, wire, WIRE_LEN);
      const stop = r.lengthDelimited(end, `${path}.resource`);
      rs.resourceStart = r.pos;
      rs.resourceEnd = stop;
      validate(r, stop, "Resource", `${path}.resource`, 1);
      r.pos = stop;
    } else if (field === 3 && wire !== WIRE_LEN) wrongWire(r, at, `${path}.schema_url`, wire, WIRE_LEN);
    else r.skip(wire, end, path);
  }
}

/** Scans a whole request. Throws DecodeError (→ 400) for any malformed byte. */
export function scanRequest(buf: Uint8Array): ParsedRequest {
  const req: ParsedRequest = {
    buf,
    resources: [],
    jobSpans: [],
    spanCount: 0,
    rejectedSpans: 0,
    rejectReasons: [],
  };
  const r = new Reader(buf);
  const end = buf.length;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.varint(end, "request");
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) throw new DecodeError(at, "request", "field number 0");
    if (field !== 1) {
      // Unknown top-level fields carry nothing the gateway forwards.
      r.skip(wire, end, "request");
      continue;
    }
    if (wire !== WIRE_LEN) wrongWire(r, at, "resource_spans", wire, WIRE_LEN);
    const stop = r.lengthDelimited(end, "resource_spans");
    const rs: ParsedResource = {
      fieldStart: at,
      fieldEnd: stop,
      resourceStart: 0,
      resourceEnd: 0,
      scopes: [],
    };
    scanResourceSpans(r, stop, req.resources.length, req, rs);
    req.resources.push(rs);
    r.pos = stop;
  }
  return req;
}

/** Resource attributes of one ResourceSpans (decoded on demand: only when it holds job spans). */
export function resourceAttributes(req: ParsedRequest, index: number): Attributes {
  const rs = req.resources[index]!;
  return decodeAttributes(req.buf, rs.resourceStart, rs.resourceEnd, 1);
}
