/**
 * The OTLP trace messages the gateway reads and writes, as one table: field number, proto name,
 * JSON name, wire type and value type per field. The protobuf scanner (otlp-proto.ts), the JSON
 * reader (otlp-json.ts), the encoder (otlp-encode.ts) and the reference protobufjs Root
 * (schema.ts) all take their numbers from here.
 *
 * Source: opentelemetry-proto v1.7.0, `opentelemetry/proto/common/v1/common.proto`,
 * `resource/v1/resource.proto`, `trace/v1/trace.proto`, `collector/trace/v1/trace_service.proto`;
 * JSON names are the lowerCamelCase names of the proto3 JSON mapping that OTLP/JSON uses (its
 * `docs/specification.md`, "JSON Protobuf Encoding"). `RpcStatus` is `google.rpc.Status` from
 * googleapis `google/rpc/status.proto`, the body OTLP/HTTP puts on error answers.
 */

import { WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT } from "./wire.ts";

/**
 * Value types. `hexId` is a `bytes` field that OTLP/JSON writes as hex (trace and span ids);
 * `enum` is an int32 enum (OTLP/JSON writes enums as integers).
 */
export type ScalarType =
  | "string"
  | "bytes"
  | "hexId"
  | "bool"
  | "int64"
  | "int32"
  | "uint32"
  | "enum"
  | "double"
  | "fixed64"
  | "fixed32";

export interface FieldSpec {
  readonly no: number;
  /** Name in the .proto file (snake_case), used in error paths of the protobuf scanner. */
  readonly proto: string;
  /** Name in OTLP/JSON (lowerCamelCase). */
  readonly json: string;
  readonly wire: number;
  /** A scalar type, or the name of the nested message. */
  readonly type: ScalarType | MessageName;
  readonly repeated?: true;
}

const WIRE_OF: Record<ScalarType, number> = {
  string: WIRE_LEN,
  bytes: WIRE_LEN,
  hexId: WIRE_LEN,
  bool: WIRE_VARINT,
  int64: WIRE_VARINT,
  int32: WIRE_VARINT,
  uint32: WIRE_VARINT,
  enum: WIRE_VARINT,
  double: WIRE_I64,
  fixed64: WIRE_I64,
  fixed32: WIRE_I32,
};

export type MessageName =
  | "AnyValue"
  | "ArrayValue"
  | "KeyValueList"
  | "KeyValue"
  | "InstrumentationScope"
  | "Resource"
  | "Status"
  | "Event"
  | "Link"
  | "Span"
  | "ScopeSpans"
  | "ResourceSpans"
  | "ExportTraceServiceRequest"
  | "ExportTracePartialSuccess"
  | "ExportTraceServiceResponse"
  | "RpcStatus";

function field(
  no: number,
  proto: string,
  json: string,
  type: ScalarType | MessageName,
  repeated?: "repeated",
): FieldSpec {
  const wire = type in WIRE_OF ? WIRE_OF[type as ScalarType] : WIRE_LEN;
  return repeated ? { no, proto, json, wire, type, repeated: true } : { no, proto, json, wire, type };
}

const attributes = (no: number) => field(no, "attributes", "attributes", "KeyValue", "repeated");
const droppedAttributes = (no: number) =>
  field(no, "dropped_attributes_count", "droppedAttributesCount", "uint32");

/** Every message, its fields in declaration order; AnyValue's fields form its `value` oneof. */
export const OTLP = {
  AnyValue: {
    stringValue: field(1, "string_value", "stringValue", "string"),
    boolValue: field(2, "bool_value", "boolValue", "bool"),
    intValue: field(3, "int_value", "intValue", "int64"),
    doubleValue: field(4, "double_value", "doubleValue", "double"),
    arrayValue: field(5, "array_value", "arrayValue", "ArrayValue"),
    kvlistValue: field(6, "kvlist_value", "kvlistValue", "KeyValueList"),
    bytesValue: field(7, "bytes_value", "bytesValue", "bytes"),
  },
  ArrayValue: { values: field(1, "values", "values", "AnyValue", "repeated") },
  KeyValueList: { values: field(1, "values", "values", "KeyValue", "repeated") },
  KeyValue: { key: field(1, "key", "key", "string"), value: field(2, "value", "value", "AnyValue") },
  InstrumentationScope: {
    name: field(1, "name", "name", "string"),
    version: field(2, "version", "version", "string"),
    attributes: attributes(3),
    droppedAttributesCount: droppedAttributes(4),
  },
  Resource: { attributes: attributes(1), droppedAttributesCount: droppedAttributes(2) },
  Status: { message: field(2, "message", "message", "string"), code: field(3, "code", "code", "enum") },
  Event: {
    timeUnixNano: field(1, "time_unix_nano", "timeUnixNano", "fixed64"),
    name: field(2, "name", "name", "string"),
    attributes: attributes(3),
    droppedAttributesCount: droppedAttributes(4),
  },
  Link: {
    traceId: field(1, "trace_id", "traceId", "hexId"),
    spanId: field(2, "span_id", "spanId", "hexId"),
    traceState: field(3, "trace_state", "traceState", "string"),
    attributes: attributes(4),
    droppedAttributesCount: droppedAttributes(5),
    flags: field(6, "flags", "flags", "fixed32"),
  },
  Span: {
    traceId: field(1, "trace_id", "traceId", "hexId"),
    spanId: field(2, "span_id", "spanId", "hexId"),
    traceState: field(3, "trace_state", "traceState", "string"),
    parentSpanId: field(4, "parent_span_id", "parentSpanId", "hexId"),
    name: field(5, "name", "name", "string"),
    kind: field(6, "kind", "kind", "enum"),
    startTimeUnixNano: field(7, "start_time_unix_nano", "startTimeUnixNano", "fixed64"),
    endTimeUnixNano: field(8, "end_time_unix_nano", "endTimeUnixNano", "fixed64"),
    attributes: attributes(9),
    droppedAttributesCount: droppedAttributes(10),
    events: field(11, "events", "events", "Event", "repeated"),
    droppedEventsCount: field(12, "dropped_events_count", "droppedEventsCount", "uint32"),
    links: field(13, "links", "links", "Link", "repeated"),
    droppedLinksCount: field(14, "dropped_links_count", "droppedLinksCount", "uint32"),
    status: field(15, "status", "status", "Status"),
    flags: field(16, "flags", "flags", "fixed32"),
  },
  ScopeSpans: {
    scope: field(1, "scope", "scope", "InstrumentationScope"),
    spans: field(2, "spans", "spans", "Span", "repeated"),
    schemaUrl: field(3, "schema_url", "schemaUrl", "string"),
  },
  ResourceSpans: {
    resource: field(1, "resource", "resource", "Resource"),
    scopeSpans: field(2, "scope_spans", "scopeSpans", "ScopeSpans", "repeated"),
    schemaUrl: field(3, "schema_url", "schemaUrl", "string"),
  },
  ExportTraceServiceRequest: {
    resourceSpans: field(1, "resource_spans", "resourceSpans", "ResourceSpans", "repeated"),
  },
  ExportTracePartialSuccess: {
    rejectedSpans: field(1, "rejected_spans", "rejectedSpans", "int64"),
    errorMessage: field(2, "error_message", "errorMessage", "string"),
  },
  ExportTraceServiceResponse: {
    partialSuccess: field(1, "partial_success", "partialSuccess", "ExportTracePartialSuccess"),
  },
  RpcStatus: { code: field(1, "code", "code", "int32"), message: field(2, "message", "message", "string") },
} as const satisfies Record<MessageName, Record<string, FieldSpec>>;

/** Fields of a message by field number (the scanner's view of the table). */
export function fieldsByNumber(message: MessageName): ReadonlyMap<number, FieldSpec> {
  let map = BY_NUMBER.get(message);
  if (!map) {
    map = new Map(Object.values(OTLP[message] as Record<string, FieldSpec>).map((f) => [f.no, f]));
    BY_NUMBER.set(message, map);
  }
  return map;
}
const BY_NUMBER = new Map<MessageName, ReadonlyMap<number, FieldSpec>>();

export function isMessageType(type: FieldSpec["type"]): type is MessageName {
  return type in OTLP;
}

/** The first byte(s) of a field: `field number << 3 | wire type`. */
export function tagOf(f: FieldSpec): number {
  return f.no * 8 + f.wire;
}
