/**
 * `co2e intensity [--zone Z | --cloud aws --region R] [--json] [--history] [--config FILE]`
 *
 * Grid intensity now for a zone (flags, else the config's zone or cloud, else WORLD — see
 * resolveCliZone), live from Electricity Maps when a token is set (same provider,
 * cache and fallbacks as the span processor), else the static table. A live failure is not an
 * error here either: the static value is printed with the reason, exit 0.
 */
import { loadConfig } from "../config.ts";
import { createIntensityProvider } from "../intensity/index.ts";
import { listStaticZones } from "../intensity/static.ts";
import type { IntensityRow, IntensityValue } from "../intensity/types.ts";
import type { ResolvedZone, ZoneResolvedBy } from "../intensity/zone.ts";
import { formatDecimal, formatDuration, formatIntensity } from "../util/format.ts";
import { parseFlagsOrHelp } from "./args.ts";
import { resolveCliZone, ZONE_FLAG_OPTIONS, zoneFlags } from "./zone.ts";

export const USAGE = `Usage: co2e intensity [--zone ZONE | --cloud aws|gcp|azure --region REGION] [--json] [--history] [--config FILE]

Grid carbon intensity (gCO₂e/kWh) for a zone now: live from Electricity Maps when
ELECTRICITYMAPS_API_TOKEN is set (base URL: ELECTRICITYMAPS_BASE_URL or intensity.baseUrl),
else the static yearly table. If the live source fails, the static value is shown with the reason.

The zone: --zone, else --cloud with --region, else the config's zone (CO2E_ZONE), else its
cloud region, else WORLD; the output says which.

Options:
  --zone ZONE        Electricity Maps zone key (DE, US-MIDA-PJM) or Ember code (DEU, WORLD)
  --cloud PROVIDER   cloud provider (aws, gcp, azure); with --region
  --region REGION    cloud region, mapped to a zone (see \`co2e zones\`)
  --history          also the last 24 h of hourly values (live only)
  --json             one JSON object on stdout
  --config FILE      config file (default config/default.yaml or CO2E_CONFIG)
`;

interface Output {
  zone: string;
  zoneName?: string;
  /** How the zone was found: flag, config or default (ZONE_RESOLVED_BY). */
  resolvedBy: ZoneResolvedBy;
  /** The same in words: `config cloud aws/eu-west-1 → IE`. */
  zoneFrom: string;
  gramsPerKwh: number;
  source: string;
  method: string;
  datetime?: string;
  isEstimated?: boolean;
  estimationMethod?: string;
  ageSeconds?: number;
  year?: number;
  dataset?: string;
  fallbackReason?: string;
  history?: Array<{ datetime: string; gramsPerKwh: number; isEstimated: boolean }>;
  historyUnavailable?: string;
}

function zoneName(zone: string): string | undefined {
  return listStaticZones().find((z) => z.zone === zone)?.name;
}

function toOutput(resolved: ResolvedZone, value: IntensityValue): Output {
  const out: Output = {
    zone: value.zone,
    resolvedBy: resolved.resolvedBy,
    zoneFrom: resolved.explanation,
    gramsPerKwh: value.gramsPerKwh,
    source: value.source,
    method: value.method,
  };
  const name = zoneName(value.zone);
  if (name) out.zoneName = name;
  if (value.datetime) out.datetime = value.datetime;
  if (value.isEstimated !== undefined) out.isEstimated = value.isEstimated;
  if (value.estimationMethod) out.estimationMethod = value.estimationMethod;
  if (value.ageSeconds !== undefined) out.ageSeconds = Math.round(value.ageSeconds);
  if (value.year !== undefined) out.year = value.year;
  if (value.dataset) out.dataset = value.dataset;
  if (value.fallbackReason) out.fallbackReason = value.fallbackReason;
  return out;
}

function formatText(out: Output): string {
  const lines = [
    `zone       ${out.zone}${out.zoneName ? ` (${out.zoneName})` : ""}  [${out.zoneFrom}]`,
    `intensity  ${formatIntensity(out.gramsPerKwh)}`,
    `source     ${out.source} (${out.method}${out.year ? ` ${out.year}` : ""})${out.fallbackReason ? `  fallback: ${out.fallbackReason}` : ""}`,
  ];
  if (out.datetime)
    lines.push(
      `datetime   ${out.datetime}${out.ageSeconds !== undefined ? `  (${formatDuration(out.ageSeconds)} old)` : ""}`,
    );
  lines.push(
    `estimated  ${out.isEstimated === undefined ? "n/a (yearly average)" : out.isEstimated ? `yes${out.estimationMethod ? ` (${out.estimationMethod})` : ""}` : "no"}`,
  );
  if (out.dataset) lines.push(`dataset    ${out.dataset}`);
  if (out.history) {
    lines.push("", "last 24 h (hour start, gCO₂e/kWh):");
    for (const row of out.history)
      lines.push(
        `  ${row.datetime}  ${formatDecimal(row.gramsPerKwh, 1)}${row.isEstimated ? "  (estimated)" : ""}`,
      );
  } else if (out.historyUnavailable) {
    lines.push("", `history unavailable: ${out.historyUnavailable}`);
  }
  return `${lines.join("\n")}\n`;
}

function historyRows(rows: readonly IntensityRow[] | undefined, nowMs: number): Output["history"] {
  if (!rows) return undefined;
  return rows
    .filter((r) => r.startMs <= nowMs && r.startMs > nowMs - 25 * 3_600_000)
    .map((r) => ({
      datetime: new Date(r.startMs).toISOString(),
      gramsPerKwh: r.gramsPerKwh,
      isEstimated: r.isEstimated ?? false,
    }));
}

export async function run(argv: string[]): Promise<number> {
  const values = parseFlagsOrHelp(
    argv,
    {
      ...ZONE_FLAG_OPTIONS,
      json: { type: "boolean" },
      history: { type: "boolean" },
      config: { type: "string" },
    },
    USAGE,
  );
  if (!values) return 0;
  const flags = zoneFlags(values);
  const config = loadConfig({ ...(values.config ? { file: values.config as string } : {}) });
  const resolved = resolveCliZone(flags, config);

  const provider = createIntensityProvider(config, {
    logger: (msg) => process.stderr.write(`co2e intensity: ${msg}\n`),
  });
  try {
    const nowMs = Date.now();
    const value = await provider.get(resolved.zone, { startMs: nowMs, endMs: nowMs });
    const out = toOutput(resolved, value);
    if (values.history) {
      // The provider's refresh fetched the last 24 h already: no extra request.
      const rows = historyRows(provider.cachedRows?.(resolved.zone), nowMs);
      if (rows && rows.length > 0 && value.source !== "static") out.history = rows;
      else if (provider.name === "static")
        out.historyUnavailable = "static table only (set ELECTRICITYMAPS_API_TOKEN for live data)";
      else out.historyUnavailable = `live source unavailable (${value.fallbackReason ?? "no rows"})`;
    }
    process.stdout.write(values.json ? `${JSON.stringify(out, null, 2)}\n` : formatText(out));
    return 0;
  } finally {
    await provider.close();
  }
}
