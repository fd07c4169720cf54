/**
 * Configuration: `config/default.yaml` (or the file named by `--config` / `CO2E_CONFIG`), then
 * environment overrides, validated with zod. An invalid value is a `Co2eError` with code
 * `CO2E_ERR_CONFIG` whose message names the key path and the reason (`model.pue: must be ≥ 1,
 * got 0.8`); the CLI exits 2 with it.
 *
 * The Electricity Maps token is deliberately not a config key: it comes only from
 * `ELECTRICITYMAPS_API_TOKEN`, so it never sits in a file that gets committed or printed.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ATTRIBUTION_MODES, CLOUD_PROVIDERS, DEFAULTS, SAMPLER_DEFAULTS } from "./defaults.ts";
import { Co2eError, ERROR_CODES } from "./errors.ts";
import {
  CCF_AWS_MAX_WATTS_PER_VCPU,
  CCF_AWS_MIN_WATTS_PER_VCPU,
  DEFAULT_CPU_TDP_WATTS,
  DEFAULT_PUE,
  MEMORY_WATTS_PER_GB,
  NETWORK_KWH_PER_GB,
} from "./model/constants.ts";
import { HOST_PORT_PATTERN } from "./util/host-port.ts";

export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL("../config/default.yaml", import.meta.url));

const INTENSITY = DEFAULTS.intensity;
const positive = z.number().positive();
const nonNegative = z.number().min(0);
const hostPort = z.string().regex(HOST_PORT_PATTERN, "must be HOST:PORT");
/** metrics.fullHistograms: patterns are matched per job name, so a few short ones. */
const FULL_HISTOGRAM_PATTERNS_MAX = 100;
const FULL_HISTOGRAM_PATTERN_MAX_LENGTH = 200;
/** How the gateway forwards downstream (`gateway.forwardProtocol`), named as OTEL_EXPORTER_OTLP_PROTOCOL names them. */
export const FORWARD_PROTOCOLS = ["http/protobuf", "grpc"] as const;
export type ForwardProtocol = (typeof FORWARD_PROTOCOLS)[number];

/**
 * Why `url` cannot name a gRPC downstream, or undefined when it can. gRPC calls a fixed method
 * path, so only the scheme, host and port count: a path (such as the OTLP/HTTP /v1/traces), a
 * query or a fragment would be ignored, which is a mistake worth stopping for.
 */
export function grpcForwardUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be a URL such as http://otel-collector:4317";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    return "must be an http:// or https:// URL such as http://otel-collector:4317";
  if ((parsed.pathname !== "" && parsed.pathname !== "/") || parsed.search || parsed.hash)
    return `with forwardProtocol grpc takes no path (the gRPC method path is fixed): use ${parsed.protocol}//${parsed.host}`;
  return undefined;
}

const cpuSchema = z.discriminatedUnion("model", [
  z
    .object({
      model: z.literal("tdp"),
      /** Whole-package TDP, W. @default 85 (CodeCarbon's fallback) */
      tdpWatts: positive.default(DEFAULT_CPU_TDP_WATTS),
      /** Logical cores the TDP is spread over; `auto` = os.availableParallelism(). */
      logicalCores: z.union([z.literal("auto"), z.number().int().positive()]).default("auto"),
    })
    .strict(),
  z
    .object({
      model: z.literal("linear"),
      minWattsPerVcpu: nonNegative.default(CCF_AWS_MIN_WATTS_PER_VCPU),
      maxWattsPerVcpu: nonNegative.default(CCF_AWS_MAX_WATTS_PER_VCPU),
      /** vCPUs reserved per job (idle power charged for these). @default 1 */
      vcpus: nonNegative.default(1),
    })
    .strict(),
  z
    .object({
      model: z.literal("rapl"),
      /** Used when powercap is unreadable. */
      fallbackTdpWatts: positive.default(DEFAULT_CPU_TDP_WATTS),
    })
    .strict(),
]);

const zoneKey = z.string().regex(/^[A-Za-z0-9-]{2,40}$/, "must be a zone key like DE or US-MIDA-PJM");
// Zones resolve to upper case (resolveZone), so configured zones and per-zone keys are upper-cased
// here: `pueByZone: { de: 1.5 }` must apply to zone DE, not be silently ignored.
const zoneName = zoneKey.transform((zone) => zone.toUpperCase());

/** Per-zone values with upper-cased keys; `de` and `DE` in one record are an error, not a silent pick. */
function zoneRecord(value: z.ZodNumber) {
  return z.record(zoneKey, value).transform((record, ctx) => {
    const out: Record<string, number> = {};
    for (const [key, v] of Object.entries(record)) {
      const upper = key.toUpperCase();
      if (Object.hasOwn(out, upper)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `duplicate zone ${upper} (keys are case-insensitive)`,
        });
      }
      out[upper] = v;
    }
    return out;
  });
}

export const configSchema = z
  .object({
    /**
     * Grid zone of this deployment. Wins over `cloud` and the OTel resource's cloud region; a job's
     * own `carbon.zone` wins over it. Unset → `cloud`, then the resource, then DEFAULT_ZONE (WORLD).
     */
    zone: zoneName.optional(),
    /** Cloud provider/region of this deployment, mapped to a zone (wins over the OTel resource's). */
    cloud: z
      .object({ provider: z.enum(CLOUD_PROVIDERS), region: z.string().min(1) })
      .strict()
      .optional(),
    model: z
      .object({
        cpu: cpuSchema.default({ model: "tdp", tdpWatts: DEFAULT_CPU_TDP_WATTS, logicalCores: "auto" }),
        memoryWattsPerGb: nonNegative.default(MEMORY_WATTS_PER_GB),
        networkKwhPerGb: nonNegative.default(NETWORK_KWH_PER_GB),
        pue: z.number().min(1, "must be ≥ 1").default(DEFAULT_PUE),
        /** PUE per zone, overriding `pue`. */
        pueByZone: zoneRecord(z.number().min(1, "must be ≥ 1")).default({}),
      })
      .strict()
      .prefault({}),
    embodied: z
      .object({
        totalEmbodiedKg: nonNegative,
        lifespanYears: positive,
        reservedShare: z.number().min(0).max(1),
      })
      .strict()
      .optional(),
    carbonPrice: z
      .object({ perTonne: nonNegative, currency: z.string().min(1).default("USD") })
      .strict()
      .optional(),
    /** Contractual (market-based) factors per zone, gCO₂e/kWh. */
    marketFactors: zoneRecord(nonNegative).default({}),
    intensity: z
      .object({
        /** `auto`: Electricity Maps when ELECTRICITYMAPS_API_TOKEN is set, else static. */
        provider: z.enum(["auto", "static", "electricitymaps"]).default(INTENSITY.provider),
        baseUrl: z.url().default(INTENSITY.baseUrl),
        emissionFactorType: z.enum(["lifecycle", "direct"]).default(INTENSITY.emissionFactorType),
        cacheTtlSeconds: positive.default(INTENSITY.cacheTtlSeconds),
        timeoutMs: positive.default(INTENSITY.timeoutMs),
        retries: z.number().int().min(0).max(10).default(INTENSITY.retries),
        breakerFailures: z.number().int().positive().default(INTENSITY.breakerFailures),
        breakerResetSeconds: positive.default(INTENSITY.breakerResetSeconds),
        /** Year of the static Electricity Maps table (2021–2025). */
        staticYear: z.number().int().min(2021).max(2025).default(INTENSITY.staticYear),
      })
      .strict()
      .prefault({}),
    sampler: z
      .object({
        intervalMs: z.number().int().min(10).default(SAMPLER_DEFAULTS.intervalMs),
        /**
         * A job measured longer than this is finished by the sampler (counters up to that age) so
         * that a span never ended cannot stay "active" forever and dilute every later job.
         */
        maxJobSeconds: positive.default(SAMPLER_DEFAULTS.maxJobSeconds),
        /**
         * How overlapping jobs share the CPU: `event-loop` (by the time the thread runs each job's
         * callbacks) or `equal` (equal shares of every interval).
         */
        attribution: z.enum(ATTRIBUTION_MODES).default(SAMPLER_DEFAULTS.attribution),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        /** Distinct job_name values before the rest become job_name="other". */
        jobNameLimit: z.number().int().positive().default(200),
        /**
         * job_name patterns (`*` = any characters) whose duration and per-run histograms keep the
         * service_name label; other jobs' histograms are per job_name only, which keeps a large
         * fleet's scrape small. `["*"]` restores per job × service histograms for every job.
         */
        fullHistograms: z
          .array(
            z
              .string()
              .min(1, "must not be empty")
              .max(
                FULL_HISTOGRAM_PATTERN_MAX_LENGTH,
                `must be at most ${FULL_HISTOGRAM_PATTERN_MAX_LENGTH} characters`,
              ),
          )
          .max(FULL_HISTOGRAM_PATTERNS_MAX, `at most ${FULL_HISTOGRAM_PATTERNS_MAX} patterns`)
          .default([]),
      })
      .strict()
      .prefault({}),
    prometheus: z
      .object({
        host: z.string().min(1).default("127.0.0.1"),
        port: z.number().int().min(0).max(65535).default(9464),
      })
      .strict()
      .prefault({}),
    gateway: z
      .object({
        listen: hostPort.default("127.0.0.1:4318"),
        metricsListen: hostPort.default("127.0.0.1:9464"),
        /** OTLP/gRPC listener (TraceService/Export), e.g. 127.0.0.1:4317; unset → no gRPC receiver. */
        grpcListen: hostPort.optional(),
        forwardUrl: z.url().optional(),
        /** `http/protobuf` (POST to forwardUrl) or `grpc` (TraceService/Export to its host:port). */
        forwardProtocol: z.enum(FORWARD_PROTOCOLS).default("http/protobuf"),
        /** Request body limit as received (compressed), bytes; larger → 413. */
        bodyLimitBytes: z
          .number()
          .int()
          .positive()
          .default(8 * 1024 * 1024),
        /** Limit after gzip decompression, bytes (a gzip bomb → 413). */
        decompressedLimitBytes: z
          .number()
          .int()
          .positive()
          .default(32 * 1024 * 1024),
        maxConcurrentRequests: z.number().int().positive().default(64),
        forwardQueueSpans: z.number().int().positive().default(100_000),
        /** Bound of the forward queue in bytes of encoded spans. */
        forwardQueueBytes: z
          .number()
          .int()
          .positive()
          .default(256 * 1024 * 1024),
        forwardBatchSpans: z.number().int().positive().default(512),
        /**
         * While the forward queue is full, how long a request waits for room (body unread)
         * before it is answered 503, ms. 0 = answer at once.
         */
        admissionWaitMs: z.number().int().min(0).max(30_000).default(1000),
        /**
         * Batches in flight to the downstream at once. 16: at 4, loopback forwarding under load
         * kept up with about half of what the receiver acknowledges (bench/gateway-forward.bench.ts).
         */
        forwardConcurrency: z.number().int().positive().max(64).default(16),
        /** Per-attempt timeout of a forward request, ms. */
        forwardTimeoutMs: z.number().int().positive().default(10_000),
        shutdownTimeoutMs: z.number().int().positive().default(10_000),
        /** Max time a request waits for live intensity before the static value is used. */
        intensityWaitMs: z.number().int().min(0).default(250),
        /** Name of the env variable holding the bearer token clients must send; unset → no auth. */
        bearerTokenEnv: z.string().optional(),
        /** Request headers must be complete this long after the connection opens (or the last answer), ms. */
        headersTimeoutMs: z.number().int().positive().default(10_000),
        /** A request body must be complete this long after its headers, ms; later → 408. */
        bodyTimeoutMs: z.number().int().positive().default(30_000),
        /** After the first second, a body arriving slower than this on average → 408. 0 turns the check off. */
        minBodyBytesPerSecond: z.number().int().min(0).default(1024),
        /** Decompressed size may be at most this many times the compressed size (over 1 MiB); more → 413. */
        maxDecompressionRatio: z.number().positive().default(200),
        /** Work one request may ask for, checked before it is done. */
        limits: z
          .object({
            /** Spans in one request; more → 413. */
            maxSpansPerRequest: z.number().int().positive().default(10_000),
            /** Attribute values of one span (span, event and link attributes; array and kvlist elements count); more → span rejected. */
            maxAttributesPerSpan: z.number().int().positive().default(256),
            /** Bytes of one string or bytes attribute value; longer → span rejected (400 outside a span). */
            maxAttributeValueBytes: z.number().int().positive().default(65_536),
            /** Levels of arrays and kvlists inside an attribute value; deeper → span rejected (400 outside a span). */
            maxNestingDepth: z.number().int().positive().max(64).default(8),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .superRefine((gw, ctx) => {
        const problem =
          gw.forwardProtocol === "grpc" && gw.forwardUrl ? grpcForwardUrlProblem(gw.forwardUrl) : undefined;
        if (problem) ctx.addIssue({ code: "custom", path: ["forwardUrl"], message: problem });
      })
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/**
 * Formats the first issues as `key.path: reason, got value`, plus `(set by VAR)` when an
 * environment variable supplied the value (`sources`: key path → variable name).
 */
function describeIssues(error: z.ZodError, input: unknown, sources?: ReadonlyMap<string, string>): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      if (issue.code === "unrecognized_keys") {
        const prefix = issue.path.length ? `${issue.path.join(".")}.` : "";
        return issue.keys.map((k) => `${prefix}${k}: unknown key`).join("; ");
      }
      const path = issue.path.join(".") || "(root)";
      let got: unknown = input;
      for (const part of issue.path)
        got = (got as Record<PropertyKey, unknown> | undefined)?.[part as string];
      const reason = issue.message.replace(/^Too small: expected number to be >=(\d+)/, "must be ≥ $1");
      const variable = sources?.get(path);
      const from = variable ? ` (set by ${variable})` : "";
      return got === undefined
        ? `${path}: ${reason}${from}`
        : `${path}: ${reason}, got ${JSON.stringify(got)}${from}`;
    })
    .join("; ");
}

/**
 * Validates a plain object (already merged with overrides). `sources` (key path → environment
 * variable) lets an error name the variable that supplied a bad value.
 */
export function parseConfig(
  input: unknown,
  origin = "config",
  sources?: ReadonlyMap<string, string>,
): Config {
  const result = configSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new Co2eError(
      ERROR_CODES.config,
      `invalid ${origin}: ${describeIssues(result.error, input, sources)}`,
    );
  }
  return result.data;
}

function readYaml(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Co2eError(ERROR_CODES.config, `cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw new Co2eError(
      ERROR_CODES.config,
      `config file ${path} is not valid YAML: ${(error as Error).message}`,
    );
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}

/** Environment variables that override config keys. Numbers are parsed; a bad one names the variable. */
export const ENV_OVERRIDES: Record<string, { path: string[]; type: "string" | "number" }> = {
  CO2E_ZONE: { path: ["zone"], type: "string" },
  CO2E_PUE: { path: ["model", "pue"], type: "number" },
  CO2E_INTENSITY_PROVIDER: { path: ["intensity", "provider"], type: "string" },
  ELECTRICITYMAPS_BASE_URL: { path: ["intensity", "baseUrl"], type: "string" },
  CO2E_SAMPLER_INTERVAL_MS: { path: ["sampler", "intervalMs"], type: "number" },
  OTEL_EXPORTER_PROMETHEUS_HOST: { path: ["prometheus", "host"], type: "string" },
  OTEL_EXPORTER_PROMETHEUS_PORT: { path: ["prometheus", "port"], type: "number" },
};

export interface LoadConfigOptions {
  /** YAML file; default `CO2E_CONFIG` or config/default.yaml. */
  file?: string;
  /** Environment; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Applied last (programmatic options, CLI flags). */
  overrides?: ConfigInput;
}

function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) continue;
    const prev = out[key];
    out[key] =
      value && typeof value === "object" && !Array.isArray(value) && prev && typeof prev === "object"
        ? deepMerge(prev as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

/**
 * Writes the ENV_OVERRIDES variables set in `env` (all, or only `names`) into `target`. Returns
 * key path → variable for the ones applied, so a validation error can name the variable.
 */
function applyEnvironment(
  target: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  names: readonly string[] = Object.keys(ENV_OVERRIDES),
): Map<string, string> {
  const sources = new Map<string, string>();
  for (const name of names) {
    const entry = ENV_OVERRIDES[name];
    const raw = env[name]?.trim();
    if (!entry || raw === undefined || raw === "") continue;
    const value = entry.type === "number" ? Number(raw) : raw;
    if (entry.type === "number" && !Number.isFinite(value)) {
      throw new Co2eError(
        ERROR_CODES.config,
        `invalid environment: ${name}: must be a number, got ${JSON.stringify(raw)}`,
      );
    }
    setPath(target, entry.path, value);
    sources.set(entry.path.join("."), name);
  }
  return sources;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.CO2E_CONFIG ?? DEFAULT_CONFIG_PATH;
  const fromFile = readYaml(file);
  if (typeof fromFile !== "object" || fromFile === null || Array.isArray(fromFile)) {
    throw new Co2eError(ERROR_CODES.config, `config file ${file} must hold a mapping at the top level`);
  }
  let merged = structuredClone(fromFile) as Record<string, unknown>;
  const sources = applyEnvironment(merged, env);
  if (options.overrides) {
    merged = deepMerge(merged, options.overrides as Record<string, unknown>);
    // A key the overrides set no longer comes from the environment.
    for (const path of [...sources.keys()]) {
      let node: unknown = options.overrides;
      for (const key of path.split(".")) node = (node as Record<string, unknown> | undefined)?.[key];
      if (node !== undefined) sources.delete(path);
    }
  }
  return parseConfig(merged, `config (${file})`, sources);
}

/**
 * A Config built in code, with the named environment variables (ENV_OVERRIDES keys) applied on
 * top and validated the same way loadConfig validates them: the SDK preset uses it so the
 * OTEL_EXPORTER_PROMETHEUS_* variables work whatever config it is handed, and a bad value is a
 * CO2E_ERR_CONFIG naming the variable.
 */
export function withEnvironment(
  config: Config,
  names: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Config {
  const merged = structuredClone(config) as unknown as Record<string, unknown>;
  const sources = applyEnvironment(merged, env, names);
  return sources.size === 0 ? config : parseConfig(merged, "config (environment)", sources);
}

/** Logical cores for the tdp model: configured, or what this machine offers. */
export function resolveLogicalCores(cpu: Config["model"]["cpu"]): number {
  return cpu.model === "tdp" && cpu.logicalCores !== "auto" ? cpu.logicalCores : availableParallelism();
}
