/**
 * Which grid zone a job ran in. Order: the job's own `carbon.zone` attribute →
 * configured zone-or-cloud → the OTel resource's `cloud.provider` + `cloud.region` → default.
 * Every answer says how it was found, and an unknown zone or region is an error the caller makes
 * visible, never a silent guess.
 */
import { Co2eError, ERROR_CODES } from "../errors.ts";
import { CLOUD_REGION_ZONES, normaliseCloudProvider } from "./regions.ts";
import { isKnownStaticZone } from "./static.ts";

/**
 * Zone used when neither the job, the config nor a cloud region names one: `WORLD`, Ember's world
 * average intensity (the static table's WORLD row, from @tgwf/co2's Ember data). It shows on
 * every such span as carbon.intensity.zone=WORLD with zone_resolved_by=default, never hidden.
 */
export const DEFAULT_ZONE = "WORLD";

export type ZoneResolvedBy = "attribute" | "config" | "cloud-region" | "default";

export interface ZoneHints {
  /** `carbon.zone` on the span, or `--zone`. */
  attributeZone?: string | undefined;
  /** A zone set explicitly in config or options (not the default). */
  configZone?: string | undefined;
  /** Cloud provider/region from config, the OTel resource, or `--cloud/--region`. */
  cloudProvider?: string | undefined;
  cloudRegion?: string | undefined;
  /** Used when nothing else names a zone. */
  defaultZone: string;
  /**
   * The static table year lookups will use (config `intensity.staticYear`): the zone must exist in
   * that year's table, not just the latest. @default LATEST_STATIC_YEAR
   */
  staticYear?: number | undefined;
}

export interface ResolvedZone {
  zone: string;
  resolvedBy: ZoneResolvedBy;
}

/** Zone for a cloud provider's region; throws CO2E_ERR_UNKNOWN_REGION when the table lacks it. */
export function zoneForCloudRegion(provider: string, region: string): string {
  const p = normaliseCloudProvider(provider);
  if (!p) {
    throw new Co2eError(
      ERROR_CODES.unknownRegion,
      `unknown cloud provider "${provider}" (expected aws, gcp or azure)`,
    );
  }
  // Azure's display names ("East US") and API names ("eastus") both work.
  const zone = CLOUD_REGION_ZONES[p][region.trim().toLowerCase().replace(/\s+/g, "")];
  if (!zone) {
    throw new Co2eError(
      ERROR_CODES.unknownRegion,
      `unknown ${p} region "${region}": not in the region → zone table (set a zone explicitly)`,
    );
  }
  return zone;
}

function checked(zone: string, resolvedBy: ZoneResolvedBy, staticYear?: number): ResolvedZone {
  const key = zone.trim().toUpperCase();
  if (!isKnownStaticZone(key, staticYear)) {
    throw new Co2eError(
      ERROR_CODES.unknownZone,
      `unknown zone "${zone}" (from ${resolvedBy}${staticYear === undefined ? "" : `, static table ${staticYear}`})`,
    );
  }
  return { zone: key, resolvedBy };
}

export function resolveZone(hints: ZoneHints): ResolvedZone {
  const year = hints.staticYear;
  if (hints.attributeZone) return checked(hints.attributeZone, "attribute", year);
  if (hints.configZone) return checked(hints.configZone, "config", year);
  if (hints.cloudProvider && hints.cloudRegion) {
    return checked(zoneForCloudRegion(hints.cloudProvider, hints.cloudRegion), "cloud-region", year);
  }
  return checked(hints.defaultZone, "default", year);
}
