/**
 * Which grid zone a job ran in: the one resolver behind the span processor, the gateway and every
 * CLI command. Order, first source that names a zone wins:
 *
 *   flag (`--zone`, or `--cloud` with `--region`) → the span's own `carbon.zone` (attribute)
 *   → config (`zone`, which CO2E_ZONE sets, then `cloud` through the region table)
 *   → the OTel resource's `cloud.provider` + `cloud.region` (cloud-region) → WORLD (default).
 *
 * A lower source is not looked at once a higher one named a zone, so an unknown configured region
 * never fails a job that says where it ran. Every answer carries `resolvedBy` (one word of
 * ZONE_RESOLVED_BY) and a one-line explanation; an unknown zone or region is a Co2eError naming
 * where it came from, never a silent guess.
 */
import { Co2eError, ERROR_CODES } from "../errors.ts";
import { CLOUD_PROVIDERS, CLOUD_REGION_ZONES, normaliseCloudProvider } from "./regions.ts";
import { isKnownStaticZone, LATEST_STATIC_YEAR, unknownZoneError } from "./static.ts";

/**
 * Zone used when no source names one: `WORLD`, Ember's world average intensity (the static
 * table's WORLD row, from @tgwf/co2's Ember data). It shows on every such span as
 * carbon.intensity.zone=WORLD with zone_resolved_by=default, never hidden.
 */
export const DEFAULT_ZONE = "WORLD";

/** How a zone was found, highest precedence first. Spans, logs and CLI JSON use these words. */
export const ZONE_RESOLVED_BY = ["flag", "attribute", "config", "cloud-region", "default"] as const;
export type ZoneResolvedBy = (typeof ZONE_RESOLVED_BY)[number];

export interface CloudLocation {
  provider?: string | undefined;
  region?: string | undefined;
}

/** Every place a zone can come from; absent or empty values are skipped. */
export interface ZoneSources {
  /** Command-line flags: `--zone`, or `--cloud` with `--region`. */
  flags?: { zone?: string | undefined; cloud?: string | undefined; region?: string | undefined };
  /** The span's own `carbon.zone`. */
  attributeZone?: string | undefined;
  /** The deployment's config: `zone` (CO2E_ZONE) and `cloud`. */
  config?: { zone?: string | undefined; cloud?: CloudLocation | undefined };
  /** The OTel resource's `cloud.provider` and `cloud.region`. */
  resource?: CloudLocation;
  /** @default DEFAULT_ZONE */
  defaultZone?: string;
  /**
   * Static table year lookups will use (config `intensity.staticYear`): the zone must exist in
   * that year's table, not just the latest. @default LATEST_STATIC_YEAR
   */
  staticYear?: number | undefined;
}

export interface ResolvedZone {
  zone: string;
  resolvedBy: ZoneResolvedBy;
  /** One line on how it was found: `config cloud aws/eu-west-1 → IE`. */
  explanation: string;
}

/** Throws CO2E_ERR_UNKNOWN_REGION; `from` names the source (`--cloud/--region`, `config cloud`). */
function unknownRegion(provider: string, region: string, from: string): never {
  const p = normaliseCloudProvider(provider);
  throw new Co2eError(
    ERROR_CODES.unknownRegion,
    p
      ? `unknown ${p} region "${region}" (from ${from}): not in the region → zone table; \`co2e zones --cloud ${p}\` lists them`
      : `unknown cloud provider "${provider}" (from ${from}): expected ${CLOUD_PROVIDERS.join(", ")}`,
  );
}

/** Zone for a cloud provider's region, or undefined when the table lacks the provider or region. */
function lookupCloudRegion(provider: string, region: string): string | undefined {
  const p = normaliseCloudProvider(provider);
  // Azure's display names ("East US") and API names ("eastus") both work.
  return p ? CLOUD_REGION_ZONES[p][region.trim().toLowerCase().replace(/\s+/g, "")] : undefined;
}

/** Zone for a cloud provider's region; throws CO2E_ERR_UNKNOWN_REGION when the table lacks it. */
export function zoneForCloudRegion(provider: string, region: string, from = "cloud region"): string {
  return lookupCloudRegion(provider, region) ?? unknownRegion(provider, region, from);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== "" ? value : undefined;
}

interface Candidate {
  resolvedBy: ZoneResolvedBy;
  /** Source as an error names it. */
  from: string;
  zone: () => string;
  /** The explanation, given the upper-cased zone. */
  explain: (zone: string) => string;
}

/** A source that names the zone itself; the explanation is the source. */
function zoneCandidate(
  resolvedBy: ZoneResolvedBy,
  from: string,
  zone: string | undefined,
): Candidate | undefined {
  const named = nonEmpty(zone);
  return named ? { resolvedBy, from, zone: () => named, explain: () => from } : undefined;
}

function cloudCandidate(
  resolvedBy: ZoneResolvedBy,
  from: string,
  loc: CloudLocation | undefined,
): Candidate | undefined {
  const provider = nonEmpty(loc?.provider);
  const region = nonEmpty(loc?.region);
  if (!provider || !region) return undefined;
  return {
    resolvedBy,
    from,
    zone: () => zoneForCloudRegion(provider, region, from),
    explain: (zone) => `${from} ${provider}/${region} → ${zone}`,
  };
}

/** The highest-precedence source that names a zone, in ZONE_RESOLVED_BY order. */
function firstCandidate(s: ZoneSources): Candidate | undefined {
  const flagZone = zoneCandidate("flag", "--zone", s.flags?.zone);
  if (flagZone) return flagZone;
  const flagCloud = cloudCandidate("flag", "--cloud/--region", {
    provider: s.flags?.cloud,
    region: s.flags?.region,
  });
  if (flagCloud) return flagCloud;
  return (
    zoneCandidate("attribute", "span attribute carbon.zone", s.attributeZone) ??
    zoneCandidate("config", "config zone", s.config?.zone) ??
    cloudCandidate("config", "config cloud", s.config?.cloud) ??
    cloudCandidate("cloud-region", "resource cloud.provider/cloud.region", s.resource)
  );
}

export function resolveZone(sources: ZoneSources): ResolvedZone {
  const year = sources.staticYear ?? LATEST_STATIC_YEAR;
  const candidate = firstCandidate(sources);
  const defaultZone = sources.defaultZone ?? DEFAULT_ZONE;
  const raw = candidate ? candidate.zone() : defaultZone;
  const zone = raw.trim().toUpperCase();
  const from = candidate?.from ?? "default";
  if (!isKnownStaticZone(zone, year)) throw unknownZoneError(raw, from, year);
  return candidate
    ? { zone, resolvedBy: candidate.resolvedBy, explanation: candidate.explain(zone) }
    : {
        zone,
        resolvedBy: "default",
        explanation: `default ${zone}: no flag, carbon.zone, config zone or cloud, or resource cloud region`,
      };
}
