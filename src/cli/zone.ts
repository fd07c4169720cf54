/**
 * The zone flags every command shares (`--zone`, `--cloud`, `--region`, `--year`): checked here
 * once, with one wording, then handed to the one resolver (src/intensity/zone.ts) together with
 * the config, so a command says `resolvedBy` in the same words as a span.
 */
import type { ParseArgsOptionsConfig } from "node:util";
import type { Config } from "../config.ts";
import { CLOUD_PROVIDERS, type CloudProvider, normaliseCloudProvider } from "../intensity/regions.ts";
import { STATIC_YEARS, type StaticYear, staticIntensity } from "../intensity/static.ts";
import { type ResolvedZone, resolveZone } from "../intensity/zone.ts";
import { numberFlag, type ParsedArgs, usageError } from "./args.ts";

/** parseArgs options of the zone flags. */
export const ZONE_FLAG_OPTIONS = {
  zone: { type: "string" },
  cloud: { type: "string" },
  region: { type: "string" },
} as const satisfies ParseArgsOptionsConfig;

export interface ZoneFlags {
  zone?: string | undefined;
  cloud?: string | undefined;
  region?: string | undefined;
}

function stringFlag(values: ParsedArgs["values"], name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * The one check of `--zone`, `--cloud`, `--region`: `--zone` or the pair, not both; the pair
 * together; a provider of the region table. Whether the zone or region exists is the resolver's
 * check (CO2E_ERR_UNKNOWN_ZONE / _REGION).
 */
export function zoneFlags(values: ParsedArgs["values"]): ZoneFlags {
  const zone = stringFlag(values, "zone");
  const cloud = stringFlag(values, "cloud");
  const region = stringFlag(values, "region");
  if (zone !== undefined && (cloud !== undefined || region !== undefined)) {
    throw usageError("give either --zone or --cloud with --region, not both");
  }
  if ((cloud === undefined) !== (region === undefined)) {
    throw usageError("--cloud and --region go together");
  }
  if (cloud !== undefined) cloudFlag(cloud);
  return { zone, cloud, region };
}

/** `--cloud`: a provider of the region table (aliases as normaliseCloudProvider takes them). */
export function cloudFlag(value: string): CloudProvider {
  const provider = normaliseCloudProvider(value);
  if (!provider) throw usageError(`--cloud: expects ${CLOUD_PROVIDERS.join(", ")}, got "${value}"`);
  return provider;
}

/** `--year`: a year of the static table, or undefined when absent. */
export function yearFlag(values: ParsedArgs["values"]): StaticYear | undefined {
  const year = numberFlag(values, "year", { integer: true });
  if (year !== undefined && !(STATIC_YEARS as readonly number[]).includes(year)) {
    throw usageError(`--year: the static table has ${STATIC_YEARS.join(", ")}, got ${year}`);
  }
  return year as StaticYear | undefined;
}

/**
 * The zone a command uses: flags, else the config (`zone`/CO2E_ZONE, then `cloud`), else the
 * resource's cloud region when the command has one (`co2e run`), else WORLD. Unknown zones and
 * regions throw CO2E_ERR_UNKNOWN_ZONE / _REGION naming their source (exit 2).
 */
export function resolveCliZone(
  flags: ZoneFlags,
  config: Config,
  options: {
    resource?: { provider?: string | undefined; region?: string | undefined };
    staticYear?: number;
  } = {},
): ResolvedZone {
  return resolveZone({
    flags,
    config,
    ...(options.resource ? { resource: options.resource } : {}),
    staticYear: options.staticYear ?? config.intensity.staticYear,
  });
}

/**
 * Whether the zone is an Electricity Maps zone (the live API knows it), not only an Ember
 * country code (`DEU`, `WORLD`) of the static table: Electricity Maps values carry their year,
 * Ember's do not (src/intensity/static.ts).
 */
export function isElectricityMapsZone(zone: string, staticYear: number): boolean {
  try {
    return staticIntensity(zone, staticYear as StaticYear).year !== undefined;
  } catch {
    return false;
  }
}
