/**
 * A downstream OTLP/gRPC receiver for tests: a real @grpc/grpc-js server on 127.0.0.1 serving
 * TraceService/Export with raw bytes, decoding every request with the reference schema
 * (spansOf). `answer(n)` scripts the status of call n (0-based): undefined = OK, else a gRPC
 * code, optionally with a `google.rpc.RetryInfo` delay in the trailers. Records each call's
 * arrival time, client peer (one per HTTP/2 connection) and the most calls in flight at once.
 */
import * as grpc from "@grpc/grpc-js";
import { TRACE_EXPORT_PATH } from "../../src/gateway/grpc-receiver.ts";
import { Encoder } from "../../src/gateway/wire.ts";
import { type SinkSpan, spansOf } from "./otlp-sink.ts";

export interface ScriptedStatus {
  code: grpc.status;
  details?: string;
  /** Adds a RetryInfo with this delay (ms). */
  retryDelayMs?: number;
}

export interface GrpcSinkCall {
  at: number;
  peer: string;
  code: grpc.status;
  spans: number;
}

export interface GrpcSink {
  /** http://127.0.0.1:PORT, the form --forward takes with --forward-protocol grpc. */
  url: string;
  port: number;
  /** Spans of the calls answered OK. */
  spans: SinkSpan[];
  calls: GrpcSinkCall[];
  maxInFlight: number;
  waitForSpans(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** `google.rpc.Status` with one RetryInfo detail (googleapis google/rpc/status.proto, error_details.proto). */
export function statusWithRetryInfo(code: number, message: string, delayMs: number): Buffer {
  const seconds = Math.floor(delayMs / 1000);
  const nanos = Math.round((delayMs - seconds * 1000) * 1e6);
  const duration = new Encoder().uint(1, seconds).uint(2, nanos);
  const retryInfo = new Encoder().message(1, duration);
  const any = new Encoder().string(1, "type.googleapis.com/google.rpc.RetryInfo").message(2, retryInfo);
  return Buffer.from(new Encoder().uint(1, code).string(2, message).message(3, any).finish());
}

export async function startGrpcSink(
  options: { answer?: (n: number) => ScriptedStatus | undefined; delayMs?: number; port?: number } = {},
): Promise<GrpcSink> {
  const spans: SinkSpan[] = [];
  const calls: GrpcSinkCall[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const id = (b: Buffer) => b;
  const server = new grpc.Server();
  server.addService(
    {
      Export: {
        path: TRACE_EXPORT_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: id,
        requestDeserialize: id,
        responseSerialize: id,
        responseDeserialize: id,
      },
    },
    {
      Export(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
        const n = calls.length;
        const scripted = options.answer?.(n);
        const decoded = spansOf(call.request);
        calls.push({
          at: Date.now(),
          peer: call.getPeer(),
          code: scripted?.code ?? grpc.status.OK,
          spans: decoded.length,
        });
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const reply = () => {
          inFlight--;
          if (scripted) {
            const metadata = new grpc.Metadata();
            const details = scripted.details ?? grpc.status[scripted.code]!;
            if (scripted.retryDelayMs !== undefined)
              metadata.set(
                "grpc-status-details-bin",
                statusWithRetryInfo(scripted.code, details, scripted.retryDelayMs),
              );
            return callback({ code: scripted.code, details, metadata });
          }
          spans.push(...decoded);
          callback(null, Buffer.alloc(0));
          for (const w of waiters.filter((w) => spans.length >= w.n)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve();
          }
        };
        if (options.delayMs) setTimeout(reply, options.delayMs);
        else reply();
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    spans,
    calls,
    get maxInFlight() {
      return maxInFlight;
    },
    waitForSpans(n, timeoutMs = 10_000) {
      if (spans.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`gRPC sink has ${spans.length} spans, waited for ${n}`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    close: async () => server.forceShutdown(),
  };
}
