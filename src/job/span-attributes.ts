/**
 * Writes one primitive attribute on a span, the way the OTel SDK's `Span.setAttribute` does but
 * without its per-call cost (an options object and a WeakSet for the value check, ≈ 0.1 µs each,
 * about 30 times per job span).
 *
 * Only for a span of the SDK (`@opentelemetry/sdk-trace` 2.x–3.x `SpanImpl`) that is still
 * writable, with a non-empty key and a string, number or boolean value, or an array of strings
 * (stored as a copy): the same rules are applied (attribute count limit with
 * `droppedAttributesCount` and the SDK's one warning, value length limit for strings and for each
 * element of a string array). Any other span, a `setAttribute` replaced on the instance, or a limit the SDK
 * would warn about goes through `span.setAttribute` itself, so the result is always what the SDK
 * would have stored.
 */
import { type AttributeValue, diag, type Span } from "@opentelemetry/api";

/** The fields of the SDK's SpanImpl this relies on (checked on every call). */
interface SdkSpanFields {
  attributes: Record<string, AttributeValue | undefined>;
  _attributesCount: number;
  _droppedAttributesCount: number;
  _ended: boolean;
  _spanLimits: { attributeCountLimit?: number; attributeValueLengthLimit?: number } | undefined;
}

/** Prototypes already checked: SpanImpl's own setAttribute, not a subclass's or a wrapper's. */
const sdkPrototypes = new WeakMap<object, boolean>();

/**
 * Whether setSpanAttribute may write to this span directly. Checked once per batch of writes made
 * in one synchronous run (nothing can end the span in between).
 */
export function isSdkSpan(span: object): span is SdkSpanFields {
  const proto = Object.getPrototypeOf(span) as object | null;
  if (proto === null) return false;
  let known = sdkPrototypes.get(proto);
  if (known === undefined) {
    known =
      (proto as { constructor?: { name?: unknown } }).constructor?.name === "SpanImpl" &&
      Object.hasOwn(proto, "setAttribute") &&
      Object.hasOwn(proto, "_isSpanEnded");
    sdkPrototypes.set(proto, known);
  }
  if (!known || Object.hasOwn(span, "setAttribute")) return false;
  const s = span as Partial<SdkSpanFields>;
  return (
    s._ended === false &&
    typeof s._attributesCount === "number" &&
    typeof s._droppedAttributesCount === "number" &&
    typeof s.attributes === "object" &&
    s.attributes !== null &&
    typeof s._spanLimits === "object" &&
    s._spanLimits !== null
  );
}

/**
 * `span.setAttribute(key, value)`, faster for primitive values on an SDK span (see above). `direct`:
 * isSdkSpan(span), when the caller has just checked it.
 */
export function setSpanAttribute(
  span: Span,
  key: string,
  value: AttributeValue,
  direct: boolean = isSdkSpan(span),
): void {
  if (
    !direct ||
    (typeof value !== "string" &&
      typeof value !== "number" &&
      typeof value !== "boolean" &&
      !isStringArray(value)) ||
    key.length === 0
  ) {
    span.setAttribute(key, value);
    return;
  }
  const sdk = span as unknown as SdkSpanFields;
  const limits = sdk._spanLimits as NonNullable<SdkSpanFields["_spanLimits"]>;
  const attributes = sdk.attributes;
  const isNew = !Object.hasOwn(attributes, key);
  if (isNew && sdk._attributesCount >= (limits.attributeCountLimit as number)) {
    sdk._droppedAttributesCount++;
    if (sdk._droppedAttributesCount === 1) diag.warn("Dropping extra attributes.");
    return;
  }
  if (typeof value === "string") {
    const limit = limits.attributeValueLengthLimit;
    if (limit !== undefined && !(limit > 0)) {
      // The SDK warns about such a limit; let it.
      span.setAttribute(key, value);
      return;
    }
    if (limit !== undefined && value.length > limit) value = value.substring(0, limit);
  } else if (typeof value === "object") {
    // A string array: stored as a copy, each element cut to the length limit, as the SDK does.
    const limit = limits.attributeValueLengthLimit;
    if (limit !== undefined && !(limit > 0)) {
      span.setAttribute(key, value);
      return;
    }
    const copy = (value as readonly string[]).slice();
    if (limit !== undefined) {
      for (let i = 0; i < copy.length; i++) {
        const s = copy[i] as string;
        if (s.length > limit) copy[i] = s.substring(0, limit);
      }
    }
    value = copy;
  }
  attributes[key] = value;
  if (isNew) sdk._attributesCount++;
}

/** A dense array whose elements are all strings (what the carbon.boundary.* attributes are). */
function isStringArray(value: unknown): value is readonly string[] {
  if (!Array.isArray(value)) return false;
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== "string") return false;
  return true;
}

/**
 * The attribute object of an SDK span, for writing `room` attributes into it directly with plain
 * stores, one statement per key (see enrichJobSpanInto): only when the span is writable, has at
 * least `room` slots left under its attribute count limit and has no value length limit, so every
 * write is one the SDK would have made unchanged. Otherwise undefined: use setSpanAttribute.
 * After the writes, call recountSpanAttributes.
 */
export function directSpanAttributes(
  span: object,
  room: number,
): Record<string, AttributeValue | undefined> | undefined {
  if (!isSdkSpan(span)) return undefined;
  const limits = span._spanLimits as NonNullable<SdkSpanFields["_spanLimits"]>;
  const lengthLimit = limits.attributeValueLengthLimit;
  if (lengthLimit !== undefined && lengthLimit !== Number.POSITIVE_INFINITY) return undefined;
  const countLimit = limits.attributeCountLimit;
  if (typeof countLimit !== "number" || span._attributesCount + room > countLimit) return undefined;
  return span.attributes;
}

/**
 * Sets an SDK span's attribute count after direct writes: its own keys, as the SDK counts them when
 * it creates a span. (for…in with Object.prototype.hasOwnProperty, which V8 answers from the
 * enumeration cache: ≈ 20 ns for 45 keys and no allocation; Object.keys allocates an array,
 * Object.hasOwn takes ≈ 0.5 µs.)
 */
export function recountSpanAttributes(span: object): void {
  const sdk = span as SdkSpanFields;
  const attributes = sdk.attributes;
  let count = 0;
  for (const key in attributes) if (isOwnKey.call(attributes, key)) count++;
  sdk._attributesCount = count;
}

/** Object.prototype.hasOwnProperty: inside for…in, V8 answers it from the enumeration cache. */
const isOwnKey = Object.prototype.hasOwnProperty;
