/**
 * Protocol-buffers wire format, the small subset the gateway needs: a bounds-checked reader that
 * reports the byte offset and the field path of the first problem, and an encoder that builds
 * messages bottom-up from parts. Hand-written instead of protobufjs objects so that spans the
 * gateway does not change are forwarded as the exact bytes it received (no decode/re-encode, no
 * int64 precision loss) and so that a request is scanned without allocating per-field objects.
 */
import { Co2eError, ERROR_CODES } from "../errors.ts";

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

export class DecodeError extends Co2eError {
  readonly offset: number;
  constructor(offset: number, path: string, reason: string) {
    super(ERROR_CODES.otlpDecode, `malformed protobuf at byte ${offset} (${path}): ${reason}`);
    this.offset = offset;
  }
}

/** A 10-byte varint whose last byte sets bits above bit 63 (a value of 2^64 or more). */
const TOO_BIG = "integer of 2^64 or more (a varint holds 64 bits)";

/** Reads a varint at `pos` ≤ 10 bytes; returns the value (as a double: exact up to 2^53) and sets `r.pos`. */
export class Reader {
  readonly buf: Uint8Array;
  pos = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  /** Varint as a number; values above 2^53 lose precision (only used for lengths, tags, enums, counts). */
  varint(end: number, path: string): number {
    const buf = this.buf;
    let pos = this.pos;
    const start = pos;
    // Fast path for the common 1- and 2-byte varints (tags, short lengths).
    if (pos < end) {
      const b0 = buf[pos]!;
      if (b0 < 0x80) {
        this.pos = pos + 1;
        return b0;
      }
    }
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new DecodeError(start, path, "truncated varint");
      const b = buf[pos++]!;
      if (i === 9 && b > 1) throw new DecodeError(start, path, TOO_BIG);
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = pos;
        return result;
      }
      mul *= 128;
    }
    throw new DecodeError(start, path, "varint longer than 10 bytes");
  }

  /** Reads a length prefix and checks the payload fits before `end`; returns the payload end. */
  lengthDelimited(end: number, path: string): number {
    const at = this.pos;
    const len = this.varint(end, path);
    const stop = this.pos + len;
    if (stop > end) throw new DecodeError(at, path, `length ${len} runs past the end of its message`);
    return stop;
  }

  /** Skips a field of the given wire type (unknown fields are legal in proto3 and are kept). */
  skip(wireType: number, end: number, path: string): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint(end, path);
        return;
      case WIRE_I64:
        if (this.pos + 8 > end) throw new DecodeError(this.pos, path, "truncated fixed64");
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.pos = this.lengthDelimited(end, path);
        return;
      case WIRE_I32:
        if (this.pos + 4 > end) throw new DecodeError(this.pos, path, "truncated fixed32");
        this.pos += 4;
        return;
      default:
        throw new DecodeError(this.pos, path, `unsupported wire type ${wireType}`);
    }
  }

  /** fixed64 as a double (nanosecond timestamps: ample for millisecond arithmetic). */
  fixed64(end: number, path: string): number {
    const p = this.pos;
    if (p + 8 > end) throw new DecodeError(p, path, "truncated fixed64");
    const b = this.buf;
    const lo = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
    const hi = (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
    this.pos = p + 8;
    return hi * 4294967296 + lo;
  }

  double(end: number, path: string): number {
    const p = this.pos;
    if (p + 8 > end) throw new DecodeError(p, path, "truncated double");
    this.pos = p + 8;
    return new DataView(this.buf.buffer, this.buf.byteOffset + p, 8).getFloat64(0, true);
  }

  /** int64 varint as a JS number (two's complement for negatives). */
  int64(end: number, path: string): number {
    const start = this.pos;
    let lo = 0;
    let hi = 0;
    const buf = this.buf;
    let pos = start;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new DecodeError(start, path, "truncated varint");
      const b = buf[pos++]!;
      if (i === 9 && b > 1) throw new DecodeError(start, path, TOO_BIG);
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (7 * (i - 5) + 3);
      if (b < 0x80) {
        this.pos = pos;
        lo >>>= 0;
        if (hi & 0x80000000) {
          // negative: −(~value + 1)
          const nlo = (~lo + 1) >>> 0;
          const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
          return -(nhi * 4294967296 + nlo);
        }
        return (hi >>> 0) * 4294967296 + lo;
      }
    }
    throw new DecodeError(start, path, "varint longer than 10 bytes");
  }
}

const textDecoder = new TextDecoder("utf-8");
const textEncoder = new TextEncoder();

export function utf8(buf: Uint8Array, start: number, end: number): string {
  return textDecoder.decode(buf.subarray(start, end));
}

export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let n = 4;
  let v = Math.floor(value / 0x10000000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 128);
  }
  return n;
}

/** Writes a non-negative varint (< 2^53) into `out` at `pos`; returns the new position. */
export function writeVarint(out: Uint8Array, pos: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    out[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

/**
 * Small parts (tags, length prefixes, short messages) are cut from shared slabs instead of each
 * getting its own ArrayBuffer: a JSON request of two million attribute values would otherwise
 * allocate millions of buffers (about 200 bytes of bookkeeping each).
 */
const SLAB_BYTES = 64 * 1024;
/** Children up to this size are copied into one slab part with their header. */
const FLATTEN_BYTES = 128;
let slab = new Uint8Array(SLAB_BYTES);
let slabPos = 0;

function small(size: number): Uint8Array {
  if (slabPos + size > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabPos = 0;
  }
  const out = slab.subarray(slabPos, slabPos + size);
  slabPos += size;
  return out;
}

/**
 * A message under construction: a list of byte parts whose total length is known, so a parent
 * can write the length prefix without re-encoding. Parts may be subarrays of a received request.
 */
export class Encoder {
  readonly parts: Uint8Array[] = [];
  length = 0;

  raw(bytes: Uint8Array): this {
    if (bytes.length) {
      this.parts.push(bytes);
      this.length += bytes.length;
    }
    return this;
  }

  private header(field: number, wireType: number, extra?: number): void {
    const tag = field * 8 + wireType;
    const size = varintSize(tag) + (extra === undefined ? 0 : varintSize(extra));
    const out = small(size);
    let p = writeVarint(out, 0, tag);
    if (extra !== undefined) p = writeVarint(out, p, extra);
    this.raw(out);
  }

  /** Non-negative varint field (enums, counts). */
  uint(field: number, value: number): this {
    this.header(field, WIRE_VARINT, value);
    return this;
  }

  /** int64 varint field from a bigint (negatives as 10-byte two's complement). */
  int64(field: number, value: bigint): this {
    let v = BigInt.asUintN(64, value);
    const bytes: number[] = [];
    while (v >= 0x80n) {
      bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    bytes.push(Number(v));
    this.header(field, WIRE_VARINT);
    return this.raw(Uint8Array.from(bytes));
  }

  bool(field: number, value: boolean): this {
    return this.uint(field, value ? 1 : 0);
  }

  fixed64(field: number, value: bigint): this {
    this.header(field, WIRE_I64);
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    return this.raw(out);
  }

  fixed32(field: number, value: number): this {
    this.header(field, WIRE_I32);
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value >>> 0, true);
    return this.raw(out);
  }

  double(field: number, value: number): this {
    this.header(field, WIRE_I64);
    const out = new Uint8Array(8);
    new DataView(out.buffer).setFloat64(0, value, true);
    return this.raw(out);
  }

  bytes(field: number, value: Uint8Array): this {
    this.header(field, WIRE_LEN, value.length);
    return this.raw(value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  message(field: number, child: Encoder): this {
    if (child.length <= FLATTEN_BYTES) {
      const tag = field * 8 + WIRE_LEN;
      const out = small(varintSize(tag) + varintSize(child.length) + child.length);
      let p = writeVarint(out, writeVarint(out, 0, tag), child.length);
      for (const part of child.parts) {
        out.set(part, p);
        p += part.length;
      }
      return this.raw(out);
    }
    this.header(field, WIRE_LEN, child.length);
    for (const part of child.parts) this.parts.push(part);
    this.length += child.length;
    return this;
  }

  /** The message bytes, in an ArrayBuffer of their own unless they are one part given by the caller. */
  finish(): Uint8Array {
    const only = this.parts.length === 1 ? this.parts[0]! : undefined;
    if (only && only.buffer !== slab.buffer && only.byteLength === only.buffer.byteLength) return only;
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const part of this.parts) {
      out.set(part, p);
      p += part.length;
    }
    return out;
  }
}
