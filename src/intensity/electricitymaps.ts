/**
 * Electricity Maps v3 client (undici). Shapes and quirks: docs/intensity.md. Every call:
 * - names a location (`zone`, or `dataCenterProvider` + `dataCenterRegion`); a request without one
 *   would make the API answer for the caller's IP location, so it is refused before sending;
 * - is bounded by one total time budget (`timeoutMs`, retries and their waits included);
 * - retries network errors, 5xx and 429 with exponential backoff and jitter, honouring
 *   `Retry-After` (seconds or HTTP date) when it fits in the remaining budget;
 * - does not retry 401/403 (logged once, with a hint) or 404 (one warning per location);
 * - validates the body with zod: malformed or partial JSON is an error, never a made-up value.
 *
 * The token travels only in the `auth-token` header. Messages are built from our own words and
 * undici error codes, never from request objects, and pass through `redact` as a last guard.
 */
import { Agent, request } from "undici";
import { z } from "zod";
import { DEFAULTS } from "../defaults.ts";
import { Co2eError, ERROR_CODES, type ErrorCode } from "../errors.ts";
import { isPlausibleIntensity, MAX_PLAUSIBLE_GRAMS_PER_KWH } from "../model/plausible.ts";
import { INTENSITY_SOURCE } from "../semconv.ts";
import { BodyTooLargeError, readBodyLimited } from "../util/read-body.ts";
import { retryDelayMs } from "../util/retry.ts";
import { parseRetryAfterMs } from "../util/retry-after.ts";
import type { IntensityObserver, IntensityRequestOutcome, IntensityRow, IntensityValue } from "./types.ts";

export const PROVIDER_NAME = "electricitymaps";
/** Fallback reason when the provider answered an intensity outside the plausible range. */
export const IMPLAUSIBLE_VALUE_REASON = "implausible-value";
/** Bodies above this are refused: the largest real answer (10 days hourly) is far below. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** First backoff step; doubled per retry, with jitter. */
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 5_000;
/**
 * Longest Retry-After we hold a zone off for: a broken or hostile answer ("Retry-After: 999999")
 * must not park live intensity for days; after this the next refresh simply asks again.
 */
const RETRY_AFTER_MAX_MS = 3_600_000;

export type EmLocation = { zone: string } | { dataCenterProvider: string; dataCenterRegion: string };

export interface ElectricityMapsClientOptions {
  /** e.g. https://api.electricitymaps.com/v3 or http://127.0.0.1:PORT/v3. @default DEFAULTS.intensity.baseUrl */
  baseUrl?: string;
  /** From ELECTRICITYMAPS_API_TOKEN only; never from a config file. */
  token?: string | undefined;
  /** @default DEFAULTS.intensity.emissionFactorType ("lifecycle") */
  emissionFactorType?: "lifecycle" | "direct";
  /** Total budget per call, retries included, ms. @default DEFAULTS.intensity.timeoutMs (2000) */
  timeoutMs?: number;
  /** Retries after the first attempt. @default DEFAULTS.intensity.retries (2) */
  retries?: number;
  observer?: IntensityObserver | undefined;
  /** Warnings (auth failure once, unknown zone once per zone). @default stderr */
  logger?: ((msg: string) => void) | undefined;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

export interface CallOptions {
  /** Overrides the client's total budget for this call, ms. */
  timeoutMs?: number;
  /** Aborts the call (the error is then a timeout-like provider error). */
  signal?: AbortSignal;
}

/**
 * Errors of this client: `code` is CO2E_ERR_PROVIDER, CO2E_ERR_AUTH, CO2E_ERR_UNKNOWN_ZONE or
 * CO2E_ERR_NO_FORECAST; `reason` is the short word a fallback carries (`timeout`, `http-500`,
 * `auth`, `unknown-zone`, `bad-body`, `implausible-value`, `rate-limited`, `network`, `no-forecast`).
 */
export class ElectricityMapsError extends Co2eError {
  readonly reason: string;
  readonly outcome: IntensityRequestOutcome;
  readonly status: number | undefined;
  /** From Retry-After on a final 429, ms from now. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details: { reason: string; outcome: IntensityRequestOutcome; status?: number; retryAfterMs?: number },
  ) {
    super(code, message);
    this.name = "ElectricityMapsError";
    this.reason = details.reason;
    this.outcome = details.outcome;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }
}

// ---------------------------------------------------------------------------------------------
// Response schemas (electricity-maps-api.md). Unknown extra fields are allowed; fields we read
// are checked.
// ---------------------------------------------------------------------------------------------

const isoDate = z.string().refine((s) => Number.isFinite(Date.parse(s)), "must be an ISO date");
/**
 * A gCO₂e/kWh figure. Any number parses (JSON's 1e999 is Infinity), but one outside the plausible
 * range (isPlausibleIntensity) fails the whole body with IMPLAUSIBLE_VALUE_REASON: a provider that
 * sends −500 or 1e9 is broken, and none of its figures is used as live.
 */
const gramsPerKwh = z
  .custom<number>((v) => typeof v === "number", { message: "expected a number" })
  .superRefine((v, ctx) => {
    if (!isPlausibleIntensity(v)) {
      ctx.addIssue({
        code: "custom",
        message: `${v} gCO₂e/kWh is outside the plausible range 0–${MAX_PLAUSIBLE_GRAMS_PER_KWH}`,
        params: { reason: IMPLAUSIBLE_VALUE_REASON },
      });
    }
  });
const rowSchema = z.looseObject({
  zone: z.string().optional(),
  carbonIntensity: gramsPerKwh.nullable(),
  datetime: isoDate,
  isEstimated: z.boolean().nullable().optional(),
  estimationMethod: z.string().nullable().optional(),
});
const latestSchema = rowSchema.extend({ zone: z.string(), updatedAt: isoDate.optional() });
const historySchema = z.looseObject({ zone: z.string().optional(), history: z.array(rowSchema) });
const pastRangeSchema = z.looseObject({ zone: z.string().optional(), data: z.array(rowSchema) });
/** Forecast rows: every field but `datetime` optional (they vary between plans and versions). */
const forecastSchema = z.looseObject({
  zone: z.string().optional(),
  forecast: z.array(z.looseObject({ datetime: isoDate, carbonIntensity: gramsPerKwh.nullable().optional() })),
  updatedAt: isoDate.optional(),
});
const zonesSchema = z.record(
  z.string(),
  z.looseObject({
    zoneName: z.string().optional(),
    countryName: z.string().optional(),
    access: z.array(z.string()).optional(),
  }),
);

export type ZoneAccessMap = z.infer<typeof zonesSchema>;

type Row = z.infer<typeof rowSchema>;

/** A live row keeps the provider's estimation method (e.g. `TIME_SLICER_AVERAGE`). */
export interface EmRow extends IntensityRow {
  estimationMethod?: string;
}

function toRows(rows: readonly Row[]): EmRow[] {
  const out: EmRow[] = [];
  for (const row of rows) {
    // Rows with `carbonIntensity: null` are hours the provider has no value for: skip, never 0.
    if (row.carbonIntensity === null || !Number.isFinite(row.carbonIntensity)) continue;
    const out1: EmRow = {
      startMs: Date.parse(row.datetime),
      gramsPerKwh: row.carbonIntensity,
      isEstimated: row.isEstimated ?? false,
    };
    if (row.estimationMethod) out1.estimationMethod = row.estimationMethod;
    out.push(out1);
  }
  return out.sort((a, b) => a.startMs - b.startMs);
}

/** Replaces every occurrence of the secret in a message. */
export function redact(text: string, secret: string | undefined): string {
  if (!secret || secret.length < 4) return text;
  return text.split(secret).join("[redacted]");
}

function describeLocation(location: EmLocation): string {
  return "zone" in location
    ? `zone ${location.zone}`
    : `${location.dataCenterProvider} ${location.dataCenterRegion}`;
}

function locationKey(location: EmLocation): string {
  return "zone" in location ? location.zone : `${location.dataCenterProvider}/${location.dataCenterRegion}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

interface AttemptFailure {
  error: ElectricityMapsError;
  retryable: boolean;
}

export class ElectricityMapsClient {
  readonly #baseUrl: string;
  readonly #token: string | undefined;
  readonly #emissionFactorType: "lifecycle" | "direct";
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #observer: IntensityObserver | undefined;
  readonly #log: (msg: string) => void;
  readonly #now: () => number;
  readonly #agent: Agent;
  readonly #closing = new AbortController();
  #authReported = false;
  /** Locations already warned about (404), bounded so an attacker-chosen zone list can't grow it. */
  readonly #notFoundReported = new Set<string>();

  constructor(options: ElectricityMapsClientOptions = {}) {
    this.#baseUrl = (options.baseUrl ?? DEFAULTS.intensity.baseUrl).replace(/\/+$/, "");
    this.#token = options.token || undefined;
    this.#emissionFactorType = options.emissionFactorType ?? DEFAULTS.intensity.emissionFactorType;
    this.#timeoutMs = options.timeoutMs ?? DEFAULTS.intensity.timeoutMs;
    this.#retries = options.retries ?? DEFAULTS.intensity.retries;
    this.#observer = options.observer;
    const logger = options.logger ?? ((msg: string) => process.stderr.write(`otel-co2e: ${msg}\n`));
    this.#log = (msg) => logger(redact(msg, this.#token));
    this.#now = options.now ?? Date.now;
    // Few connections per origin: at most one request per zone is in flight anyway.
    this.#agent = new Agent({
      connections: 8,
      keepAliveTimeout: 10_000,
      connect: { timeout: this.#timeoutMs },
    });
  }

  /** The emission factor type every request asks for. */
  get emissionFactorType(): "lifecycle" | "direct" {
    return this.#emissionFactorType;
  }

  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** Latest value for the location (`method: "latest"`, `source: "electricitymaps"`). */
  async latest(location: EmLocation, options: CallOptions = {}): Promise<IntensityValue> {
    const body = await this.#get("carbon-intensity/latest", location, {}, latestSchema, options);
    if (body.carbonIntensity === null) {
      throw this.#badBody(`no carbon intensity in the latest answer for ${describeLocation(location)}`);
    }
    const value: IntensityValue = {
      gramsPerKwh: body.carbonIntensity,
      zone: body.zone,
      source: INTENSITY_SOURCE.electricityMaps,
      method: "latest",
      datetime: new Date(Date.parse(body.datetime)).toISOString(),
      isEstimated: body.isEstimated ?? false,
      dataset: `Electricity Maps ${this.#emissionFactorType}`,
      emissionFactorType: this.#emissionFactorType,
    };
    if (body.estimationMethod) value.estimationMethod = body.estimationMethod;
    return value;
  }

  /** Hourly rows of the last 24 h, oldest first, `null` hours skipped. */
  async history(location: EmLocation, options: CallOptions = {}): Promise<EmRow[]> {
    const body = await this.#get("carbon-intensity/history", location, {}, historySchema, options);
    return toRows(body.history);
  }

  /** Hourly rows in [startMs, endMs) (the API allows ≤ 10 days hourly; not on the free tier). */
  async pastRange(
    location: EmLocation,
    startMs: number,
    endMs: number,
    options: CallOptions = {},
  ): Promise<EmRow[]> {
    if (!(Number.isFinite(startMs) && Number.isFinite(endMs) && endMs > startMs)) {
      throw new Co2eError(ERROR_CODES.provider, "past-range needs start < end");
    }
    const params = { start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString() };
    const body = await this.#get("carbon-intensity/past-range", location, params, pastRangeSchema, options);
    return toRows(body.data);
  }

  /**
   * Forecast for the location: `IntensityRow[]` sorted by `startMs` (epoch ms of each period's
   * start, hourly unless the plan gives finer), `gramsPerKwh` in gCO₂e/kWh of the configured
   * emission factor type, `isEstimated` always false (forecasts carry no such flag). Periods
   * without a value are left out. Throws `CO2E_ERR_NO_FORECAST` when the API answers 404 or an
   * empty forecast, `CO2E_ERR_AUTH` when the token's plan lacks the endpoint (401/403), else
   * `CO2E_ERR_PROVIDER` (timeout, 5xx, bad body…), all as `ElectricityMapsError`.
   */
  async forecast(location: EmLocation, options: CallOptions = {}): Promise<IntensityRow[]> {
    let body: z.infer<typeof forecastSchema>;
    try {
      body = await this.#get("carbon-intensity/forecast", location, {}, forecastSchema, options);
    } catch (error) {
      if (error instanceof ElectricityMapsError && error.code === ERROR_CODES.unknownZone) {
        throw new ElectricityMapsError(
          ERROR_CODES.noForecast,
          `no forecast for ${describeLocation(location)}`,
          {
            reason: "no-forecast",
            outcome: "not_found",
            status: 404,
          },
        );
      }
      throw error;
    }
    const rows: IntensityRow[] = [];
    for (const row of body.forecast) {
      if (typeof row.carbonIntensity !== "number" || !Number.isFinite(row.carbonIntensity)) continue;
      rows.push({ startMs: Date.parse(row.datetime), gramsPerKwh: row.carbonIntensity, isEstimated: false });
    }
    if (rows.length === 0) {
      throw new ElectricityMapsError(
        ERROR_CODES.noForecast,
        `empty forecast for ${describeLocation(location)}`,
        {
          reason: "no-forecast",
          outcome: "ok",
        },
      );
    }
    return rows.sort((a, b) => a.startMs - b.startMs);
  }

  /** Zones and, with a token, the endpoints (`access`) the token may call in each. */
  async zones(options: CallOptions = {}): Promise<ZoneAccessMap> {
    return this.#get("zones", undefined, {}, zonesSchema, options);
  }

  /** Aborts requests in flight and closes the connection pool. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    await this.#agent.destroy().catch(() => {});
  }

  #badBody(message: string, reason = "bad-body"): ElectricityMapsError {
    return new ElectricityMapsError(ERROR_CODES.provider, message, { reason, outcome: "bad_body" });
  }

  #url(path: string, location: EmLocation | undefined, params: Record<string, string>): URL {
    const url = new URL(`${this.#baseUrl}/${path}`);
    if (location) {
      if ("zone" in location) {
        if (!location.zone.trim())
          throw new Co2eError(ERROR_CODES.provider, "refusing a request without a zone");
        url.searchParams.set("zone", location.zone.trim());
      } else {
        if (!location.dataCenterProvider.trim() || !location.dataCenterRegion.trim()) {
          throw new Co2eError(
            ERROR_CODES.provider,
            "refusing a request without dataCenterProvider and dataCenterRegion",
          );
        }
        url.searchParams.set("dataCenterProvider", location.dataCenterProvider.trim());
        url.searchParams.set("dataCenterRegion", location.dataCenterRegion.trim());
      }
      url.searchParams.set("emissionFactorType", this.#emissionFactorType);
    }
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return url;
  }

  async #get<T>(
    path: string,
    location: EmLocation | undefined,
    params: Record<string, string>,
    schema: z.ZodType<T>,
    options: CallOptions,
  ): Promise<T> {
    if (path !== "zones" && !location) {
      // Without a location the API answers for the caller's IP: never send that.
      throw new Co2eError(ERROR_CODES.provider, "refusing a request without a location");
    }
    const url = this.#url(path, location, params);
    const budgetMs = options.timeoutMs ?? this.#timeoutMs;
    const deadlineMs = this.#now() + budgetMs;
    const signals = [this.#closing.signal, AbortSignal.timeout(Math.max(1, budgetMs))];
    if (options.signal) signals.push(options.signal);
    const signal = AbortSignal.any(signals);
    const what = `${path.replace("carbon-intensity/", "")} for ${location ? describeLocation(location) : "all zones"}`;

    let last: AttemptFailure | undefined;
    for (let attempt = 0; attempt <= this.#retries; attempt++) {
      if (attempt > 0 && last) {
        const remainingMs = deadlineMs - this.#now();
        const waitMs = retryDelayMs(
          attempt - 1,
          { baseMs: BACKOFF_BASE_MS, maxMs: BACKOFF_MAX_MS },
          last.error.retryAfterMs,
        );
        // A wait that would outlast the budget is not worth starting: fail now, inside the bound.
        if (waitMs >= remainingMs - 5) break;
        await sleep(waitMs, signal);
      }
      if (signal.aborted) {
        last = { error: this.#timeoutError(what, budgetMs), retryable: false };
        this.#observer?.onRequest(PROVIDER_NAME, "timeout");
        break;
      }
      const result = await this.#attempt(url, signal, schema, what, budgetMs, location);
      if ("ok" in result) {
        this.#observer?.onRequest(PROVIDER_NAME, "ok");
        return result.ok;
      }
      this.#observer?.onRequest(PROVIDER_NAME, result.error.outcome);
      last = result;
      if (!result.retryable) break;
    }
    throw last?.error ?? this.#timeoutError(what, budgetMs);
  }

  #timeoutError(what: string, budgetMs: number): ElectricityMapsError {
    return new ElectricityMapsError(
      ERROR_CODES.provider,
      `Electricity Maps ${what}: no answer within ${budgetMs} ms`,
      {
        reason: "timeout",
        outcome: "timeout",
      },
    );
  }

  async #attempt<T>(
    url: URL,
    signal: AbortSignal,
    schema: z.ZodType<T>,
    what: string,
    budgetMs: number,
    location: EmLocation | undefined,
  ): Promise<{ ok: T } | AttemptFailure> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#token) headers["auth-token"] = this.#token;
    let status: number;
    let text: string;
    let retryAfter: string | string[] | undefined;
    try {
      const res = await request(url, { method: "GET", headers, dispatcher: this.#agent, signal });
      status = res.statusCode;
      retryAfter = res.headers["retry-after"];
      if (status >= 200 && status < 300) {
        text = (await readBodyLimited(res.body, MAX_BODY_BYTES)).toString("utf8");
      } else {
        // Drain a little so the connection can be reused; the error body is never echoed.
        await res.body.dump({ limit: 64 * 1024 }).catch(() => {});
        text = "";
      }
    } catch (error) {
      if (signal.aborted) return { error: this.#timeoutError(what, budgetMs), retryable: false };
      if (error instanceof BodyTooLargeError) {
        // No real answer is this big (10 days hourly is far below): a wrong body, not a retry.
        return {
          error: this.#badBody(`Electricity Maps ${what}: body larger than ${MAX_BODY_BYTES} bytes`),
          retryable: false,
        };
      }
      // Only the undici error code goes into our message (undici messages never carry headers,
      // but we do not rely on that).
      const code = (error as { code?: string }).code ?? (error as Error).name ?? "error";
      const isTimeout = /TIMEOUT/.test(code);
      return {
        error: new ElectricityMapsError(
          ERROR_CODES.provider,
          `Electricity Maps ${what}: ${isTimeout ? "timeout" : "network error"} (${code})`,
          {
            reason: isTimeout ? "timeout" : "network",
            outcome: isTimeout ? "timeout" : "network_error",
          },
        ),
        retryable: true,
      };
    }

    if (status === 401 || status === 403) {
      if (!this.#authReported) {
        this.#authReported = true;
        this.#log(
          `Electricity Maps refused the token (HTTP ${status}) for ${what}: check ELECTRICITYMAPS_API_TOKEN and that ` +
            "your plan covers this zone and endpoint (the free tier has latest and history only). " +
            "Static values are used where live ones are refused.",
        );
      }
      return {
        error: new ElectricityMapsError(
          ERROR_CODES.auth,
          `Electricity Maps ${what}: HTTP ${status} (token or plan)`,
          {
            reason: "auth",
            outcome: "auth_error",
            status,
          },
        ),
        retryable: false,
      };
    }
    if (status === 404) {
      const key = location ? locationKey(location) : "zones";
      if (!this.#notFoundReported.has(key) && this.#notFoundReported.size < 1024) {
        this.#notFoundReported.add(key);
        this.#log(
          `Electricity Maps has no data for ${location ? describeLocation(location) : "zones"} (HTTP 404); using static intensity.`,
        );
      }
      return {
        error: new ElectricityMapsError(
          ERROR_CODES.unknownZone,
          `Electricity Maps ${what}: HTTP 404 (unknown zone or no recent data)`,
          {
            reason: "unknown-zone",
            outcome: "not_found",
            status,
          },
        ),
        retryable: false,
      };
    }
    if (status === 429) {
      const retryAfterMs = parseRetryAfterMs(retryAfter, this.#now(), RETRY_AFTER_MAX_MS);
      return {
        error: new ElectricityMapsError(
          ERROR_CODES.provider,
          `Electricity Maps ${what}: HTTP 429 (rate limited)`,
          {
            reason: "rate-limited",
            outcome: "rate_limited",
            status,
            ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
          },
        ),
        retryable: true,
      };
    }
    if (status < 200 || status >= 300) {
      return {
        error: new ElectricityMapsError(ERROR_CODES.provider, `Electricity Maps ${what}: HTTP ${status}`, {
          reason: `http-${status}`,
          outcome: "http_error",
          status,
        }),
        retryable: status >= 500,
      };
    }

    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return {
        error: this.#badBody(`Electricity Maps ${what}: body is not valid JSON (${text.length} bytes)`),
        retryable: false,
      };
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const implausible = parsed.error.issues.find(
        (i) => i.code === "custom" && i.params?.reason === IMPLAUSIBLE_VALUE_REASON,
      );
      const issue = implausible ?? parsed.error.issues[0];
      const where = issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "unexpected shape";
      return {
        error: implausible
          ? this.#badBody(`Electricity Maps ${what}: implausible value (${where})`, IMPLAUSIBLE_VALUE_REASON)
          : this.#badBody(`Electricity Maps ${what}: unexpected body (${where})`),
        retryable: false,
      };
    }
    return { ok: parsed.data };
  }
}
