/**
 * `co2e window --zone Z --duration D [--within H] [--json]`: when to start a job of length D in
 * the next H hours so that the mean forecast intensity is lowest. Exit 3 when no forecast is
 * available (no token, a plan without the forecast endpoint, no forecast for the zone).
 */
import type { ParseArgsOptionsConfig } from "node:util";
import { loadConfig } from "../config.ts";
import { ERROR_CODES, isCo2eError } from "../errors.ts";
import { type GreenestWindowResult, greenestWindow, HOUR_MS } from "../intensity/greenest.ts";
import { numberFlag, parseDurationSeconds, parseFlags, usageError } from "./args.ts";

export const WINDOW_OPTIONS = {
  zone: { type: "string" },
  duration: { type: "string" },
  within: { type: "string" },
  json: { type: "boolean" },
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsOptionsConfig;

export const WINDOW_HELP = `co2e window — the greenest start time for a job, from the intensity forecast

Usage: co2e window --zone Z --duration D [--within H] [--json]

  --zone Z        Electricity Maps zone (DE, US-MIDA-PJM); default: config zone
  --duration D    length of the job: 90m, 2h, 1h30m, 5400 (seconds)
  --within H      latest start, hours from now (default 24); the job must also end within
                  the forecast
  --json          print one JSON object
  --config FILE   config file (default: CO2E_CONFIG or config/default.yaml)

Needs ELECTRICITYMAPS_API_TOKEN with access to the forecast endpoint (exit 3 otherwise).
The search is exact: the mean intensity over the job, time-weighted over partial hours, is
evaluated at every start where the job's start or end crosses a forecast row boundary.
`;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/:00\.000Z$/, "Z");
}

function formatHuman(zone: string, durationS: number, r: GreenestWindowResult, nowMs: number): string {
  const lines = [
    `Greenest start for a ${formatDuration(durationS)} job in ${zone}: ${iso(r.startMs)} (in ${formatDuration((r.startMs - nowMs) / 1000)})`,
    `  expected intensity there  ${r.gramsPerKwh.toFixed(1)} gCO₂e/kWh (mean over ${iso(r.startMs)} … ${iso(r.endMs)})`,
  ];
  if (r.now) {
    lines.push(`  starting now              ${r.now.gramsPerKwh.toFixed(1)} gCO₂e/kWh`);
    lines.push(`  saving                    ${r.savingPercent!.toFixed(1)} %`);
  } else {
    lines.push("  starting now              not in the forecast (it begins later)");
  }
  lines.push(
    `  forecast                  ${iso(r.forecastStartMs)} … ${iso(r.forecastEndMs)} (Electricity Maps)`,
  );
  return `${lines.join("\n")}\n`;
}

function formatDuration(seconds: number): string {
  const m = Math.round(seconds / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, WINDOW_OPTIONS);
  if (values.help) {
    process.stdout.write(WINDOW_HELP);
    return 0;
  }
  if (typeof values.duration !== "string") throw usageError("--duration is required (e.g. --duration 2h)");
  const durationS = parseDurationSeconds(values.duration, "duration");
  if (!(durationS > 0)) throw usageError("--duration: must be > 0");
  const withinH = numberFlag(values, "within", { min: 0, max: 24 * 30 }) ?? 24;
  const config = loadConfig(typeof values.config === "string" ? { file: values.config } : {});
  const zone = (typeof values.zone === "string" ? values.zone : config.zone).trim().toUpperCase();
  const nowMs = Date.now();
  let result: GreenestWindowResult;
  try {
    result = await greenestWindow({
      zone,
      durationMs: durationS * 1000,
      withinMs: withinH * HOUR_MS,
      config,
      nowMs,
    });
  } catch (error) {
    if (isCo2eError(error, ERROR_CODES.auth)) {
      const hint = process.env.ELECTRICITYMAPS_API_TOKEN?.trim()
        ? "the token was refused for the forecast (does the plan include the forecast endpoint?)"
        : error.message;
      process.stderr.write(`co2e window: no forecast available: ${hint} [${error.code}]\n`);
      return 3;
    }
    if (isCo2eError(error, ERROR_CODES.noForecast)) {
      process.stderr.write(`co2e window: no forecast available: ${error.message} [${error.code}]\n`);
      return 3;
    }
    throw error;
  }
  if (values.json) {
    const out = {
      zone,
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
