/**
 * A downstream OTLP/HTTP receiver for tests: listens on 127.0.0.1 (port 0), decodes every
 * protobuf `ExportTraceServiceRequest` the gateway forwards with the project's reference schema
 * (protobufjs), and keeps the spans with their resource attributes. `failFirst` answers the first
 * N requests with a status (to exercise the gateway's retries); `delayMs` slows every answer;
 * `port` binds a given port (a downstream that comes back where the gateway keeps retrying).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { otlpType } from "../../src/gateway/schema.ts";

export type Plain = string | number | boolean | Plain[] | { [key: string]: Plain } | null;

export interface SinkSpan {
  traceId: string;
  spanId: string;
  name: string;
  attributes: Record<string, Plain>;
  resource: Record<string, Plain>;
  /** The span as protobufjs decoded it (Long for fixed64), for exact comparisons. */
  raw: Record<string, unknown>;
  /** The span re-encoded alone, to compare byte content with what was sent. */
  bytes: Uint8Array;
}

interface AnyValueObj {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: { toString(): string } | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValueObj[] };
  kvlistValue?: { values?: { key: string; value?: AnyValueObj }[] };
  bytesValue?: Uint8Array;
}

export function plainValue(v: AnyValueObj | undefined): Plain {
  if (!v) return null;
  // protobufjs puts defaults on the prototype: only own properties were on the wire.
  const has = (k: keyof AnyValueObj) => Object.hasOwn(v, k) && v[k] !== undefined && v[k] !== null;
  if (has("stringValue")) return v.stringValue!;
  if (has("boolValue")) return v.boolValue!;
  if (has("intValue")) return Number(v.intValue!.toString());
  if (has("doubleValue")) return v.doubleValue!;
  if (has("arrayValue")) return (v.arrayValue!.values ?? []).map(plainValue);
  if (has("kvlistValue")) return plainAttributes(v.kvlistValue!.values);
  if (has("bytesValue")) return Buffer.from(v.bytesValue!).toString("base64");
  return null;
}

export function plainAttributes(
  list: { key: string; value?: AnyValueObj }[] | undefined,
): Record<string, Plain> {
  const out: Record<string, Plain> = {};
  for (const kv of list ?? []) out[kv.key] = plainValue(kv.value);
  return out;
}

/** Flattens a decoded request into spans with their resource. */
export function spansOf(bytes: Uint8Array): SinkSpan[] {
  const Req = otlpType("ExportTraceServiceRequest");
  const SpanType = otlpType("Span");
  const msg = Req.decode(bytes) as unknown as {
    resourceSpans: {
      resource?: { attributes?: { key: string; value?: AnyValueObj }[] };
      scopeSpans: { spans: Record<string, unknown>[] }[];
    }[];
  };
  const out: SinkSpan[] = [];
  for (const rs of msg.resourceSpans ?? []) {
    const resource = plainAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        out.push({
          traceId: Buffer.from(span.traceId as Uint8Array).toString("hex"),
          spanId: Buffer.from(span.spanId as Uint8Array).toString("hex"),
          name: String(span.name ?? ""),
          attributes: plainAttributes(span.attributes as { key: string; value?: AnyValueObj }[]),
          resource,
          raw: span,
          bytes: SpanType.encode(SpanType.fromObject(span)).finish(),
        });
      }
    }
  }
  return out;
}

export interface OtlpSink {
  url: string;
  /** Every span received, in arrival order. */
  spans: SinkSpan[];
  requests: number;
  /** Resolves once at least `n` spans arrived (rejects after `timeoutMs`). */
  waitForSpans(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startOtlpSink(
  options: { failFirst?: number; failStatus?: number; delayMs?: number; port?: number } = {},
): Promise<OtlpSink> {
  const spans: SinkSpan[] = [];
  let requests = 0;
  let failLeft = options.failFirst ?? 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const answer = () => {
        requests++;
        if (failLeft > 0) {
          failLeft--;
          res.writeHead(options.failStatus ?? 503, { "retry-after": "0" });
          res.end();
          return;
        }
        try {
          spans.push(...spansOf(Buffer.concat(chunks)));
        } catch (error) {
          res.writeHead(400);
          res.end(String(error));
          return;
        }
        res.writeHead(200, { "content-type": "application/x-protobuf" });
        res.end();
        for (const w of waiters.filter((w) => spans.length >= w.n)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      };
      if (options.delayMs) setTimeout(answer, options.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans,
    get requests() {
      return requests;
    },
    waitForSpans(n, timeoutMs = 10_000) {
      if (spans.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`sink has ${spans.length} spans, waited for ${n}`)),
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface SyntheticOptions {
  spans: number;
  /** Every n-th span is a job span (10 → 10 %). 0 = none. */
  jobEvery?: number;
  /** Prefix to make span ids unique across requests. */
  seed?: number;
  serviceName?: string;
  zone?: string;
}

/** An ExportTraceServiceRequest with realistic-looking spans, encoded with the reference schema. */
export function makeExportRequest(options: SyntheticOptions): Uint8Array {
  const Req = otlpType("ExportTraceServiceRequest");
  const now = BigInt(Date.now()) * 1_000_000n;
  const seed = options.seed ?? 0;
  const spans = [];
  for (let i = 0; i < options.spans; i++) {
    const traceId = Buffer.alloc(16);
    traceId.writeUInt32BE(seed >>> 0, 0);
    traceId.writeUInt32BE(i + 1, 12);
    const spanId = Buffer.alloc(8);
    spanId.writeUInt32BE(seed >>> 0, 0);
    spanId.writeUInt32BE(i + 1, 4);
    const isJob = options.jobEvery ? i % options.jobEvery === 0 : false;
    const attributes: { key: string; value: Record<string, unknown> }[] = [
      { key: "http.request.method", value: { stringValue: "GET" } },
      { key: "url.path", value: { stringValue: `/api/items/${i}` } },
      { key: "http.response.status_code", value: { intValue: 200 } },
      { key: "server.address", value: { stringValue: "example.internal" } },
    ];
    if (isJob) {
      attributes.push(
        { key: "job.name", value: { stringValue: `report-${i % 7}` } },
        { key: "job.cpu.seconds", value: { doubleValue: 1.5 } },
        { key: "job.memory.avg_bytes", value: { intValue: 512 * 1024 * 1024 } },
        { key: "job.network.bytes_sent", value: { intValue: 1_000_000 } },
      );
      if (options.zone) attributes.push({ key: "carbon.zone", value: { stringValue: options.zone } });
    }
    spans.push({
      traceId,
      spanId,
      parentSpanId: i % 3 ? Buffer.from(spanId).reverse() : undefined,
      name: isJob ? "job" : `GET /api/items/${i}`,
      kind: 2,
      startTimeUnixNano: (now - 2_000_000_000n).toString(),
      endTimeUnixNano: now.toString(),
      attributes,
      status: { code: i % 50 === 0 ? 2 : 0 },
      flags: 0x101,
    });
  }
  const msg = Req.fromObject({
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: "service.name", value: { stringValue: options.serviceName ?? "synthetic" } },
            { key: "telemetry.sdk.language", value: { stringValue: "python" } },
          ],
        },
        scopeSpans: [{ scope: { name: "synthetic", version: "1.0.0" }, spans }],
      },
    ],
  });
  return Req.encode(msg).finish();
}

/** A loopback port nothing listens on right now (bound, then closed): connections are refused. */
export { freePort } from "./prometheus.ts";

export interface SpawnedCollector {
  url: string;
  /** HOST:PORT of the OTLP/gRPC receiver when started with --grpc-listen. */
  grpcAddress: string | undefined;
  metricsUrl: string;
  pid: number;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stderr(): string;
  /** Exit code once exited, else undefined. */
  exitCode(): number | string | undefined;
  /** Resident set size of the process now, KiB (Linux /proc). */
  rssKib(): number;
  kill(signal?: NodeJS.Signals): void;
}

/** Node ≥ 22.18 runs the TypeScript sources; vitest may run under an older system node. */
export function nodeBinary(): string {
  const major = Number(process.versions.node.split(".")[0]);
  return major >= 24 ? process.execPath : new URL("../../node_modules/.bin/node", import.meta.url).pathname;
}

/** Starts `bin/co2e.js collector` with a YAML config and waits for its startup line. */
export async function spawnCollector(
  configYaml: string,
  args: string[] = [],
  nodeArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<SpawnedCollector> {
  const { spawn } = await import("node:child_process");
  const { mkdtempSync, writeFileSync, readFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "co2e-gw-"));
  const file = join(dir, "collector.yaml");
  writeFileSync(file, configYaml);
  const bin = new URL("../../bin/co2e.js", import.meta.url).pathname;
  const child = spawn(nodeBinary(), [...nodeArgs, bin, "collector", "--config", file, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ELECTRICITYMAPS_API_TOKEN: "", ...env },
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  let exitCode: number | string | undefined;
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => {
      exitCode = code ?? signal ?? -1;
      resolve(exitCode);
    }),
  );
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector did not start: ${err}`)), 15_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) {
        clearTimeout(timer);
        resolve(out.split("\n")[0]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`collector exited ${code}: ${err}`));
    });
  });
  const match = /listening on (http:\/\/\S+) \(OTLP\/HTTP\), metrics on (http:\/\/\S+\/metrics)/.exec(line);
  if (!match) throw new Error(`unexpected startup line: ${line}`);
  return {
    url: match[1]!,
    grpcAddress: /; OTLP\/gRPC on (\S+)/.exec(line)?.[1],
    metricsUrl: match[2]!,
    pid: child.pid!,
    exited,
    stderr: () => err,
    exitCode: () => exitCode,
    rssKib: () =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? Number.NaN),
    kill: (signal = "SIGTERM") => {
      child.kill(signal);
    },
  };
}
