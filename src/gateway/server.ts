/**
 * `co2e collector`: an OTLP/HTTP receiver (`POST /v1/traces`, protobuf or JSON, optionally gzip)
 * that enriches job spans with the shared enrichment core, forwards every accepted span to an
 * optional downstream OTLP endpoint, and serves the job metrics on a separate /metrics listener.
 *
 * Safety: body limit enforced while reading (the OTel JS exporter sends chunked bodies without
 * Content-Length), decompressed-size limit, concurrency limit, optional bearer token, and a
 * forward queue whose room is reserved before a request is acknowledged (503 + Retry-After when
 * full). Error bodies are `google.rpc.Status` in the request's encoding, as OTLP/HTTP asks
 * (plain text when the request names neither OTLP encoding).
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzip } from "node:zlib";
import { type Config, resolveLogicalCores } from "../config.ts";
import { Co2eError, ERROR_CODES, isCo2eError } from "../errors.ts";
import { createIntensityProvider } from "../intensity/index.ts";
import type { IntensityProvider } from "../intensity/types.ts";
import { gatewayResource, registerGatewayMetrics } from "../metrics/gateway-metrics.ts";
import type { PrometheusMetrics } from "../metrics/prometheus.ts";
import { createPrometheusMetrics } from "../metrics/prometheus.ts";
import { CARBON_METER_NAME } from "../metrics/views.ts";
import { httpOrigin, parseHostPort } from "../util/host-port.ts";
import { BodyTooLargeError, readBodyLimited } from "../util/read-body.ts";
import { EarlyAdmission } from "./early-admission.ts";
import type { EnrichContext, JobRecorder } from "./enrich-request.ts";
import {
  DroppingSink,
  Forwarder,
  type ForwarderStats,
  OTLP_TRACES_PATH,
  type SpanSink,
} from "./forwarder.ts";
import { type GrpcReceiver, startGrpcReceiver } from "./grpc-receiver.ts";
import { encodeResponseJson, encodeResponseProto, encodeStatusProto } from "./otlp-encode.ts";
import { decodeExport, enrichAndEncode, forwardBytesEstimate, type OtlpEncoding } from "./pipeline.ts";

export const TRACES_PATH = OTLP_TRACES_PATH;
/** Seconds a client is asked to wait after 429/503. */
const RETRY_AFTER_SECONDS = 1;
/** After a 413 the rest of the body is read and discarded (so the client sees the answer) up to this. */
const MAX_DISCARD_BYTES = 64 * 1024 * 1024;

export interface GatewayStats extends ForwarderStats {
  /** Spans decoded from requests (before limits and validation). */
  receivedSpans: number;
  /** Spans acknowledged and handed to the forward queue. */
  acceptedSpans: number;
  /** Invalid spans refused in partial_success. */
  rejectedSpans: number;
  /** Spans of decoded requests refused as a whole (413 too many spans, 503 queue full); clients retry them. */
  refusedSpans: number;
  jobSpans: number;
  /** Job spans the gateway enriched (not those enriched upstream). */
  enrichedSpans: number;
  /** Requests to the OTLP path (TRACES_PATH) answered 4xx/5xx, by status. */
  refusedRequests: Record<number, number>;
  /** Requests to the OTLP path answered, by status (2xx included); /healthz, /readyz and 404s are not counted. */
  requestsByCode: Record<number, number>;
  pendingSpans: number;
  /** Bytes counted against gateway.forwardQueueBytes now (queued, in flight, reserved). */
  pendingBytes: number;
  /** Highest pendingBytes since start. */
  peakPendingBytes: number;
  /** OTLP requests being read or processed now. */
  inflightRequests: number;
}

export interface Gateway {
  /** `http://host:port` of the OTLP receiver (POST `${url}/v1/traces`). */
  url: string;
  metricsUrl: string;
  /** The downstream URL batches are posted to (`/v1/traces` added to a bare origin), if any. */
  forwardUrl: string | undefined;
  /** HOST:PORT of the OTLP/gRPC receiver when gateway.grpcListen is set. */
  grpcAddress: string | undefined;
  stats(): GatewayStats;
  /** Graceful stop: refuse new requests, finish in-flight ones, flush the queue. True if nothing was lost. */
  close(): Promise<boolean>;
}

export interface GatewayOptions {
  /** @default process.env (bearer token variable, Electricity Maps token) */
  env?: NodeJS.ProcessEnv;
  /** @default stderr with a `co2e collector:` prefix */
  log?: (msg: string) => void;
  /** Replaces the provider from config (tests). */
  provider?: IntensityProvider;
  /** Replaces the Prometheus metrics (tests, benchmarks); then no /metrics listener is started. */
  metrics?: JobRecorder;
}

/**
 * A listener could not be opened (port in use, no permission, address not on this host). Not a
 * configuration error: the same config works once the port is free. `co2e collector` exits 1.
 */
export class ListenError extends Error {
  readonly address: string;
  constructor(address: string, cause: unknown) {
    super(`cannot listen on ${address}: ${listenReason(cause)}`, { cause });
    this.name = "ListenError";
    this.address = address;
  }
}

const LISTEN_REASONS: Record<string, string> = {
  EADDRINUSE: "address already in use",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "address not available on this host",
  ENOTFOUND: "host name not found",
};

function listenReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code && LISTEN_REASONS[code]) return LISTEN_REASONS[code];
  return error instanceof Error ? error.message : String(error);
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * google.rpc.Code values for the Status body (OTLP/HTTP reuses them), following the HTTP mapping
 * documented in googleapis google/rpc/code.proto: INVALID_ARGUMENT 3, NOT_FOUND 5,
 * RESOURCE_EXHAUSTED 8, UNIMPLEMENTED 12, INTERNAL 13, UNAVAILABLE 14, UNAUTHENTICATED 16.
 */
const GRPC_CODE: Record<number, number> = {
  400: 3,
  401: 16,
  404: 5,
  405: 12,
  413: 8,
  415: 3,
  429: 8,
  500: 13,
  503: 14,
};

function mediaType(header: string | undefined): OtlpEncoding | undefined {
  const type = (header ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/x-protobuf") return "protobuf";
  if (type === "application/json") return "json";
  return undefined;
}

/**
 * Reads the body, refusing it (413) once it passes `limit` bytes while still draining it up to
 * MAX_DISCARD_BYTES so the client sees the answer; a body cut short by the client is a 400.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > MAX_DISCARD_BYTES) {
    req.socket.destroySoon();
    throw new HttpError(413, `body of ${declared} bytes exceeds the limit of ${limit} bytes`);
  }
  try {
    return await readBodyLimited(req, limit, { drainUpToBytes: MAX_DISCARD_BYTES });
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw new HttpError(413, error.message);
    throw new HttpError(400, "request body ended early");
  }
}

function gunzipBounded(body: Buffer, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(body, { maxOutputLength: maxBytes }, (error, out) => {
      if (!error) return resolve(out);
      if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || error instanceof RangeError) {
        reject(new HttpError(413, `decompressed body exceeds the limit of ${maxBytes} bytes`));
      } else reject(new HttpError(400, `invalid gzip body: ${error.message}`));
    });
  });
}

export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const gw = config.gateway;
  const env = options.env ?? process.env;
  const log = options.log ?? ((msg: string) => process.stderr.write(`co2e collector: ${msg}\n`));
  let token: Buffer | undefined;
  if (gw.bearerTokenEnv) {
    const value = env[gw.bearerTokenEnv]?.trim();
    if (!value) {
      throw new Co2eError(
        ERROR_CODES.config,
        `gateway.bearerTokenEnv names ${gw.bearerTokenEnv}, which is not set; set it or remove the key`,
      );
    }
    token = Buffer.from(`Bearer ${value}`);
  }
  const listen = parseHostPort(gw.listen);
  const metricsListen = parseHostPort(gw.metricsListen);

  let recorder: JobRecorder;
  let metricsUrl = "";
  let closeMetrics = async () => {};
  let provider = options.provider;
  let prom: PrometheusMetrics | undefined;
  if (options.metrics) recorder = options.metrics;
  else {
    try {
      prom = await createPrometheusMetrics({
        resource: gatewayResource(),
        host: metricsListen.host,
        port: metricsListen.port,
        jobNameLimit: config.metrics.jobNameLimit,
        warn: log,
      });
    } catch (error) {
      throw new ListenError(gw.metricsListen, error);
    }
    recorder = prom.metrics;
    metricsUrl = prom.url;
    const opened = prom;
    closeMetrics = () => opened.shutdown();
    provider ??= createIntensityProvider(config, {
      env,
      observer: prom.metrics.intensityObserver,
      logger: log,
    });
  }
  provider ??= createIntensityProvider(config, { env, logger: log });
  let warnedUncountable = false;
  const ctx: EnrichContext = {
    config,
    logicalCores: resolveLogicalCores(config.model.cpu),
    provider,
    metrics: recorder,
    onUncountable: () => {
      if (warnedUncountable) return;
      warnedUncountable = true;
      log(
        "a job span arrived with carbon.co2e.grams but without carbon.intensity.zone or a known " +
          "carbon.intensity.source; it is forwarded unchanged and not counted in the metrics (logged once)",
      );
    },
  };
  const forwarder = gw.forwardUrl
    ? new Forwarder({
        url: gw.forwardUrl,
        batchSpans: gw.forwardBatchSpans,
        queueSpans: gw.forwardQueueSpans,
        queueBytes: gw.forwardQueueBytes,
        concurrency: gw.forwardConcurrency,
        timeoutMs: gw.forwardTimeoutMs,
        log,
      })
    : undefined;
  const sink: SpanSink = forwarder ?? new DroppingSink();
  if (forwarder) log(`forwarding to ${forwarder.url}`);
  const early = new EarlyAdmission(sink, gw.forwardQueueSpans, gw.forwardQueueBytes);

  const counters = {
    receivedSpans: 0,
    acceptedSpans: 0,
    rejectedSpans: 0,
    refusedSpans: 0,
    jobSpans: 0,
    enrichedSpans: 0,
  };
  const responses: Record<number, number> = {};
  let inflight = 0;
  let shuttingDown = false;
  let listening = false;
  let inflightDone: (() => void) | undefined;

  function send(
    res: ServerResponse,
    status: number,
    body: string | Uint8Array,
    contentType: string,
    headers: Record<string, string> = {},
  ): void {
    if (res.headersSent || res.destroyed) return;
    // co2e_gateway_requests_total counts answers on the OTLP path only (any method, so 405s too).
    if ((res.req.url ?? "/").split("?")[0] === TRACES_PATH) responses[status] = (responses[status] ?? 0) + 1;
    if (shuttingDown) res.setHeader("connection", "close");
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  function fail(res: ServerResponse, status: number, message: string, encoding?: OtlpEncoding): void {
    const headers: Record<string, string> = {};
    if (status === 429 || status === 503) headers["retry-after"] = String(RETRY_AFTER_SECONDS);
    if (status === 401) headers["www-authenticate"] = "Bearer";
    const code = GRPC_CODE[status] ?? 2;
    if (encoding === "protobuf")
      send(res, status, encodeStatusProto(code, message), "application/x-protobuf", headers);
    else if (encoding === "json")
      send(res, status, JSON.stringify({ code, message }), "application/json", headers);
    else send(res, status, `${message}\n`, "text/plain; charset=utf-8", headers);
  }

  function authorised(req: IncomingMessage): boolean {
    if (!token) return true;
    const given = Buffer.from(req.headers.authorization ?? "");
    return given.length === token.length && timingSafeEqual(given, token);
  }

  async function handleExport(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const encoding = mediaType(req.headers["content-type"]);
    if (shuttingDown) return fail(res, 503, "shutting down", encoding);
    if (!authorised(req)) return fail(res, 401, "missing or wrong bearer token", encoding);
    if (!encoding) {
      return fail(res, 415, "content-type must be application/x-protobuf or application/json");
    }
    const contentEncoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
    if (contentEncoding !== "identity" && contentEncoding !== "gzip") {
      return fail(res, 415, `unsupported content-encoding "${contentEncoding}" (gzip or none)`, encoding);
    }
    if (!(await early.admit(Number(req.headers["content-length"]), gw.admissionWaitMs, () => shuttingDown))) {
      return fail(res, 503, shuttingDown ? "shutting down" : "forward queue full; retry later", encoding);
    }
    let body = await readBody(req, gw.bodyLimitBytes);
    if (contentEncoding === "gzip") body = await gunzipBounded(body, gw.decompressedLimitBytes);
    let parsed: ReturnType<typeof decodeExport>;
    try {
      parsed = decodeExport(body, encoding);
    } catch (error) {
      if (isCo2eError(error, ERROR_CODES.otlpDecode)) return fail(res, 400, error.message, encoding);
      throw error;
    }
    counters.receivedSpans += parsed.spanCount;
    const reserveSpans = parsed.spanCount - parsed.rejectedSpans;
    const reserveBytes = forwardBytesEstimate(parsed);
    if (reserveSpans > gw.forwardQueueSpans) {
      counters.refusedSpans += parsed.spanCount;
      return fail(
        res,
        413,
        `request holds ${reserveSpans} spans, more than the queue of ${gw.forwardQueueSpans}`,
        encoding,
      );
    }
    if (reserveBytes > gw.forwardQueueBytes) {
      // It would never fit: a 503 would have the client retry it forever.
      counters.refusedSpans += parsed.spanCount;
      return fail(
        res,
        413,
        `request needs ${reserveBytes} bytes of forward queue once enriched, more than the queue of ${gw.forwardQueueBytes}`,
        encoding,
      );
    }
    if (!(await early.reserve(reserveSpans, reserveBytes, gw.admissionWaitMs, () => shuttingDown))) {
      counters.refusedSpans += parsed.spanCount;
      return fail(res, 503, "forward queue full; retry later", encoding);
    }
    let committed = false;
    try {
      const result = await enrichAndEncode(parsed, ctx);
      sink.commit(reserveSpans, reserveBytes, result.items);
      committed = true;
      counters.acceptedSpans += result.acceptedSpans;
      counters.rejectedSpans += result.rejectedSpans;
      counters.jobSpans += parsed.jobSpans.length;
      counters.enrichedSpans += result.enrichedSpans;
      if (encoding === "protobuf") {
        send(
          res,
          200,
          encodeResponseProto(result.rejectedSpans, result.errorMessage),
          "application/x-protobuf",
        );
      } else
        send(res, 200, encodeResponseJson(result.rejectedSpans, result.errorMessage), "application/json");
    } finally {
      if (!committed) sink.release(reserveSpans, reserveBytes);
    }
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === TRACES_PATH) {
      if (req.method !== "POST") {
        res.setHeader("allow", "POST");
        return fail(res, 405, "use POST", mediaType(req.headers["content-type"]));
      }
      if (inflight >= gw.maxConcurrentRequests) {
        // Answer at once; the unread body is discarded by Node before the connection is reused.
        return fail(
          res,
          429,
          "too many concurrent requests; retry later",
          mediaType(req.headers["content-type"]),
        );
      }
      inflight++;
      handleExport(req, res)
        .catch((error: unknown) => {
          if (error instanceof HttpError)
            fail(res, error.status, error.message, mediaType(req.headers["content-type"]));
          else {
            log(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
            fail(res, 500, "internal error", mediaType(req.headers["content-type"]));
          }
        })
        .finally(() => {
          inflight--;
          if (inflight === 0) inflightDone?.();
        });
      return;
    }
    if (req.method === "GET" && path === "/healthz") return send(res, 200, "ok\n", "text/plain");
    if (req.method === "GET" && path === "/readyz") {
      const ready = listening && !shuttingDown && !sink.full;
      return send(res, ready ? 200 : 503, ready ? "ready\n" : "not ready\n", "text/plain");
    }
    fail(
      res,
      404,
      `not found; OTLP traces go to POST ${TRACES_PATH}`,
      mediaType(req.headers["content-type"]),
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch(async (error) => {
    await closeMetrics().catch(() => {});
    throw new ListenError(gw.listen, error);
  });
  listening = true;
  const port = (server.address() as AddressInfo).port;
  let grpcReceiver: GrpcReceiver | undefined;
  if (gw.grpcListen) {
    grpcReceiver = await startGrpcReceiver({
      listen: gw.grpcListen,
      core: {
        ctx,
        sink,
        counters,
        forwardQueueSpans: gw.forwardQueueSpans,
        forwardQueueBytes: gw.forwardQueueBytes,
      },
      maxMessageBytes: gw.decompressedLimitBytes,
      maxConcurrentRequests: gw.maxConcurrentRequests,
      token,
      isShuttingDown: () => shuttingDown,
      log,
    }).catch(async (error) => {
      server.close();
      await closeMetrics().catch(() => {});
      throw new ListenError(gw.grpcListen!, error);
    });
  }
  let closing: Promise<boolean> | undefined;

  async function shutdown(): Promise<boolean> {
    shuttingDown = true;
    const deadline = Date.now() + gw.shutdownTimeoutMs;
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (inflight > 0) {
      await Promise.race([
        new Promise<void>((resolve) => {
          inflightDone = resolve;
        }),
        new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref()),
      ]);
    }
    await grpcReceiver?.close(deadline);
    const flushed = await sink.flush(deadline);
    await sink.close();
    const lost = sink.stats.lostAtShutdownSpans;
    if (lost > 0) {
      const why = forwarder?.lastError ? ` (last attempt: ${forwarder.lastError})` : "";
      log(
        `shutdown deadline (${gw.shutdownTimeoutMs} ms) reached: ${lost} acknowledged span(s) ` +
          `were not forwarded to ${forwarder?.url ?? "the downstream"} and are lost${why}`,
      );
    }
    if (inflight > 0) log(`shutdown deadline passed with ${inflight} request(s) still being processed`);
    server.closeAllConnections();
    await serverClosed;
    await provider?.close().catch(() => {});
    await closeMetrics().catch(() => {});
    return flushed && lost === 0 && inflight === 0;
  }

  const stats = (): GatewayStats => {
    const refusedRequests: Record<number, number> = {};
    for (const [code, count] of Object.entries(responses))
      if (Number(code) >= 400) refusedRequests[Number(code)] = count;
    return {
      ...counters,
      ...sink.stats,
      refusedRequests,
      requestsByCode: { ...responses },
      pendingSpans: sink.pendingSpans,
      pendingBytes: sink.pendingBytes,
      peakPendingBytes: sink.peakPendingBytes,
      inflightRequests: inflight,
    };
  };
  if (prom) {
    registerGatewayMetrics(prom.meterProvider.getMeter(CARBON_METER_NAME), {
      requestsByCode: () => responses,
      spans: () => {
        const s = sink.stats;
        return {
          received: counters.receivedSpans,
          enriched: counters.enrichedSpans,
          forwarded: s.forwardedSpans,
          dropped: s.droppedSpans,
          rejected: counters.rejectedSpans + counters.refusedSpans,
        };
      },
      queuedSpans: () => sink.pendingSpans,
    });
  }

  return {
    url: httpOrigin(listen.host, port),
    metricsUrl,
    forwardUrl: forwarder?.url,
    grpcAddress: grpcReceiver?.address,
    stats,
    close: () => {
      closing ??= shutdown();
      return closing;
    },
  };
}
