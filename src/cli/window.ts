/**
 * `co2e window --zone Z --duration D [--within W] [--json]`: when to start a job of length D
 * within W from now so that the mean forecast intensity is lowest. No forecast (no token, a plan
 * without the forecast endpoint, no forecast for the zone) is CO2E_ERR_NO_FORECAST: exit 3.
 */
import type { ParseArgsOptionsConfig } from "node:util";
import { type Config, loadConfig } from "../config.ts";
import { Co2eError, ERROR_CODES, isCo2eError } from "../errors.ts";
import { ElectricityMapsClient } from "../intensity/electricitymaps.ts";
import { type GreenestWindowResult, greenestWindow, HOUR_MS } from "../intensity/greenest.ts";
import { formatDuration, formatIntensity, formatPercent } from "../util/format.ts";
import { parseDurationSeconds, parseFlagsOrHelp, usageError } from "./args.ts";
import { isElectricityMapsZone, resolveCliZone, ZONE_FLAG_OPTIONS, zoneFlags } from "./zone.ts";

export const WINDOW_OPTIONS = {
  ...ZONE_FLAG_OPTIONS,
  duration: { type: "string" },
  within: { type: "string" },
  json: { type: "boolean" },
  config: { type: "string" },
} as const satisfies ParseArgsOptionsConfig;

export const WINDOW_HELP = `co2e window — the greenest start time for a job, from the intensity forecast

Usage: co2e window [--zone Z | --cloud aws|gcp|azure --region R] --duration D [--within W] [--json]

  --zone Z        Electricity Maps zone (DE, US-MIDA-PJM); default: the config's zone, else
                  its cloud region. An Ember-only code (DEU, WORLD) has no forecast: exit 2
  --cloud P --region R   cloud region, mapped to a zone (see \`co2e zones\`)
  --duration D    length of the job: 90m, 2h, 1h30m, 5400 (a bare number is seconds)
  --within W      latest start from now: 24h, 36h, 90m, 2d (default 24h; a bare number is
                  hours); the job must also end within the forecast
  --json          print one JSON object
  --config FILE   config file (default: CO2E_CONFIG or config/default.yaml)

Needs ELECTRICITYMAPS_API_TOKEN with access to the forecast endpoint (exit 3 otherwise).
The search is exact: the mean intensity over the job, time-weighted over partial hours, is
evaluated at every start where the job's start or end crosses a forecast row boundary.
`;

/** Longest --within: 30 days, far beyond any forecast (Electricity Maps gives up to ~72 h). */
const MAX_WITHIN_HOURS = 24 * 30;

/**
 * `--within` as a duration (`24h`, `90m`, `2d`), returned in hours. A bare number is hours, as
 * before durations were accepted (`--within 24`), unlike --duration where it is seconds.
 */
export function parseWithinHours(text: string): number {
  const trimmed = text.trim();
  let hours: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) hours = Number(trimmed);
  else {
    try {
      hours = parseDurationSeconds(trimmed, "within") / 3600;
    } catch {
      throw usageError(
        `--within: expects a duration like 24h, 90m or 2d (a bare number is hours), got "${text}"`,
      );
    }
  }
  if (hours > MAX_WITHIN_HOURS)
    throw usageError(`--within: must be ≤ ${MAX_WITHIN_HOURS / 24}d, got "${text}"`);
  return hours;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/:00\.000Z$/, "Z");
}

function formatHuman(zone: string, durationS: number, r: GreenestWindowResult, nowMs: number): string {
  const lines = [
    `Greenest start for a ${formatDuration(durationS)} job in ${zone}: ${iso(r.startMs)} (in ${formatDuration((r.startMs - nowMs) / 1000)})`,
    `  expected intensity there  ${formatIntensity(r.gramsPerKwh)} (mean over ${iso(r.startMs)} … ${iso(r.endMs)})`,
  ];
  if (r.now) {
    lines.push(`  starting now              ${formatIntensity(r.now.gramsPerKwh)}`);
    lines.push(`  saving                    ${formatPercent(r.savingPercent ?? 0)}`);
  } else {
    lines.push("  starting now              not in the forecast (it begins later)");
  }
  lines.push(
    `  forecast                  ${iso(r.forecastStartMs)} … ${iso(r.forecastEndMs)} (Electricity Maps)`,
  );
  return `${lines.join("\n")}\n`;
}

/**
 * An Electricity Maps client for the forecast, from the config (which has applied
 * ELECTRICITYMAPS_BASE_URL) and ELECTRICITYMAPS_API_TOKEN; CO2E_ERR_AUTH without a token.
 */
function forecastClient(config: Config): ElectricityMapsClient {
  const token = process.env.ELECTRICITYMAPS_API_TOKEN?.trim();
  if (!token) {
    throw new Co2eError(
      ERROR_CODES.auth,
      "the forecast needs an Electricity Maps token: set ELECTRICITYMAPS_API_TOKEN (a plan with the forecast endpoint)",
    );
  }
  return new ElectricityMapsClient({
    baseUrl: config.intensity.baseUrl,
    token,
    emissionFactorType: config.intensity.emissionFactorType,
    // The forecast is one larger request, made once by a person waiting: at least 5 s.
    timeoutMs: Math.max(config.intensity.timeoutMs, 5000),
    retries: config.intensity.retries,
    logger: () => {},
  });
}

export async function run(argv: string[]): Promise<number> {
  const values = parseFlagsOrHelp(argv, WINDOW_OPTIONS, WINDOW_HELP);
  if (!values) return 0;
  if (typeof values.duration !== "string") throw usageError("--duration is required (e.g. --duration 2h)");
  const durationS = parseDurationSeconds(values.duration, "duration");
  if (!(durationS > 0)) throw usageError("--duration: must be > 0");
  const withinH = typeof values.within === "string" ? parseWithinHours(values.within) : 24;
  const config = loadConfig(typeof values.config === "string" ? { file: values.config } : {});
  // Checked like everywhere else: an unknown zone is the caller's to fix (exit 2), not "no forecast".
  const resolved = resolveCliZone(zoneFlags(values), config);
  const { zone } = resolved;
  // Only Electricity Maps zones have a forecast; an Ember code (the WORLD default, DEU) would be
  // sent to the API as if it were one. Also the caller's to fix, before any request.
  if (!isElectricityMapsZone(zone, config.intensity.staticYear)) {
    throw usageError(
      resolved.resolvedBy === "default"
        ? "needs a zone: give --zone with an Electricity Maps zone (e.g. --zone DE; `co2e zones` lists them), or set zone or cloud in the config"
        : `${resolved.explanation}: ${zone} is not an Electricity Maps zone (an Ember country code has no forecast); give --zone with an Electricity Maps zone (e.g. DE; \`co2e zones\` lists them)`,
    );
  }
  const nowMs = Date.now();
  let result: GreenestWindowResult;
  let client: ElectricityMapsClient | undefined;
  try {
    client = forecastClient(config);
    result = await greenestWindow({
      zone,
      durationMs: durationS * 1000,
      withinMs: withinH * HOUR_MS,
      client,
      nowMs,
    });
  } catch (error) {
    // A refused token cannot be told apart from a plan without the forecast endpoint (both
    // 401): for this command either means no forecast, so exit 3 through main's table.
    if (isCo2eError(error, ERROR_CODES.auth)) {
      const hint = process.env.ELECTRICITYMAPS_API_TOKEN?.trim()
        ? "the token was refused for the forecast (does the plan include the forecast endpoint?)"
        : error.message;
      throw new Co2eError(ERROR_CODES.noForecast, `no forecast available: ${hint}`, { cause: error });
    }
    if (isCo2eError(error, ERROR_CODES.noForecast)) {
      throw new Co2eError(ERROR_CODES.noForecast, `no forecast available: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    await client?.close();
  }
  if (values.json) {
    const out = {
      zone,
      resolvedBy: resolved.resolvedBy,
      durationSeconds: durationS,
      withinHours: withinH,
      start: new Date(result.startMs).toISOString(),
      end: new Date(result.endMs).toISOString(),
      gramsPerKwh: result.gramsPerKwh,
      nowGramsPerKwh: result.now?.gramsPerKwh ?? null,
      savingPercent: result.savingPercent ?? null,
      forecastStart: new Date(result.forecastStartMs).toISOString(),
      forecastEnd: new Date(result.forecastEndMs).toISOString(),
      source: "electricitymaps",
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(formatHuman(zone, durationS, result, nowMs));
  }
  return 0;
}
