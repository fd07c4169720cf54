/**
 * Builds what the gateway forwards: one `ResourceSpans` message per received one, where unchanged
 * spans (and unchanged scopes) are the received bytes and job spans are their received bytes minus
 * the attributes being replaced, plus the new `carbon.*` KeyValues. Also the
 * `ExportTraceServiceResponse` in both encodings and the protobuf request framing.
 */
import type { Attributes, AttributeValue } from "@opentelemetry/api";
import { acquireBuffer, isPoolable, releaseBuffer } from "./forward-buffers.ts";
import { OTLP, tagOf } from "./otlp-fields.ts";
import {
  type JobSpanRef,
  type ParsedRequest,
  type ParsedResource,
  type ParsedScope,
  REJECTED,
} from "./otlp-proto.ts";
import { runAtOnce } from "./slices.ts";
import { Encoder, varintSize, writeVarint } from "./wire.ts";

const ANY = OTLP.AnyValue;
const KV = OTLP.KeyValue;

/** One ResourceSpans ready to forward (message body, without the request's field tag). */
export interface ForwardItem {
  bytes: Uint8Array;
  spanCount: number;
  /**
   * `bytes` preceded by its `resource_spans` field header, in the same memory: frameRequest sends
   * a batch of this one item as it is, without copying it into a new request body.
   */
  framed?: Uint8Array;
  /**
   * The forward-buffers.ts buffer `framed` was written into, when it came from there: give it
   * back with releaseForwardItems once the downstream has the bytes.
   */
  pooled?: Uint8Array;
}

/**
 * Gives the items' pooled buffers back for reuse (forward-buffers.ts). Only for items whose bytes
 * nothing will read again: a send that was answered, or items that are dropped.
 */
export function releaseForwardItems(items: readonly ForwardItem[]): void {
  for (const item of items) {
    const pooled = item.pooled;
    if (!pooled) continue;
    item.pooled = undefined;
    releaseBuffer(pooled);
  }
}

/** The `resource_spans` tag of ExportTraceServiceRequest. */
const RESOURCE_SPANS_TAG = tagOf(OTLP.ExportTraceServiceRequest.resourceSpans);

/**
 * AnyValue for an attribute the gateway adds. Every number is a double_value, whole or not: the
 * carbon.* attributes are documented as doubles, and a backend that saw `carbon.pue` as int_value
 * for 1 and double_value for 1.2 would hold two types under one key. (The OTel JS SDK's own
 * exporter writes whole numbers as int_value; spans the client sent keep whatever it chose.)
 */
export function encodeAnyValue(value: AttributeValue): Encoder {
  const e = new Encoder();
  if (typeof value === "string") e.string(ANY.stringValue.no, value);
  else if (typeof value === "boolean") e.bool(ANY.boolValue.no, value);
  else if (typeof value === "number") e.double(ANY.doubleValue.no, value);
  else if (Array.isArray(value)) {
    const arr = new Encoder();
    for (const item of value)
      if (item !== null && item !== undefined) arr.message(OTLP.ArrayValue.values.no, encodeAnyValue(item));
    e.message(ANY.arrayValue.no, arr);
  }
  return e;
}

export function encodeKeyValue(key: string, value: AttributeValue): Encoder {
  return new Encoder().string(KV.key.no, key).message(KV.value.no, encodeAnyValue(value));
}

/** Cached encodings stop growing at this many entries (carbon.error texts may all differ). */
const CACHE_ENTRIES = 4096;
/** Values longer than this (bytes of the whole field) are encoded each time, not cached. */
const CACHE_FIELD_BYTES = 512;

/**
 * `attributes` field (tag, length, KeyValue with key and the AnyValue's double_value tag and
 * length) for a numeric attribute, without its 8 value bytes: the prefix is the same for every
 * span, only the double differs.
 */
const NUMBER_PREFIX = new Map<string, Buffer>();

function numberPrefix(key: string): Buffer {
  let prefix = NUMBER_PREFIX.get(key);
  if (!prefix) {
    const k = Buffer.from(key, "utf8");
    const kvLen = 1 + varintSize(k.length) + k.length + 1 + 1 + 9;
    prefix = Buffer.allocUnsafe(1 + varintSize(kvLen) + kvLen - 8);
    let p = 0;
    prefix[p++] = tagOf(OTLP.Span.attributes);
    p = writeVarint(prefix, p, kvLen);
    prefix[p++] = tagOf(KV.key);
    p = writeVarint(prefix, p, k.length);
    p += k.copy(prefix, p);
    prefix[p++] = tagOf(KV.value);
    prefix[p++] = 9;
    prefix[p++] = tagOf(ANY.doubleValue);
    if (NUMBER_PREFIX.size < CACHE_ENTRIES) NUMBER_PREFIX.set(key, prefix);
  }
  return prefix;
}

/** Encoded `attributes` fields of one key: by string value, by boolean, and its last array. */
interface KeyFields {
  strings: Map<string, Uint8Array>;
  bools: (Uint8Array | undefined)[];
  lastArray?: readonly unknown[];
  lastArrayBytes?: Uint8Array;
}

/**
 * Whole `attributes` fields for string, boolean and array values, by key then value: enrichment
 * repeats the same zone, source, method and boundary lists on every job span. Two lookups on
 * strings the enrichment holds anyway; no cache key is built.
 */
const FIELD_CACHE = new Map<string, KeyFields>();
let cachedFields = 0;

function encodeField(key: string, value: AttributeValue): Uint8Array {
  const bytes = new Encoder().message(OTLP.Span.attributes.no, encodeKeyValue(key, value)).finish();
  // finish() may hand back a view of a shared slab: a cached entry gets bytes of its own.
  return Uint8Array.prototype.slice.call(bytes);
}

function sameArray(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function fieldBytes(key: string, value: AttributeValue): Uint8Array {
  let entry = FIELD_CACHE.get(key);
  if (!entry) {
    if (FIELD_CACHE.size >= CACHE_ENTRIES) return encodeField(key, value);
    entry = { strings: new Map(), bools: [] };
    FIELD_CACHE.set(key, entry);
  }
  if (typeof value === "string") {
    let bytes = entry.strings.get(value);
    if (!bytes) {
      bytes = encodeField(key, value);
      if (bytes.length <= CACHE_FIELD_BYTES && cachedFields < CACHE_ENTRIES) {
        entry.strings.set(value, bytes);
        cachedFields++;
      }
    }
    return bytes;
  }
  if (typeof value === "boolean") {
    const i = value ? 1 : 0;
    let bytes = entry.bools[i];
    if (!bytes) {
      bytes = encodeField(key, value);
      entry.bools[i] = bytes;
    }
    return bytes;
  }
  const array = value as readonly unknown[];
  if (entry.lastArray && entry.lastArrayBytes && sameArray(entry.lastArray, array))
    return entry.lastArrayBytes;
  const bytes = encodeField(key, value);
  if (bytes.length <= CACHE_FIELD_BYTES) {
    // A copy: the caller may change its array later.
    entry.lastArray = [...array];
    entry.lastArrayBytes = bytes;
  }
  return bytes;
}

/** Parts of the span being encoded (reused: encodeSpanAttributes is synchronous). */
const scratch: (Uint8Array | number)[] = [];

/**
 * The previous span's fields by position: enrichment writes the same keys in the same order on
 * every job span, mostly with the same strings, so a field is usually the one at its position
 * last time (found by comparing key and value, without a map lookup).
 */
const MEMO_POSITIONS = 64;
const memoKey: string[] = [];
/** The value (string, boolean), or NUMBER for a number's prefix. */
const memoValue: unknown[] = [];
const memoBytes: Uint8Array[] = [];
const NUMBER = Symbol("number");

function memo(i: number, key: string, value: unknown, bytes: Uint8Array): void {
  if (i >= MEMO_POSITIONS) return;
  memoKey[i] = key;
  memoValue[i] = value;
  memoBytes[i] = bytes;
}

/**
 * `repeated KeyValue attributes = 9` fields for the added attributes, written into one buffer:
 * this runs for every job span, so the fields come from caches (numbers: a per-key prefix and the
 * 8 bytes of the double; other values: the whole field) and are copied once. Numbers are always
 * double_value (see encodeAnyValue).
 */
export function encodeSpanAttributes(added: Attributes): Uint8Array {
  let total = 0;
  scratch.length = 0;
  let i = 0;
  for (const key in added) {
    const value = added[key];
    if (value === undefined || value === null) continue;
    if (typeof value === "number") {
      let prefix: Uint8Array;
      if (memoKey[i] === key && memoValue[i] === NUMBER) prefix = memoBytes[i]!;
      else {
        prefix = numberPrefix(key);
        memo(i, key, NUMBER, prefix);
      }
      scratch.push(prefix, value);
      total += prefix.length + 8;
    } else {
      let bytes: Uint8Array;
      if (typeof value !== "object" && memoKey[i] === key && memoValue[i] === value) bytes = memoBytes[i]!;
      else {
        bytes = fieldBytes(key, value);
        // Arrays are not memoised here (fieldBytes compares them with the key's last one).
        if (typeof value !== "object") memo(i, key, value, bytes);
      }
      scratch.push(bytes);
      total += bytes.length;
    }
    i++;
  }
  const out = Buffer.allocUnsafe(total);
  let p = 0;
  for (let i = 0; i < scratch.length; i++) {
    const part = scratch[i] as Uint8Array;
    out.set(part, p);
    p += part.length;
    const next = scratch[i + 1];
    if (typeof next === "number") {
      out.writeDoubleLE(next, p);
      p += 8;
      i++;
    }
  }
  scratch.length = 0;
  return out;
}

/**
 * Output as a list of pieces: a pair of numbers is a range of the received buffer, a Uint8Array
 * is new bytes. Unchanged runs of spans stay one range, so a request with a few job spans among
 * many others is copied in a few large pieces.
 */
class Pieces {
  readonly ops: (number | Uint8Array)[] = [];
  length = 0;

  range(start: number, end: number): void {
    if (end > start) {
      this.ops.push(start, end);
      this.length += end - start;
    }
  }

  bytes(b: Uint8Array): void {
    this.ops.push(b);
    this.length += b.length;
  }

  /** Tag + length header of a LEN field (a one-byte tag), then the child's pieces. */
  child(tag: number, c: Pieces): void {
    const header = new Uint8Array(1 + varintSize(c.length));
    header[0] = tag;
    writeVarint(header, 1, c.length);
    this.bytes(header);
    for (const op of c.ops) this.ops.push(op);
    this.length += c.length;
  }

  /**
   * The bytes, after a header of `tag` and their length (the header is out[0, start)), in a
   * buffer from forward-buffers.ts (`pooled`, when it is one of its size classes).
   */
  write(buf: Uint8Array, tag: number): { out: Uint8Array; start: number; pooled?: Uint8Array } {
    const start = 1 + varintSize(this.length);
    const whole = acquireBuffer(start + this.length);
    const out = whole.length === start + this.length ? whole : whole.subarray(0, start + this.length);
    out[0] = tag;
    let p = writeVarint(out, 1, this.length);
    const ops = this.ops;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (typeof op === "number") {
        const end = ops[++i] as number;
        out.set(buf.subarray(op, end), p);
        p += end - op;
      } else {
        out.set(op, p);
        p += op.length;
      }
    }
    return isPoolable(whole) ? { out, start, pooled: whole } : { out, start };
  }
}

function jobSpanPieces(span: JobSpanRef): Pieces {
  const added = span.added ?? {};
  const pieces = new Pieces();
  let pos = span.bodyStart;
  for (const field of span.attributeFields) {
    if (!(field.key in added)) continue;
    pieces.range(pos, field.start);
    pos = field.end;
  }
  pieces.range(pos, span.bodyEnd);
  pieces.bytes(encodeSpanAttributes(added));
  return pieces;
}

/** Indices of a scope's special spans, ascending (the scanner adds them in that order). */
function spanOrder(scope: ParsedScope): number[] {
  const order = [...scope.special.keys()];
  for (let i = 1; i < order.length; i++) {
    if (order[i]! < order[i - 1]!) return order.sort((a, b) => a - b);
  }
  return order;
}

function* encodeResource(req: ParsedRequest, rs: ParsedResource): Generator<void, ForwardItem | undefined> {
  const buf = req.buf;
  let spanCount = 0;
  let changed = false;
  for (const scope of rs.scopes) {
    spanCount += scope.spans.length / 2;
    if (scope.special.size) changed = true;
  }
  const rsBodyStart = rs.fieldStart + headerLength(buf, rs.fieldStart);
  if (!changed) {
    if (spanCount === 0) return undefined;
    const headerLength = rsBodyStart - rs.fieldStart;
    // Most of the request (usually all of it): a view, framed by the header it was received with.
    if ((rs.fieldEnd - rs.fieldStart) * 4 >= buf.length * 3) {
      const framed = buf.subarray(rs.fieldStart, rs.fieldEnd);
      return { bytes: framed.subarray(headerLength), spanCount, framed };
    }
    // A small part: copied, so that the queue does not keep the whole request buffer alive
    // (Uint8Array's slice: a Buffer's own slice() is a view).
    const framed = Uint8Array.prototype.slice.call(buf, rs.fieldStart, rs.fieldEnd);
    return { bytes: framed.subarray(headerLength), spanCount, framed };
  }
  spanCount = 0;
  const out = new Pieces();
  let cursor = rsBodyStart;
  for (const scope of rs.scopes) {
    const n = scope.spans.length / 2;
    if (scope.special.size === 0) {
      spanCount += n;
      continue;
    }
    out.range(cursor, scope.fieldStart);
    cursor = scope.fieldEnd;
    const sp = new Pieces();
    let inner = scope.fieldStart + headerLength(buf, scope.fieldStart);
    // Only the special spans are visited (in span order); the others stay inside ranges.
    let kept = n;
    for (const i of spanOrder(scope)) {
      const special = scope.special.get(i)!;
      const fieldStart = scope.spans[2 * i]!;
      sp.range(inner, fieldStart);
      inner = scope.spans[2 * i + 1]!;
      if (special === REJECTED) {
        kept--;
        continue;
      }
      sp.child(tagOf(OTLP.ScopeSpans.spans), jobSpanPieces(special));
      yield;
    }
    sp.range(inner, scope.fieldEnd);
    if (kept === 0) continue;
    spanCount += kept;
    out.child(tagOf(OTLP.ResourceSpans.scopeSpans), sp);
  }
  out.range(cursor, rs.fieldEnd);
  if (spanCount === 0) return undefined;
  const written = out.write(buf, RESOURCE_SPANS_TAG);
  const item: ForwardItem = { bytes: written.out.subarray(written.start), spanCount, framed: written.out };
  if (written.pooled) item.pooled = written.pooled;
  return item;
}

/** Length of the tag + length prefix of the LEN field starting at `start`. */
function headerLength(buf: Uint8Array, start: number): number {
  let p = start;
  while (buf[p]! & 0x80) p++; // tag
  p++;
  while (buf[p]! & 0x80) p++; // length
  return p + 1 - start;
}

/**
 * Items to forward for a scanned (and enriched) request; rejected spans are left out. Yields after
 * each job span (see slices.ts).
 */
export function* encodeForwardSteps(req: ParsedRequest): Generator<void, ForwardItem[]> {
  const items: ForwardItem[] = [];
  for (const rs of req.resources) {
    const item = yield* encodeResource(req, rs);
    if (item) items.push(item);
  }
  return items;
}

export function encodeForward(req: ParsedRequest): ForwardItem[] {
  return runAtOnce(encodeForwardSteps(req));
}

/** `ExportTraceServiceRequest` bytes for a batch of items (field 1 = resource_spans). */
export function frameRequest(items: readonly ForwardItem[]): Uint8Array {
  if (items.length === 1 && items[0]!.framed) return items[0]!.framed;
  let size = 0;
  for (const item of items) size += 1 + varintSize(item.bytes.length) + item.bytes.length;
  const out = new Uint8Array(size);
  let p = 0;
  for (const item of items) {
    out[p++] = RESOURCE_SPANS_TAG;
    p = writeVarint(out, p, item.bytes.length);
    out.set(item.bytes, p);
    p += item.bytes.length;
  }
  return out;
}

/** `ExportTraceServiceResponse`: empty on full success, partial_success when spans were rejected. */
export function encodeResponseProto(rejectedSpans: number, errorMessage: string): Uint8Array {
  if (rejectedSpans === 0 && !errorMessage) return new Uint8Array(0);
  const P = OTLP.ExportTracePartialSuccess;
  const partial = new Encoder().int64(P.rejectedSpans.no, BigInt(rejectedSpans));
  if (errorMessage) partial.string(P.errorMessage.no, errorMessage);
  return new Encoder().message(OTLP.ExportTraceServiceResponse.partialSuccess.no, partial).finish();
}

export function encodeResponseJson(rejectedSpans: number, errorMessage: string): string {
  if (rejectedSpans === 0 && !errorMessage) return "{}";
  // int64 as a decimal string, per the OTLP JSON encoding.
  return JSON.stringify({ partialSuccess: { rejectedSpans: String(rejectedSpans), errorMessage } });
}

/** `google.rpc.Status { int32 code = 1; string message = 2 }`, the body OTLP puts on 4xx/5xx. */
export function encodeStatusProto(grpcCode: number, message: string): Uint8Array {
  return new Encoder()
    .uint(OTLP.RpcStatus.code.no, grpcCode)
    .string(OTLP.RpcStatus.message.no, message)
    .finish();
}
