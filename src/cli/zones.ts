/**
 * `co2e zones`: what the static table knows (zone, name, yearly gCO₂e/kWh) or, with `--cloud`,
 * a provider's region → zone table with each zone's value. Lets a person pick a `--zone` or check
 * what a `cloud.region` resolves to before trusting a number.
 */
import { CLOUD_REGION_ZONES, type CloudProvider } from "../intensity/regions.ts";
import {
  LATEST_STATIC_YEAR,
  listStaticZones,
  STATIC_YEARS,
  type StaticYear,
  staticIntensity,
} from "../intensity/static.ts";
import { formatColumns } from "../util/format.ts";
import { parseFlagsOrHelp } from "./args.ts";
import { cloudFlag, yearFlag } from "./zone.ts";

export const ZONES_HELP = `co2e zones — zones of the static intensity table, or a cloud's region → zone table

Usage: co2e zones [--cloud aws|gcp|azure] [--year Y] [--json]

  --cloud P   list the provider's regions with the zone each maps to
  --year Y    static table year, ${STATIC_YEARS[0]}–${STATIC_YEARS.at(-1)} (default ${STATIC_YEARS.at(-1)})
  --json      print JSON
`;

export interface ZoneRow {
  zone: string;
  name: string;
  gramsPerKwh: number;
  year?: number;
  dataset?: string;
}

export interface RegionRow {
  region: string;
  zone: string;
  gramsPerKwh: number;
}

export function zoneRows(year: StaticYear): ZoneRow[] {
  return listStaticZones(year).map(({ zone, name }) => {
    const value = staticIntensity(zone, year);
    return {
      zone,
      name,
      gramsPerKwh: value.gramsPerKwh,
      ...(value.year !== undefined ? { year: value.year } : {}),
      ...(value.dataset !== undefined ? { dataset: value.dataset } : {}),
    };
  });
}

export function regionRows(provider: CloudProvider, year: StaticYear): RegionRow[] {
  return Object.entries(CLOUD_REGION_ZONES[provider]).map(([region, zone]) => ({
    region,
    zone,
    gramsPerKwh: staticIntensity(zone, year).gramsPerKwh,
  }));
}

function columns(rows: string[][]): string {
  return `${formatColumns(rows)}\n`;
}

/** Errors (a bad --year or --cloud) propagate: main.ts maps them to exit codes. */
export async function run(argv: string[]): Promise<number> {
  const values = parseFlagsOrHelp(
    argv,
    { cloud: { type: "string" }, year: { type: "string" }, json: { type: "boolean" } },
    ZONES_HELP,
  );
  if (!values) return 0;
  const year = yearFlag(values) ?? LATEST_STATIC_YEAR;

  if (typeof values.cloud === "string") {
    const provider = cloudFlag(values.cloud);
    const rows = regionRows(provider, year);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ provider, year, regions: rows }, null, 2)}\n`);
    } else {
      process.stdout.write(
        columns([
          ["region", "zone", `gCO₂e/kWh (${year})`],
          ...rows.map((r) => [r.region, r.zone, String(r.gramsPerKwh)]),
        ]),
      );
    }
    return 0;
  }

  const rows = zoneRows(year);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ year, zones: rows }, null, 2)}\n`);
  } else {
    process.stdout.write(
      columns([["zone", "gCO₂e/kWh", "name"], ...rows.map((r) => [r.zone, String(r.gramsPerKwh), r.name])]),
    );
    process.stdout.write(
      `\n${rows.length} zones. Electricity Maps zones: yearly ${year} lifecycle averages (ODbL); ` +
        "3-letter codes: Ember country averages (CC BY-SA 4.0), both via @tgwf/co2.\n",
    );
  }
  return 0;
}
