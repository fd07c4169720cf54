/**
 * The OTLP trace messages as a protobufjs Root, written by this project from the OTLP
 * specification (opentelemetry-proto v1.x; field numbers checked against v1.7.0:
 * common/v1, resource/v1, trace/v1, collector/trace/v1) — no npm package ships the current
 * `.proto` files. The gateway's hot path uses its own scanner (otlp-proto.ts); this Root is the
 * reference decoder for tests, the downstream sink helper and the benchmark baseline.
 * `google.rpc.Status` is the body OTLP/HTTP puts on error responses.
 */
import protobuf from "protobufjs";

const f = (type: string, id: number, rule?: "repeated") => (rule ? { type, id, rule } : { type, id });
const keyValues = (id: number) => f("KeyValue", id, "repeated");

const DESCRIPTOR = {
  nested: {
    otlp: {
      nested: {
        AnyValue: {
          oneofs: {
            value: {
              oneof: [
                "stringValue",
                "boolValue",
                "intValue",
                "doubleValue",
                "arrayValue",
                "kvlistValue",
                "bytesValue",
              ],
            },
          },
          fields: {
            stringValue: f("string", 1),
            boolValue: f("bool", 2),
            intValue: f("int64", 3),
            doubleValue: f("double", 4),
            arrayValue: f("ArrayValue", 5),
            kvlistValue: f("KeyValueList", 6),
            bytesValue: f("bytes", 7),
          },
        },
        ArrayValue: { fields: { values: f("AnyValue", 1, "repeated") } },
        KeyValueList: { fields: { values: keyValues(1) } },
        KeyValue: { fields: { key: f("string", 1), value: f("AnyValue", 2) } },
        InstrumentationScope: {
          fields: {
            name: f("string", 1),
            version: f("string", 2),
            attributes: keyValues(3),
            droppedAttributesCount: f("uint32", 4),
          },
        },
        Resource: { fields: { attributes: keyValues(1), droppedAttributesCount: f("uint32", 2) } },
        Status: { fields: { message: f("string", 2), code: f("int32", 3) } },
        Event: {
          fields: {
            timeUnixNano: f("fixed64", 1),
            name: f("string", 2),
            attributes: keyValues(3),
            droppedAttributesCount: f("uint32", 4),
          },
        },
        Link: {
          fields: {
            traceId: f("bytes", 1),
            spanId: f("bytes", 2),
            traceState: f("string", 3),
            attributes: keyValues(4),
            droppedAttributesCount: f("uint32", 5),
            flags: f("fixed32", 6),
          },
        },
        Span: {
          fields: {
            traceId: f("bytes", 1),
            spanId: f("bytes", 2),
            traceState: f("string", 3),
            parentSpanId: f("bytes", 4),
            flags: f("fixed32", 16),
            name: f("string", 5),
            kind: f("int32", 6),
            startTimeUnixNano: f("fixed64", 7),
            endTimeUnixNano: f("fixed64", 8),
            attributes: keyValues(9),
            droppedAttributesCount: f("uint32", 10),
            events: f("Event", 11, "repeated"),
            droppedEventsCount: f("uint32", 12),
            links: f("Link", 13, "repeated"),
            droppedLinksCount: f("uint32", 14),
            status: f("Status", 15),
          },
        },
        ScopeSpans: {
          fields: {
            scope: f("InstrumentationScope", 1),
            spans: f("Span", 2, "repeated"),
            schemaUrl: f("string", 3),
          },
        },
        ResourceSpans: {
          fields: {
            resource: f("Resource", 1),
            scopeSpans: f("ScopeSpans", 2, "repeated"),
            schemaUrl: f("string", 3),
          },
        },
        ExportTraceServiceRequest: { fields: { resourceSpans: f("ResourceSpans", 1, "repeated") } },
        ExportTracePartialSuccess: { fields: { rejectedSpans: f("int64", 1), errorMessage: f("string", 2) } },
        ExportTraceServiceResponse: { fields: { partialSuccess: f("ExportTracePartialSuccess", 1) } },
        RpcStatus: { fields: { code: f("int32", 1), message: f("string", 2) } },
      },
    },
  },
};

let root: protobuf.Root | undefined;

export function otlpRoot(): protobuf.Root {
  root ??= protobuf.Root.fromJSON(DESCRIPTOR);
  return root;
}

export type OtlpMessageName =
  | "ExportTraceServiceRequest"
  | "ExportTraceServiceResponse"
  | "ResourceSpans"
  | "Span"
  | "KeyValue"
  | "AnyValue"
  | "RpcStatus";

export function otlpType(name: OtlpMessageName): protobuf.Type {
  return otlpRoot().lookupType(`otlp.${name}`);
}
