/**
 * OTLP/gRPC receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export` on
 * `gateway.grpcListen`, beside the OTLP/HTTP receiver and feeding the same export core
 * (export-core.ts: `gateway.limits`, queue reservation and its `admissionWaitMs` wait, enrichment,
 * counters), under the same request slots (`gateway.maxConcurrentRequests`, admission.ts) and
 * bearer token (auth.ts).
 * Messages are passed as raw bytes (identity (de)serializers) to the gateway's own protobuf
 * scanner, so spans the gateway does not change are forwarded as received. gzip request
 * compression is handled by @grpc/grpc-js (`grpc-encoding: gzip`).
 *
 * Status codes follow the OTLP specification ("OTLP/gRPC Response", opentelemetry-proto
 * docs/specification.md): INVALID_ARGUMENT for a malformed request (not retryable),
 * UNAUTHENTICATED for a missing or wrong bearer token, UNAVAILABLE when the forward queue is full
 * or the gateway is shutting down and RESOURCE_EXHAUSTED when too many requests are in flight, both
 * with a `google.rpc.RetryInfo` detail (the spec makes RESOURCE_EXHAUSTED retryable only with
 * one), RESOURCE_EXHAUSTED without it for a request that can never fit (413 on OTLP/HTTP), and
 * `partial_success` in the response for spans refused one by one. grpc-js reads a whole message
 * before the handler runs, so the HTTP receiver's refusal before the body is read has no
 * counterpart here.
 */
import * as grpc from "@grpc/grpc-js";
import { parseHostPort } from "../util/host-port.ts";
import type { Admission } from "./admission.ts";
import type { Authorizer } from "./auth.ts";
import { type ExportCoreDeps, processExport } from "./export-core.ts";
import { HttpError } from "./http-answer.ts";
import { encodeResponseProto } from "./otlp-encode.ts";
import { Encoder } from "./wire.ts";

export const TRACE_EXPORT_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/** The type URL of a `google.rpc.RetryInfo` in a `google.rpc.Status`'s details (googleapis error_details.proto). */
export const RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo";
/** Seconds a client is asked to wait (RetryInfo.retry_delay) after UNAVAILABLE/RESOURCE_EXHAUSTED. */
const RETRY_DELAY_SECONDS = 1;

const identity = (b: Buffer): Buffer => b;
const TRACE_SERVICE: grpc.ServiceDefinition = {
  Export: {
    path: TRACE_EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export interface GrpcReceiverOptions {
  /** HOST:PORT; port 0 picks a free port. */
  listen: string;
  core: ExportCoreDeps;
  /** Limit of a request message after decompression, bytes (gateway.decompressedLimitBytes). */
  maxMessageBytes: number;
  /** The request slots shared with the OTLP/HTTP receiver. */
  admission: Admission;
  /** Checks the `authorization` metadata, as the HTTP header. */
  authorize: Authorizer;
  log(msg: string): void;
}

export interface GrpcReceiver {
  /** HOST:PORT actually bound. */
  address: string;
  /** Answers by gRPC status name (OK included). */
  readonly callsByStatus: Readonly<Record<string, number>>;
  /** Stops accepting calls and waits for the ones in flight, at most until `deadlineMs`. */
  close(deadlineMs: number): Promise<void>;
}

/** `google.rpc.Status` with one `google.rpc.RetryInfo { retry_delay = { seconds } }` detail. */
function statusWithRetryInfo(code: number, message: string): Buffer {
  const retryInfo = new Encoder().message(1, new Encoder().uint(1, RETRY_DELAY_SECONDS));
  const any = new Encoder().string(1, RETRY_INFO_TYPE).message(2, retryInfo);
  return Buffer.from(new Encoder().uint(1, code).string(2, message).message(3, any).finish());
}

function errorWithRetry(code: grpc.status, message: string): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set("grpc-status-details-bin", statusWithRetryInfo(code, message));
  return { code, details: message, metadata };
}

/** A refusal of the export core (HTTP status) as the OTLP/gRPC status. */
function failure(error: HttpError): Partial<grpc.StatusObject> {
  switch (error.status) {
    case 400:
      return { code: grpc.status.INVALID_ARGUMENT, details: error.message };
    case 413:
      // No RetryInfo: the same request would be refused again.
      return { code: grpc.status.RESOURCE_EXHAUSTED, details: error.message };
    case 503:
      return errorWithRetry(grpc.status.UNAVAILABLE, error.message);
    default:
      return { code: grpc.status.INTERNAL, details: error.message };
  }
}

export async function startGrpcReceiver(options: GrpcReceiverOptions): Promise<GrpcReceiver> {
  const { core, admission, authorize, log } = options;
  const listen = parseHostPort(options.listen);
  const callsByStatus: Record<string, number> = {};
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.maxMessageBytes,
    "grpc.max_send_message_length": 4 * 1024 * 1024,
  });

  function answer(
    callback: grpc.sendUnaryData<Buffer>,
    error: Partial<grpc.StatusObject> | null,
    body?: Uint8Array,
  ): void {
    const name = grpc.status[error?.code ?? grpc.status.OK] ?? "UNKNOWN";
    callsByStatus[name] = (callsByStatus[name] ?? 0) + 1;
    if (error) callback(error as grpc.ServerErrorResponse);
    else callback(null, Buffer.from(body ?? new Uint8Array(0)));
  }

  function authorised(metadata: grpc.Metadata): boolean {
    const value = metadata.get("authorization")[0];
    return authorize(typeof value === "string" ? value : undefined);
  }

  const handlers: grpc.UntypedServiceImplementation = {
    Export(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      if (core.closing()) return answer(callback, errorWithRetry(grpc.status.UNAVAILABLE, "shutting down"));
      if (!authorised(call.metadata))
        return answer(callback, {
          code: grpc.status.UNAUTHENTICATED,
          details: "missing or wrong bearer token",
        });
      if (!admission.tryEnter()) {
        return answer(
          callback,
          errorWithRetry(grpc.status.RESOURCE_EXHAUSTED, "too many concurrent requests; retry later"),
        );
      }
      processExport(call.request, "protobuf", core)
        .then((ack) => answer(callback, null, encodeResponseProto(ack.rejectedSpans, ack.errorMessage)))
        .catch((error: unknown) => {
          if (error instanceof HttpError) return answer(callback, failure(error));
          log(
            `internal error (gRPC): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
          );
          answer(callback, { code: grpc.status.INTERNAL, details: "internal error" });
        })
        .finally(() => admission.leave());
    },
  };
  server.addService(TRACE_SERVICE, handlers);

  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${listen.port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });

  return {
    address: `${host}:${port}`,
    callsByStatus,
    async close(deadlineMs: number) {
      await Promise.race([
        new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
        new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadlineMs - Date.now())).unref()),
      ]);
      server.forceShutdown();
    },
  };
}
