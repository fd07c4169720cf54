/**
 * Zone resolution as the CLI commands (`intensity`, `window`, `run`) see it. resolveZone speaks
 * the span's vocabulary — `attribute` is a span's own `carbon.zone` — but on the command line
 * that zone came from `--zone`, so messages and outputs name the flag instead, and an unknown
 * zone says which flag (or config key) to fix.
 */
import type { Config } from "../config.ts";
import { Co2eError, ERROR_CODES, isCo2eError } from "../errors.ts";
import { type StaticYear, staticIntensity } from "../intensity/static.ts";
import {
  DEFAULT_ZONE,
  type ResolvedZone,
  resolveZone,
  type ZoneResolvedBy,
  zoneForCloudRegion,
} from "../intensity/zone.ts";

/** How a CLI zone was found, as printed: the flag rather than the span-attribute word. */
export type CliZoneSource = "--zone" | "--cloud/--region" | Exclude<ZoneResolvedBy, "attribute">;

/** `resolvedBy` for CLI output: `attribute` → `--zone`; `cloud-region` from flags → `--cloud/--region`. */
export function cliResolvedBy(resolvedBy: ZoneResolvedBy, fromCloudFlags = false): CliZoneSource {
  if (resolvedBy === "attribute") return "--zone";
  if (resolvedBy === "cloud-region" && fromCloudFlags) return "--cloud/--region";
  return resolvedBy;
}

/**
 * Re-raises an error about a zone or region with the flag (or config key) that gave it first, as
 * `co2e estimate` does: `--zone: unknown zone "XX": …`. Other errors pass unchanged.
 */
export function withZoneSource<T>(source: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (isCo2eError(error, ERROR_CODES.unknownZone) || isCo2eError(error, ERROR_CODES.unknownRegion)) {
      throw new Co2eError(error.code, `${source}: ${stripFrom(error.message)}`, { cause: error });
    }
    throw error;
  }
}

/** resolveZone's `(from attribute, static table 2025)` suffix, which the prefix now says better. */
function stripFrom(message: string): string {
  return message.replace(/ \(from [a-z-]+(?:, static table (\d+))?\)$/, (_m, year?: string) =>
    year ? `: not in the static table of ${year} (try \`co2e zones\` for the list)` : "",
  );
}

export interface CliZoneFlags {
  zone?: string | undefined;
  cloud?: string | undefined;
  region?: string | undefined;
}

export interface CliZone extends ResolvedZone {
  /** What the output shows as resolvedBy. */
  source: CliZoneSource;
  /** One line on how the zone was found: `--zone`, `config cloud aws/eu-west-1 → IE`, … */
  how: string;
}

/**
 * The zone a CLI command uses: `--zone`, else `--cloud` with `--region`, else the config's `zone`,
 * else its `cloud` region (both `config`, as for spans), else WORLD (`default`). Unknown zones and
 * regions throw CO2E_ERR_UNKNOWN_ZONE / _REGION naming where they came from (exit 2).
 */
export function resolveCliZone(flags: CliZoneFlags, config: Config): CliZone {
  const staticYear = config.intensity.staticYear;
  if (flags.zone !== undefined) {
    const r = withZoneSource("--zone", () =>
      resolveZone({ attributeZone: flags.zone, defaultZone: DEFAULT_ZONE, staticYear }),
    );
    return { ...r, source: "--zone", how: "--zone" };
  }
  if (flags.cloud !== undefined && flags.region !== undefined) {
    const { cloud, region } = flags;
    const r = withZoneSource("--cloud/--region", () =>
      resolveZone({ cloudProvider: cloud, cloudRegion: region, defaultZone: DEFAULT_ZONE, staticYear }),
    );
    return { ...r, source: "--cloud/--region", how: `--cloud ${cloud} --region ${region} → ${r.zone}` };
  }
  if (config.zone) {
    const configZone = config.zone;
    const r = withZoneSource("config zone", () =>
      resolveZone({ configZone, defaultZone: DEFAULT_ZONE, staticYear }),
    );
    return { ...r, source: "config", how: "config zone" };
  }
  if (config.cloud) {
    const { provider, region } = config.cloud;
    const zone = withZoneSource("config cloud", () => zoneForCloudRegion(provider, region));
    const r = withZoneSource("config cloud", () =>
      resolveZone({ configZone: zone, defaultZone: DEFAULT_ZONE, staticYear }),
    );
    return { ...r, source: "config", how: `config cloud ${provider}/${region} → ${r.zone}` };
  }
  const r = resolveZone({ defaultZone: DEFAULT_ZONE, staticYear });
  return { ...r, source: "default", how: "default: no --zone, and no zone or cloud in the config" };
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
