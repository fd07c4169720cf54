/**
 * setSpanAttribute against the SDK's own setAttribute: the same writes on two real SDK spans, one
 * through each, under several span limits, leave the same attributes and dropped count.
 */
import type { AttributeValue, Span } from "@opentelemetry/api";
import { type ReadableSpan, TracerProvider } from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { isSdkSpan, setSpanAttribute } from "../../src/job/span-attributes.ts";

type Limits = { attributeCountLimit?: number; attributeValueLengthLimit?: number };

const WRITES: [string, AttributeValue][] = [
  ["a", 1],
  ["b", "a long string value"],
  ["a", 2.5], // overwrite
  ["c", true],
  ["", "empty key"],
  ["d", [1, 2, 3]],
  ["e", "xyz"],
  ["f", 0],
  ["g", "another long string"],
  ["b", "short"], // overwrite at the limit
  ["h", Number.NaN],
  ["i", Object.freeze(["cpu", "a long element"]) as string[]], // string array: a copy, cut per element
  ["j", []],
  ["k", ["x", 1] as unknown as string[]], // mixed: left to the SDK
  ["i", ["operational"]], // overwrite
];

function pair(limits: Limits): [Span, Span] {
  const tracer = new TracerProvider({ spanLimits: limits }).getTracer("t");
  const attributes = { "job.name": "x", initial: "value" };
  return [tracer.startSpan("sdk", { attributes }), tracer.startSpan("ours", { attributes })];
}

describe("setSpanAttribute", () => {
  for (const limits of [
    {},
    { attributeCountLimit: 5 },
    { attributeCountLimit: 0 },
    { attributeValueLengthLimit: 4 },
    { attributeCountLimit: 6, attributeValueLengthLimit: 3 },
  ] satisfies Limits[]) {
    it(`stores what span.setAttribute stores with limits ${JSON.stringify(limits)}`, () => {
      const [sdk, ours] = pair(limits);
      expect(isSdkSpan(ours)).toBe(true);
      for (const [key, value] of WRITES) {
        sdk.setAttribute(key, value);
        setSpanAttribute(ours, key, value);
      }
      sdk.end();
      ours.end();
      const a = sdk as unknown as ReadableSpan;
      const b = ours as unknown as ReadableSpan;
      expect(b.attributes).toEqual(a.attributes);
      expect(Object.keys(b.attributes)).toEqual(Object.keys(a.attributes));
      expect(b.droppedAttributesCount).toBe(a.droppedAttributesCount);
      // Both kept counting the same way: one more write after end changes neither.
      setSpanAttribute(ours, "late", 1);
      expect(b.attributes).toEqual(a.attributes);
    });
  }

  it("stores a copy of a string array, not the caller's array", () => {
    const [, ours] = pair({});
    const boundary = Object.freeze(["cpu", "memory"]);
    setSpanAttribute(ours, "carbon.boundary.components", boundary as string[]);
    const stored = (ours as unknown as ReadableSpan).attributes["carbon.boundary.components"];
    expect(stored).toEqual(["cpu", "memory"]);
    expect(stored).not.toBe(boundary);
    expect(Object.isFrozen(stored)).toBe(false);
  });

  it("goes through setAttribute when it is replaced on the span", () => {
    const [span] = pair({});
    const seen: string[] = [];
    const original = span.setAttribute.bind(span);
    span.setAttribute = (key: string, value: AttributeValue) => {
      seen.push(key);
      return original(key, value);
    };
    expect(isSdkSpan(span)).toBe(false);
    setSpanAttribute(span, "k", 1);
    expect(seen).toEqual(["k"]);
    expect((span as unknown as ReadableSpan).attributes.k).toBe(1);
  });
});
