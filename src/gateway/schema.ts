/**
 * The OTLP trace messages as a protobufjs Root, built from the field table in otlp-fields.ts (no
 * npm package ships the current `.proto` files). The gateway's hot path uses its own scanner
 * (otlp-proto.ts); this Root is the reference decoder for tests, the downstream sink helper and
 * the benchmark baseline.
 */
import protobuf from "protobufjs";
import { type FieldSpec, isMessageType, type MessageName, OTLP, type ScalarType } from "./otlp-fields.ts";

/** protobufjs type names for the table's value types. */
const PROTOBUFJS_TYPE: Record<ScalarType, string> = {
  string: "string",
  bytes: "bytes",
  hexId: "bytes",
  bool: "bool",
  int64: "int64",
  int32: "int32",
  uint32: "uint32",
  enum: "int32",
  double: "double",
  fixed64: "fixed64",
  fixed32: "fixed32",
};

function descriptor(): protobuf.INamespace {
  const nested: Record<string, protobuf.IType> = {};
  for (const [name, fields] of Object.entries(OTLP) as [MessageName, Record<string, FieldSpec>][]) {
    const out: Record<string, protobuf.IField & { rule?: string }> = {};
    for (const f of Object.values(fields)) {
      const type = isMessageType(f.type) ? f.type : PROTOBUFJS_TYPE[f.type];
      out[f.json] = f.repeated ? { type, id: f.no, rule: "repeated" } : { type, id: f.no };
    }
    nested[name] = { fields: out };
  }
  nested.AnyValue!.oneofs = { value: { oneof: Object.keys(OTLP.AnyValue) } };
  return { nested: { otlp: { nested } } };
}

let root: protobuf.Root | undefined;

export function otlpRoot(): protobuf.Root {
  root ??= protobuf.Root.fromJSON(descriptor());
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
