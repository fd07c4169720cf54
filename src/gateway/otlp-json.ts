/**
 * OTLP/JSON (`application/json`) request → the protobuf bytes of the same request, so one scanner
 * and one forward path serve both encodings. Follows the OTLP JSON encoding (opentelemetry-proto
 * v1.x, docs/specification.md "JSON Protobuf Encoding"): lowerCamelCase keys, trace/span ids as
 * hex, 64-bit integers as decimal strings or numbers, enums as integers, `bytesValue` as base64,
 * unknown keys ignored. A malformed id is not a 400: it becomes an empty id, which the scanner
 * rejects through partial_success like the same span sent in protobuf.
 */
import { Co2eError, ERROR_CODES } from "../errors.ts";
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

function str(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") fail(path, "expected a string");
  return value;
}

const INT_RE = /^-?\d{1,20}$/;

/** int64/uint64/fixed64 given as a number or a decimal string. */
function int64(value: unknown, path: string): bigint | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) fail(path, `expected an integer, got ${value}`);
    return BigInt(value);
  }
  if (typeof value === "string" && INT_RE.test(value)) return BigInt(value);
  return fail(path, "expected an integer or a decimal string");
}

function uint32(value: unknown, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === "string" && INT_RE.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 0xffffffff)
    fail(path, "expected a uint32");
  return n;
}

/** Enums are integers in OTLP JSON. */
function enumValue(value: unknown, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    fail(path, "expected an enum integer");
  }
  return value;
}

const HEX_RE = /^[0-9a-fA-F]*$/;

/** Hex id → bytes; a malformed id becomes empty bytes (rejected later, per span). */
function hexId(value: unknown, path: string): Uint8Array {
  const s = str(value, path);
  if (s === undefined || s.length % 2 !== 0 || !HEX_RE.test(s)) return new Uint8Array(0);
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

const MAX_DEPTH = 32;

function anyValue(value: unknown, path: string, depth: number): Encoder {
  if (depth > MAX_DEPTH) fail(path, "nesting too deep");
  const v = obj(value, path);
  const e = new Encoder();
  if (!v) return e;
  if (v.stringValue !== undefined && v.stringValue !== null)
    e.string(1, str(v.stringValue, `${path}.stringValue`)!);
  else if (v.boolValue !== undefined && v.boolValue !== null) {
    if (typeof v.boolValue !== "boolean") fail(`${path}.boolValue`, "expected a boolean");
    e.bool(2, v.boolValue);
  } else if (v.intValue !== undefined && v.intValue !== null)
    e.int64(3, int64(v.intValue, `${path}.intValue`)!);
  else if (v.doubleValue !== undefined && v.doubleValue !== null)
    e.double(4, double(v.doubleValue, `${path}.doubleValue`));
  else if (v.arrayValue !== undefined && v.arrayValue !== null) {
    const a = new Encoder();
    const values = arr(obj(v.arrayValue, `${path}.arrayValue`)?.values, `${path}.arrayValue.values`);
    values.forEach((item, i) => {
      a.message(1, anyValue(item, `${path}.arrayValue.values[${i}]`, depth + 1));
    });
    e.message(5, a);
  } else if (v.kvlistValue !== undefined && v.kvlistValue !== null) {
    const l = new Encoder();
    const values = arr(obj(v.kvlistValue, `${path}.kvlistValue`)?.values, `${path}.kvlistValue.values`);
    values.forEach((item, i) => {
      l.message(1, keyValue(item, `${path}.kvlistValue.values[${i}]`, depth + 1));
    });
    e.message(6, l);
  } else if (v.bytesValue !== undefined && v.bytesValue !== null) {
    const b64 = str(v.bytesValue, `${path}.bytesValue`)!;
    e.bytes(7, Uint8Array.from(Buffer.from(b64, "base64")));
  }
  return e;
}

function keyValue(value: unknown, path: string, depth: number): Encoder {
  const kv = obj(value, path) ?? {};
  const e = new Encoder();
  const key = str(kv.key, `${path}.key`);
  if (key) e.string(1, key);
  if (kv.value !== undefined && kv.value !== null) e.message(2, anyValue(kv.value, `${path}.value`, depth));
  return e;
}

function attributes(e: Encoder, field: number, value: unknown, path: string): void {
  arr(value, path).forEach((kv, i) => {
    e.message(field, keyValue(kv, `${path}[${i}]`, 1));
  });
}

function optUint(e: Encoder, field: number, value: unknown, path: string): void {
  const n = uint32(value, path);
  if (n) e.uint(field, n);
}

function optString(e: Encoder, field: number, value: unknown, path: string): void {
  const s = str(value, path);
  if (s) e.string(field, s);
}

function optFixed64(e: Encoder, field: number, value: unknown, path: string): void {
  const n = int64(value, path);
  if (n !== undefined && n !== 0n) {
    if (n < 0n) fail(path, "expected a non-negative integer");
    e.fixed64(field, n);
  }
}

function optBytes(e: Encoder, field: number, bytes: Uint8Array): void {
  if (bytes.length) e.bytes(field, bytes);
}

function span(value: unknown, path: string): Encoder {
  const s = obj(value, path) ?? {};
  const e = new Encoder();
  optBytes(e, 1, hexId(s.traceId, `${path}.traceId`));
  optBytes(e, 2, hexId(s.spanId, `${path}.spanId`));
  optString(e, 3, s.traceState, `${path}.traceState`);
  optBytes(e, 4, hexId(s.parentSpanId, `${path}.parentSpanId`));
  optString(e, 5, s.name, `${path}.name`);
  const kind = enumValue(s.kind, `${path}.kind`);
  if (kind) e.uint(6, kind);
  optFixed64(e, 7, s.startTimeUnixNano, `${path}.startTimeUnixNano`);
  optFixed64(e, 8, s.endTimeUnixNano, `${path}.endTimeUnixNano`);
  attributes(e, 9, s.attributes, `${path}.attributes`);
  optUint(e, 10, s.droppedAttributesCount, `${path}.droppedAttributesCount`);
  arr(s.events, `${path}.events`).forEach((ev, i) => {
    const p = `${path}.events[${i}]`;
    const o = obj(ev, p) ?? {};
    const x = new Encoder();
    optFixed64(x, 1, o.timeUnixNano, `${p}.timeUnixNano`);
    optString(x, 2, o.name, `${p}.name`);
    attributes(x, 3, o.attributes, `${p}.attributes`);
    optUint(x, 4, o.droppedAttributesCount, `${p}.droppedAttributesCount`);
    e.message(11, x);
  });
  optUint(e, 12, s.droppedEventsCount, `${path}.droppedEventsCount`);
  arr(s.links, `${path}.links`).forEach((ln, i) => {
    const p = `${path}.links[${i}]`;
    const o = obj(ln, p) ?? {};
    const x = new Encoder();
    optBytes(x, 1, hexId(o.traceId, `${p}.traceId`));
    optBytes(x, 2, hexId(o.spanId, `${p}.spanId`));
    optString(x, 3, o.traceState, `${p}.traceState`);
    attributes(x, 4, o.attributes, `${p}.attributes`);
    optUint(x, 5, o.droppedAttributesCount, `${p}.droppedAttributesCount`);
    const flags = uint32(o.flags, `${p}.flags`);
    if (flags) x.fixed32(6, flags);
    e.message(13, x);
  });
  optUint(e, 14, s.droppedLinksCount, `${path}.droppedLinksCount`);
  const status = obj(s.status, `${path}.status`);
  if (status) {
    const x = new Encoder();
    optString(x, 2, status.message, `${path}.status.message`);
    const code = enumValue(status.code, `${path}.status.code`);
    if (code) x.uint(3, code);
    e.message(15, x);
  }
  const flags = uint32(s.flags, `${path}.flags`);
  if (flags) e.fixed32(16, flags);
  return e;
}

/** Parses an OTLP/JSON body and returns the equivalent protobuf request bytes. */
export function jsonToProto(text: string): Uint8Array {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (error) {
    throw new Co2eError(ERROR_CODES.otlpDecode, `invalid JSON: ${(error as Error).message}`);
  }
  const top = obj(root, "(root)");
  if (!top) fail("(root)", "expected an object");
  const req = new Encoder();
  arr(top.resourceSpans, "resourceSpans").forEach((rsValue, i) => {
    const p = `resourceSpans[${i}]`;
    const rs = obj(rsValue, p) ?? {};
    const rse = new Encoder();
    const resource = obj(rs.resource, `${p}.resource`);
    if (resource) {
      const re = new Encoder();
      attributes(re, 1, resource.attributes, `${p}.resource.attributes`);
      optUint(re, 2, resource.droppedAttributesCount, `${p}.resource.droppedAttributesCount`);
      rse.message(1, re);
    }
    arr(rs.scopeSpans, `${p}.scopeSpans`).forEach((ssValue, j) => {
      const sp = `${p}.scopeSpans[${j}]`;
      const ss = obj(ssValue, sp) ?? {};
      const sse = new Encoder();
      const scope = obj(ss.scope, `${sp}.scope`);
      if (scope) {
        const se = new Encoder();
        optString(se, 1, scope.name, `${sp}.scope.name`);
        optString(se, 2, scope.version, `${sp}.scope.version`);
        attributes(se, 3, scope.attributes, `${sp}.scope.attributes`);
        optUint(se, 4, scope.droppedAttributesCount, `${sp}.scope.droppedAttributesCount`);
        sse.message(1, se);
      }
      arr(ss.spans, `${sp}.spans`).forEach((s, k) => {
        sse.message(2, span(s, `${sp}.spans[${k}]`));
      });
      optString(sse, 3, ss.schemaUrl, `${sp}.schemaUrl`);
      rse.message(2, sse);
    });
    optString(rse, 3, rs.schemaUrl, `${p}.schemaUrl`);
    req.message(1, rse);
  });
  return req.finish();
}
