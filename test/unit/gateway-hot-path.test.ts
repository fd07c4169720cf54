/**
 * The shortcuts of the gateway's per-span path against the general code and the reference
 * protobufjs schema: cached attribute encodings, interned strings, the inline span status and
 * attribute value checks, and forward items framed without a copy.
 */
import { describe, expect, it } from "vitest";
import { isCo2eError } from "../../src/errors.ts";
import { encodeForward, encodeSpanAttributes, frameRequest } from "../../src/gateway/otlp-encode.ts";
import { scanRequest } from "../../src/gateway/otlp-proto.ts";
import { otlpType } from "../../src/gateway/schema.ts";
import { makeExportRequest, plainAttributes, spansOf } from "../helpers/otlp-sink.ts";

type KvList = { key: string; value: Record<string, unknown> }[];

function decodeAttributes(bytes: Uint8Array): Record<string, unknown> {
  const span = otlpType("Span").decode(bytes) as unknown as { attributes: KvList };
  return plainAttributes(span.attributes as never);
}

/** An ExportTraceServiceRequest from a plain object, encoded by the reference schema. */
function encodeRequest(spans: Record<string, unknown>[], resourceSpans = 1): Uint8Array {
  const Req = otlpType("ExportTraceServiceRequest");
  const rs = Array.from({ length: resourceSpans }, (_, i) => ({
    resource: { attributes: [{ key: "service.name", value: { stringValue: `svc-${i}` } }] },
    scopeSpans: [{ scope: { name: "s" }, spans }],
  }));
  return Req.encode(Req.fromObject({ resourceSpans: rs })).finish();
}

function span(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const traceId = Buffer.alloc(16, 1);
  traceId.writeUInt32BE(i + 1, 12);
  const spanId = Buffer.alloc(8, 2);
  spanId.writeUInt32BE(i + 1, 4);
  return {
    traceId,
    spanId,
    name: `s${i}`,
    startTimeUnixNano: "1700000000000000000",
    endTimeUnixNano: "1700000001000000000",
    ...extra,
  };
}

describe("encodeSpanAttributes caches", () => {
  it("gives the same bytes as the first encoding on later calls, per key and value", () => {
    const added = { zone: "DE", ok: true, n: 1.5, list: ["cpu", "memory"], other: "FR" };
    const first = Buffer.from(encodeSpanAttributes(added));
    const again = Buffer.from(encodeSpanAttributes({ ...added, list: ["cpu", "memory"] }));
    expect(again.equals(first)).toBe(true);
    expect(decodeAttributes(first)).toEqual(added);
  });

  it("never answers one key's or value's bytes for another", () => {
    // Pairs that a cache keyed by concatenating key and value would confuse.
    const a = decodeAttributes(encodeSpanAttributes({ ab: "c", a: "bc", "": "abc" }));
    expect(a).toEqual({ ab: "c", a: "bc", "": "abc" });
    const b = decodeAttributes(encodeSpanAttributes({ flag: true }));
    const c = decodeAttributes(encodeSpanAttributes({ flag: false }));
    expect([b.flag, c.flag]).toEqual([true, false]);
    const n = decodeAttributes(encodeSpanAttributes({ k: 2 }));
    const m = decodeAttributes(encodeSpanAttributes({ k: -0.25 }));
    expect([n.k, m.k]).toEqual([2, -0.25]);
  });

  it("encodes an array again when it changed, even when the caller changed it in place", () => {
    const list = ["cpu"];
    expect(decodeAttributes(encodeSpanAttributes({ b: list })).b).toEqual(["cpu"]);
    list.push("gpu");
    expect(decodeAttributes(encodeSpanAttributes({ b: list })).b).toEqual(["cpu", "gpu"]);
    expect(decodeAttributes(encodeSpanAttributes({ b: [1, 2] })).b).toEqual([1, 2]);
    expect(decodeAttributes(encodeSpanAttributes({ b: ["cpu"] })).b).toEqual(["cpu"]);
  });

  it("keeps working past the cache bound (distinct values are encoded each time)", () => {
    for (let i = 0; i < 5000; i++) {
      const key = `k${i % 50}`;
      const value = `v${i}`;
      expect(decodeAttributes(encodeSpanAttributes({ [key]: value, [`n${i}`]: i }))).toEqual({
        [key]: value,
        [`n${i}`]: i,
      });
    }
  });
});

describe("scanner shortcuts", () => {
  it("decodes job span keys and values right when many distinct strings share the tables", () => {
    // 3,000 distinct keys and values: more than the interning tables' slots, so slots collide.
    const spans = Array.from({ length: 3000 }, (_, i) =>
      span(i, {
        attributes: [
          { key: "job.name", value: { stringValue: `job-${i}` } },
          { key: `key-${i}`, value: { stringValue: `value-${i % 1500}` } },
        ],
      }),
    );
    const req = scanRequest(encodeRequest(spans));
    expect(req.jobSpans).toHaveLength(3000);
    req.jobSpans.forEach((s, i) => {
      expect(s.attributes).toEqual({ "job.name": `job-${i}`, [`key-${i}`]: `value-${i % 1500}` });
    });
  });

  it("reads the status code inline, and as before when the status has other fields", () => {
    const error = scanRequest(
      encodeRequest([
        span(0, {
          attributes: [{ key: "job.name", value: { stringValue: "j" } }],
          status: { code: 2, message: "boom" },
        }),
      ]),
    );
    expect(error.jobSpans[0]!.isError).toBe(true);
    // An unknown field (99) in Status goes to the generic walk, which must still find the code.
    // Status { code = 3: 2 (error) } and field 99 (varint 1), by hand.
    const status = Buffer.from([0x18, 0x02, 0x98, 0x06, 0x01]);
    const body = encodeRequest([
      span(0, { attributes: [{ key: "job.name", value: { stringValue: "j" } }], status: { code: 0 } }),
    ]);
    const req = scanRequest(body);
    const statusless = Buffer.from(body);
    // The same span without its status, then the hand-made status appended as field 15.
    const Req = otlpType("ExportTraceServiceRequest");
    const obj = Req.toObject(Req.decode(statusless)) as {
      resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[];
    };
    const s0 = obj.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    delete s0.status;
    const Span = otlpType("Span");
    const spanBytes = Buffer.concat([
      Buffer.from(Span.encode(Span.fromObject(s0)).finish()),
      Buffer.from([0x7a, status.length]), // field 15 (status), LEN
      status,
    ]);
    const handmade = Buffer.concat([
      Buffer.from([0x0a, spanBytes.length + 4, 0x12, spanBytes.length + 2, 0x12, spanBytes.length]),
      spanBytes,
    ]);
    expect(req.jobSpans[0]!.isError).toBe(false);
    expect(scanRequest(handmade).jobSpans[0]!.isError).toBe(true);
  });

  it("names the field of a malformed attribute value as the generic check does", () => {
    // A string_value whose length runs past its AnyValue.
    const good = encodeRequest([span(0, { attributes: [{ key: "a", value: { stringValue: "xyz" } }] })]);
    const bad = Buffer.from(good);
    const at = bad.indexOf(Buffer.from("xyz")) - 1; // the length byte of string_value
    bad[at] = 0x7f;
    let message = "";
    try {
      scanRequest(bad);
    } catch (error) {
      expect(isCo2eError(error)).toBe(true);
      message = (error as Error).message;
    }
    expect(message).toMatch(/attributes\.value\.string_value/);
  });
});

describe("framed forward items", () => {
  it("sends a one-resource request's items without a copy, the bytes as encoded", () => {
    const body = makeExportRequest({ spans: 64, jobEvery: 0 });
    const items = encodeForward(scanRequest(body));
    expect(items).toHaveLength(1);
    const framed = frameRequest(items);
    expect(Buffer.from(framed).equals(Buffer.from(body))).toBe(true);
    expect(framed.buffer).toBe(body.buffer); // a view of the request, not a copy
  });

  it("copies a small unchanged resource so the queue does not keep the request alive", () => {
    const small = encodeRequest([span(0)], 1);
    const big = encodeRequest(
      Array.from({ length: 200 }, (_, i) => span(i + 1)),
      1,
    );
    const body = Buffer.concat([small, big]); // two resource_spans fields, the first tiny
    const items = encodeForward(scanRequest(body));
    expect(items).toHaveLength(2);
    expect(items[0]!.bytes.buffer).not.toBe(body.buffer);
    expect(items[1]!.bytes.buffer).toBe(body.buffer);
    expect(Buffer.from(frameRequest(items)).equals(body)).toBe(true);
    expect(Buffer.from(frameRequest([items[0]!])).equals(small)).toBe(true);
  });

  it("frames a rewritten resource with its header in the same memory", () => {
    const body = makeExportRequest({ spans: 20, jobEvery: 5 });
    const req = scanRequest(body);
    for (const s of req.jobSpans) s.added = { "carbon.co2e.grams": 0.25, "carbon.intensity.zone": "DE" };
    const [item] = encodeForward(req);
    const framed = frameRequest([item!]);
    expect(framed.buffer).toBe(item!.bytes.buffer);
    expect(Buffer.from(framed).equals(Buffer.from(frameRequest([{ ...item!, framed: undefined }])))).toBe(
      true,
    );
    const spans = spansOf(framed);
    expect(spans).toHaveLength(20);
    expect(spans.filter((s) => s.attributes["carbon.co2e.grams"] === 0.25)).toHaveLength(4);
  });
});
