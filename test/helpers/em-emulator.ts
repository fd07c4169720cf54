/**
 * Electricity Maps v3 emulator: a real node:http server on 127.0.0.1 (port 0) answering with the
 * response shapes of the public API (docs/intensity.md),
 * with per-zone data and programmable faults, for tests and local demos.
 *
 *   const em = await startEmulator({ token: "t0k", zones: { DE: { latest: 302 } } });
 *   // em.url ends with /v3 → ELECTRICITYMAPS_BASE_URL
 *   em.setZone("FR", { latest: { carbonIntensity: 40, isEstimated: true }, history: hourlyRows([...]) });
 *   em.addFault({ type: "status", status: 500 }, { endpoint: "history", zone: "DE", times: 2 });
 *   em.count("history", "DE"); em.requests; await em.close();
 *
 * Endpoints: /v3/carbon-intensity/{latest,history,past,past-range,forecast} and /v3/zones.
 * Every request needs `auth-token: <token>` (401 `{"error":"Invalid auth-token"}` otherwise, as
 * the real API answers), and a location (zone, or dataCenterProvider + dataCenterRegion); a
 * request without one is answered 400 here (the real API would use the caller's IP) and recorded,
 * so tests can assert it never happens. A zone's `access` list (default ["*"]) gates endpoints
 * with 401 like a plan that lacks them.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";

const HOUR_MS = 3_600_000;

export interface EmulatorRow {
  datetime: string;
  carbonIntensity: number | null;
  isEstimated?: boolean;
  estimationMethod?: string | null;
}

export interface EmulatorLatest {
  carbonIntensity: number | null;
  /** @default the start of the current hour */
  datetime?: string;
  /** @default false */
  isEstimated?: boolean;
  estimationMethod?: string | null;
}

export interface EmulatorZone {
  /** Latest value; a number is shorthand for `{ carbonIntensity }`. */
  latest?: number | EmulatorLatest;
  /** Last-24 h rows. @default 24 hourly rows ending at the latest row, all at the latest value */
  history?: EmulatorRow[];
  /** Older rows for /past and /past-range (history rows are served there too). */
  past?: EmulatorRow[];
  /** Forecast rows; absent → 404 on /forecast. */
  forecast?: Array<{ datetime: string; carbonIntensity?: number | null }>;
  /** Endpoints the token may call for this zone, as /zones reports. @default ["*"] */
  access?: string[];
  zoneName?: string;
  countryName?: string;
}

export type EmulatorFault =
  /** Accepts the request and never answers (until close). */
  | { type: "hang" }
  /** Answers normally after `ms`. */
  | { type: "slow"; ms: number }
  /** Any status with the API's error body (`{"error": …}`), e.g. 500, 502, 503. */
  | { type: "status"; status: number; body?: string }
  /** 429, with `Retry-After` when given (seconds like "1" or an HTTP date). */
  | { type: "rate-limit"; retryAfter?: string }
  | { type: "unauthorized" }
  | { type: "forbidden" }
  | { type: "not-found" }
  /** 200 with truncated JSON. */
  | { type: "malformed" }
  /** 200 with valid JSON of the wrong shape. */
  | { type: "wrong-shape" }
  /** Destroys the socket without an answer (ECONNRESET / "other side closed" on the client). */
  | { type: "reset" };

export type EmulatorEndpoint = "latest" | "history" | "past" | "past-range" | "forecast" | "zones";

export interface FaultMatch {
  endpoint?: EmulatorEndpoint;
  zone?: string;
  /** How many matching requests get the fault. @default Infinity */
  times?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  endpoint: EmulatorEndpoint | undefined;
  zone: string | undefined;
  headers: IncomingHttpHeaders;
  atMs: number;
  /** What the emulator did: a status code, "hang" or "reset". */
  answer?: number | "hang" | "reset";
}

export interface EmulatorState {
  token: string | undefined;
  zones: Map<string, EmulatorZone>;
  faults: Array<{ fault: EmulatorFault; match: FaultMatch; remaining: number }>;
  /** `provider/region` (lower case) → zone, for dataCenterProvider + dataCenterRegion. */
  dataCenters: Map<string, string>;
}

export interface EmulatorOptions {
  /** Required auth-token; `null` accepts requests without one. @default "emulator-token" */
  token?: string | null;
  zones?: Record<string, EmulatorZone>;
  /** e.g. { "aws/eu-central-1": "DE" } */
  dataCenters?: Record<string, string>;
  /** Clock for generated rows. @default Date.now */
  now?: () => number;
}

export interface Emulator {
  /** Base URL ending with /v3, for ELECTRICITYMAPS_BASE_URL. */
  url: string;
  port: number;
  state: EmulatorState;
  requests: RecordedRequest[];
  setZone(zone: string, data: EmulatorZone): void;
  addFault(fault: EmulatorFault, match?: FaultMatch): void;
  clearFaults(): void;
  /** Requests to an endpoint (optionally for one zone). */
  count(endpoint?: EmulatorEndpoint, zone?: string): number;
  resetRequests(): void;
  close(): Promise<void>;
}

/** Hourly rows starting at `startMs` (floored to the hour) with the given values. */
export function hourlyRows(
  values: Array<number | null>,
  startMs: number,
  extra: { isEstimated?: boolean; estimationMethod?: string } = {},
): EmulatorRow[] {
  const start = Math.floor(startMs / HOUR_MS) * HOUR_MS;
  return values.map((v, i) => ({
    datetime: new Date(start + i * HOUR_MS).toISOString(),
    carbonIntensity: v,
    isEstimated: extra.isEstimated ?? false,
    estimationMethod: extra.isEstimated ? (extra.estimationMethod ?? "TIME_SLICER_AVERAGE") : null,
  }));
}

const ENDPOINTS: Record<string, EmulatorEndpoint> = {
  "/v3/carbon-intensity/latest": "latest",
  "/v3/carbon-intensity/history": "history",
  "/v3/carbon-intensity/past": "past",
  "/v3/carbon-intensity/past-range": "past-range",
  "/v3/carbon-intensity/forecast": "forecast",
  "/v3/zones": "zones",
};

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const now = options.now ?? Date.now;
  const state: EmulatorState = {
    token: options.token === null ? undefined : (options.token ?? "emulator-token"),
    zones: new Map(Object.entries(options.zones ?? {}).map(([k, v]) => [k.toUpperCase(), v])),
    faults: [],
    dataCenters: new Map(Object.entries(options.dataCenters ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  function send(
    res: ServerResponse,
    record: RecordedRequest,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    record.answer = status;
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  function reply(status: number, body: unknown): Reply {
    return { status, body };
  }

  function latestOf(data: EmulatorZone): Required<EmulatorLatest> {
    const raw =
      typeof data.latest === "number"
        ? { carbonIntensity: data.latest }
        : (data.latest ?? { carbonIntensity: null });
    const lastHistory = data.history?.at(-1);
    return {
      carbonIntensity: raw.carbonIntensity ?? lastHistory?.carbonIntensity ?? null,
      datetime:
        raw.datetime ??
        lastHistory?.datetime ??
        new Date(Math.floor(now() / HOUR_MS) * HOUR_MS).toISOString(),
      isEstimated: raw.isEstimated ?? false,
      estimationMethod: raw.estimationMethod ?? (raw.isEstimated ? "TIME_SLICER_AVERAGE" : null),
    };
  }

  function historyOf(data: EmulatorZone): EmulatorRow[] {
    if (data.history) return data.history;
    const latest = latestOf(data);
    const endMs = Date.parse(latest.datetime);
    return Array.from({ length: 24 }, (_, i) => ({
      datetime: new Date(endMs - (23 - i) * HOUR_MS).toISOString(),
      carbonIntensity: latest.carbonIntensity,
      isEstimated: i === 23 ? latest.isEstimated : false,
      estimationMethod: i === 23 ? latest.estimationMethod : null,
    }));
  }

  function rowJson(zone: string, row: EmulatorRow): Record<string, unknown> {
    // Field order and names as the v3 API returns them.
    return {
      zone,
      carbonIntensity: row.carbonIntensity,
      datetime: row.datetime,
      updatedAt: new Date(now()).toISOString(),
      createdAt: row.datetime,
      emissionFactorType: "lifecycle",
      isEstimated: row.isEstimated ?? false,
      estimationMethod: row.estimationMethod ?? null,
    };
  }

  interface Reply {
    status: number;
    body: unknown;
  }

  function answer(req: IncomingMessage, res: ServerResponse, record: RecordedRequest, url: URL): void {
    const r = respond(req, record, url);
    send(res, record, r.status, r.body);
  }

  /** The API's answer to a request (no fault applied). */
  function respond(req: IncomingMessage, record: RecordedRequest, url: URL): Reply {
    const endpoint = record.endpoint;
    if (!endpoint) return reply(404, { error: "Not found" });
    if (state.token !== undefined && req.headers["auth-token"] !== state.token) {
      return reply(401, { error: "Invalid auth-token" });
    }
    if (endpoint === "zones") {
      const out: Record<string, unknown> = {};
      for (const [zone, data] of state.zones) {
        out[zone] = {
          ...(data.countryName ? { countryName: data.countryName } : {}),
          zoneName: data.zoneName ?? zone,
          access: data.access ?? ["*"],
        };
      }
      return reply(200, out);
    }
    const zone = record.zone;
    if (!zone) {
      return reply(400, {
        error: "emulator: request without a location (the real API would use the caller's IP)",
      });
    }
    const data = state.zones.get(zone);
    if (!data) return reply(404, { error: `No recent data for zone "${zone}"` });
    const access = data.access ?? ["*"];
    if (!access.includes("*") && !access.includes(`carbon-intensity/${endpoint}`)) {
      return reply(401, { error: "Invalid auth-token" });
    }
    const ef = url.searchParams.get("emissionFactorType") ?? "lifecycle";
    switch (endpoint) {
      case "latest": {
        const latest = latestOf(data);
        return reply(200, {
          ...rowJson(zone, latest),
          emissionFactorType: ef,
          temporalGranularity: "hourly",
        });
      }
      case "history":
        return reply(200, {
          zone,
          history: historyOf(data).map((r) => ({ ...rowJson(zone, r), emissionFactorType: ef })),
        });
      case "past": {
        const at = Date.parse(url.searchParams.get("datetime") ?? "");
        const hour = Math.floor(at / HOUR_MS) * HOUR_MS;
        const row = [...(data.past ?? []), ...historyOf(data)].find((r) => Date.parse(r.datetime) === hour);
        if (!row) return reply(404, { error: `No data for zone "${zone}" at this datetime` });
        return reply(200, { ...rowJson(zone, row), emissionFactorType: ef });
      }
      case "past-range": {
        const start = Date.parse(url.searchParams.get("start") ?? "");
        const end = Date.parse(url.searchParams.get("end") ?? "");
        if (
          !Number.isFinite(start) ||
          !Number.isFinite(end) ||
          end <= start ||
          end - start > 10 * 24 * HOUR_MS
        ) {
          return reply(400, { error: "start and end must span at most 10 days" });
        }
        const rows = [...(data.past ?? []), ...historyOf(data)]
          .filter((r) => Date.parse(r.datetime) >= start && Date.parse(r.datetime) < end)
          .sort((a, b) => Date.parse(a.datetime) - Date.parse(b.datetime));
        return reply(200, {
          zone,
          data: rows.map((r) => ({ ...rowJson(zone, r), emissionFactorType: ef })),
        });
      }
      case "forecast":
        if (!data.forecast) return reply(404, { error: `No forecast available for zone "${zone}"` });
        return reply(200, {
          zone,
          forecast: data.forecast,
          updatedAt: new Date(now()).toISOString(),
        });
    }
  }

  function zoneOf(url: URL): string | undefined {
    const zone = url.searchParams.get("zone");
    if (zone) return zone.toUpperCase();
    const provider = url.searchParams.get("dataCenterProvider");
    const region = url.searchParams.get("dataCenterRegion");
    if (provider && region)
      return state.dataCenters.get(`${provider}/${region}`.toLowerCase()) ?? `DC:${provider}/${region}`;
    return undefined;
  }

  function takeFault(record: RecordedRequest): EmulatorFault | undefined {
    for (const rule of state.faults) {
      if (rule.remaining <= 0) continue;
      if (rule.match.endpoint && rule.match.endpoint !== record.endpoint) continue;
      if (rule.match.zone && rule.match.zone.toUpperCase() !== record.zone) continue;
      rule.remaining -= 1;
      return rule.fault;
    }
    return undefined;
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const record: RecordedRequest = {
      method: req.method ?? "GET",
      url: req.url ?? "/",
      endpoint: ENDPOINTS[url.pathname.replace(/\/+$/, "")],
      zone: zoneOf(url),
      headers: { ...req.headers },
      atMs: now(),
    };
    requests.push(record);
    const fault = takeFault(record);
    if (!fault) {
      answer(req, res, record, url);
      return;
    }
    switch (fault.type) {
      case "hang":
        record.answer = "hang";
        return;
      case "slow": {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!res.destroyed) answer(req, res, record, url);
        }, fault.ms);
        timers.add(timer);
        return;
      }
      case "status":
        send(
          res,
          record,
          fault.status,
          fault.body ?? { error: `Internal server error (emulated ${fault.status})` },
        );
        return;
      case "rate-limit":
        send(
          res,
          record,
          429,
          { error: "Too many requests" },
          fault.retryAfter === undefined ? {} : { "retry-after": fault.retryAfter },
        );
        return;
      case "unauthorized":
        send(res, record, 401, { error: "Invalid auth-token" });
        return;
      case "forbidden":
        send(res, record, 403, { error: "Access denied" });
        return;
      case "not-found":
        send(res, record, 404, { error: `No recent data for zone "${record.zone ?? ""}"` });
        return;
      case "malformed":
        record.answer = 200;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(`{"zone":"${record.zone ?? ""}","history":[{"carbonIntensity":30`);
        return;
      case "wrong-shape":
        send(res, record, 200, { zone: record.zone, carbonIntensity: "high", history: "none" });
        return;
      case "reset":
        record.answer = "reset";
        req.socket.destroy();
        return;
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}/v3`,
    port,
    state,
    requests,
    setZone(zone, data) {
      state.zones.set(zone.toUpperCase(), data);
    },
    addFault(fault, match = {}) {
      state.faults.push({ fault, match, remaining: match.times ?? Number.POSITIVE_INFINITY });
    },
    clearFaults() {
      state.faults.length = 0;
    },
    count(endpoint, zone) {
      return requests.filter(
        (r) => (!endpoint || r.endpoint === endpoint) && (!zone || r.zone === zone.toUpperCase()),
      ).length;
    },
    resetRequests() {
      requests.length = 0;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
