/**
 * `co2e collector`: an OTLP/HTTP receiver (`POST /v1/traces`, protobuf or JSON, optionally gzip),
 * and an OTLP/gRPC receiver when `gateway.grpcListen` is set, that enriches job spans with the shared enrichment core, forwards every accepted span to an
 * optional downstream OTLP endpoint, and serves the job metrics on a separate /metrics listener.
 *
 * This module wires the parts and owns the lifecycle (listen, route, shutdown): auth.ts (bearer
 * token), admission.ts (concurrency, queue reservation, refusal before the body is read),
 * request-body.ts (size, time, rate and decompression bounds), export-core.ts (one export request,
 * either transport), export-handler.ts (its HTTP side), grpc-receiver.ts (its gRPC side),
 * gateway-stats.ts (counters and
 * metrics), http-answer.ts (answers in the request's encoding), json-pool.ts (JSON converted off
 * the event loop).
 *
 * Slow clients: a connection must deliver its first request's headers within
 * `gateway.headersTimeoutMs` (a timer per connection; later requests on a kept-alive connection are
 * held to the same bound by Node's check, run every HEADERS_CHECK_MS), and a body must arrive
 * within `gateway.bodyTimeoutMs` and above `gateway.minBodyBytesPerSecond` (request-body.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { type Config, resolveLogicalCores } from "../config.ts";
import { Co2eError, ERROR_CODES } from "../errors.ts";
import { createIntensityProvider } from "../intensity/index.ts";
import type { IntensityProvider } from "../intensity/types.ts";
import { gatewayResource } from "../metrics/gateway-metrics.ts";
import type { PrometheusMetrics } from "../metrics/prometheus.ts";
import { createPrometheusMetrics } from "../metrics/prometheus.ts";
import { httpOrigin, parseHostPort } from "../util/host-port.ts";
import { listenReason } from "../util/listen-reason.ts";
import { Admission, QueueAdmission } from "./admission.ts";
import { bearerAuthorizer } from "./auth.ts";
import type { EnrichContext, JobRecorder } from "./enrich-request.ts";
import { handleExport } from "./export-handler.ts";
import { DroppingSink, Forwarder, OTLP_TRACES_PATH, type SpanSink } from "./forwarder.ts";
import { type GatewayStats, gatewayStats, newSpanCounters, registerStatsMetrics } from "./gateway-stats.ts";
import { grpcForwarder } from "./grpc-forwarder.ts";
import { type GrpcReceiver, startGrpcReceiver } from "./grpc-receiver.ts";
import { Answers, HttpError, requestPath } from "./http-answer.ts";
import { JsonPool } from "./json-pool.ts";

export type { GatewayStats } from "./gateway-stats.ts";

export const TRACES_PATH = OTLP_TRACES_PATH;
/** How often Node checks header and request deadlines of kept-alive connections. */
const HEADERS_CHECK_MS = 1000;
/** After refusing a body it did not read, the gateway discards what still arrives this long, then closes. */
const LINGER_MS = 1000;

export interface Gateway {
  /** `http://host:port` of the OTLP receiver (POST `${url}/v1/traces`). */
  url: string;
  metricsUrl: string;
  /**
   * The downstream URL batches are posted to (`/v1/traces` added to a bare origin), or with
   * gateway.forwardProtocol grpc the origin whose TraceService/Export is called; undefined without one.
   */
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
export class ListenError extends Co2eError {
  readonly address: string;
  constructor(address: string, cause: unknown) {
    super(ERROR_CODES.listen, `cannot listen on ${address}: ${listenReason(cause)}`, { cause });
    this.name = "ListenError";
    this.address = address;
  }
}

interface Telemetry {
  recorder: JobRecorder;
  provider: IntensityProvider;
  prom: PrometheusMetrics | undefined;
}

/** The job recorder (Prometheus listener unless replaced) and the intensity provider. */
async function openTelemetry(
  config: Config,
  options: GatewayOptions,
  env: NodeJS.ProcessEnv,
  log: (m: string) => void,
): Promise<Telemetry> {
  if (options.metrics) {
    return {
      recorder: options.metrics,
      provider: options.provider ?? createIntensityProvider(config, { env, logger: log }),
      prom: undefined,
    };
  }
  const metricsListen = parseHostPort(config.gateway.metricsListen);
  let prom: PrometheusMetrics;
  try {
    prom = await createPrometheusMetrics({
      resource: gatewayResource(),
      host: metricsListen.host,
      port: metricsListen.port,
      jobNameLimit: config.metrics.jobNameLimit,
      fullHistograms: config.metrics.fullHistograms,
      warn: log,
    });
  } catch (error) {
    throw new ListenError(config.gateway.metricsListen, error);
  }
  const provider =
    options.provider ??
    createIntensityProvider(config, { env, observer: prom.metrics.intensityObserver, logger: log });
  return { recorder: prom.metrics, provider, prom };
}

/** After an answer to a request whose body was not read to its end: discard a little, then close. */
function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader("connection", "close");
  res.once("finish", () => {
    req.resume();
    setTimeout(() => req.socket.destroy(), LINGER_MS).unref();
  });
}

/**
 * A timer per connection for its first request's headers: destroyed when they are not complete
 * within `ms` (Node's own check only runs every HEADERS_CHECK_MS).
 */
function watchHeaders(socket: Socket, ms: number): void {
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  const clear = () => clearTimeout(timer);
  socket.once("close", clear);
  (socket as Socket & { co2eHeadersTimer?: () => void }).co2eHeadersTimer = clear;
}

function headersArrived(socket: Socket): void {
  (socket as Socket & { co2eHeadersTimer?: () => void }).co2eHeadersTimer?.();
}

export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const gw = config.gateway;
  const env = options.env ?? process.env;
  const log = options.log ?? ((msg: string) => process.stderr.write(`co2e collector: ${msg}\n`));
  const authorize = bearerAuthorizer(gw.bearerTokenEnv, env);
  const listen = parseHostPort(gw.listen);
  const { recorder, provider, prom } = await openTelemetry(config, options, env, log);
  const closeMetrics = async () => prom?.shutdown();

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
  // The forward queue is the same whichever protocol carries its batches (grpc-forwarder.ts).
  const newForwarder =
    gw.forwardProtocol === "grpc"
      ? grpcForwarder
      : (o: Parameters<typeof grpcForwarder>[0]) => new Forwarder(o);
  const forwarder = gw.forwardUrl
    ? newForwarder({
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
  if (forwarder) log(`forwarding to ${forwarder.url}${gw.forwardProtocol === "grpc" ? " (OTLP/gRPC)" : ""}`);

  const counters = newSpanCounters();
  const answers = new Answers();
  const admission = new Admission(gw.maxConcurrentRequests);
  let listening = false;
  const json = new JsonPool();
  const closing = () => answers.closing;
  const queue = new QueueAdmission(sink, gw, closing);
  const core = { gw, sink, queue, ctx, counters, json, closing };
  const deps = { ...core, answers, authorize };

  function exportRequest(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      answers.fail(res, 405, "use POST");
      return;
    }
    if (!admission.tryEnter()) {
      // Answer at once; the unread body is discarded by Node before the connection is reused.
      answers.fail(res, 429, "too many concurrent requests; retry later");
      return;
    }
    handleExport(req, res, deps)
      .catch((error: unknown) => {
        if (error instanceof HttpError) {
          if ((error.status === 408 || error.status === 413) && !req.complete) closeAfterAnswer(req, res);
          answers.fail(res, error.status, error.message);
        } else {
          log(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
          answers.fail(res, 500, "internal error");
        }
      })
      .finally(() => admission.leave());
  }

  const server = createServer({ connectionsCheckingInterval: HEADERS_CHECK_MS }, (req, res) => {
    headersArrived(req.socket);
    const path = requestPath(req);
    if (path === TRACES_PATH) return exportRequest(req, res);
    if (req.method === "GET" && path === "/healthz") return answers.send(res, 200, "ok\n", "text/plain");
    if (req.method === "GET" && path === "/readyz") {
      const ready = listening && !answers.closing && !sink.full && !admission.saturated;
      return answers.send(res, ready ? 200 : 503, ready ? "ready\n" : "not ready\n", "text/plain");
    }
    answers.fail(res, 404, `not found; OTLP traces go to POST ${TRACES_PATH}`);
  });
  server.on("connection", (socket: Socket) => watchHeaders(socket, gw.headersTimeoutMs));
  server.headersTimeout = gw.headersTimeoutMs;
  // A backstop behind the per-request body timer (request-body.ts), which answers first.
  server.requestTimeout = gw.headersTimeoutMs + gw.bodyTimeoutMs + HEADERS_CHECK_MS;
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
  const port = (server.address() as AddressInfo).port;
  let grpcReceiver: GrpcReceiver | undefined;
  if (gw.grpcListen) {
    grpcReceiver = await startGrpcReceiver({
      listen: gw.grpcListen,
      core,
      maxMessageBytes: gw.decompressedLimitBytes,
      admission,
      authorize,
      log,
    }).catch(async (error) => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await json.close();
      await provider.close().catch(() => {});
      await closeMetrics().catch(() => {});
      throw new ListenError(gw.grpcListen!, error);
    });
  }
  listening = true;
  let closed: Promise<boolean> | undefined;

  async function shutdown(): Promise<boolean> {
    answers.closing = true;
    const deadline = Date.now() + gw.shutdownTimeoutMs;
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // New gRPC calls are answered UNAVAILABLE from here; the listener stops once its calls end.
    const grpcClosed = grpcReceiver?.close(deadline);
    await Promise.race([
      admission.idle(),
      new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref()),
    ]);
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
    const inflight = admission.inflight;
    if (inflight > 0) log(`shutdown deadline passed with ${inflight} request(s) still being processed`);
    server.closeAllConnections();
    await serverClosed;
    await grpcClosed;
    await json.close();
    await provider.close().catch(() => {});
    await closeMetrics().catch(() => {});
    return flushed && lost === 0 && inflight === 0;
  }

  if (prom) registerStatsMetrics(prom, counters, sink, answers, () => grpcReceiver?.callsByStatus ?? {});

  return {
    url: httpOrigin(listen.host, port),
    metricsUrl: prom?.url ?? "",
    forwardUrl: forwarder?.url,
    grpcAddress: grpcReceiver?.address,
    stats: () => gatewayStats(counters, sink, answers, admission, grpcReceiver?.callsByStatus),
    close: () => {
      closed ??= shutdown();
      return closed;
    },
  };
}
