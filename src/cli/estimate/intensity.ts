/**
 * The intensity of an estimate: `--intensity G` as given, else the zone from the one resolver
 * (flags, config zone/CO2E_ZONE, config cloud, WORLD) and its value in the static yearly table.
 * No network: an estimate is reproducible; `co2e intensity` is the place for live values.
 */
import type { Config } from "../../config.ts";
import { type StaticYear, staticIntensity } from "../../intensity/static.ts";
import { INTENSITY_SOURCE } from "../../semconv.ts";
import { numberFlag, type ParsedArgs, usageError } from "../args.ts";
import { resolveCliZone, yearFlag, zoneFlags } from "../zone.ts";
import type { EstimateResult } from "./types.ts";

export interface EstimateIntensity {
  value: EstimateResult["intensity"];
  /** The factor table's source column: how the zone was found and which data set. */
  source: string;
}

export function estimateIntensity(values: ParsedArgs["values"], config: Config): EstimateIntensity {
  const given = numberFlag(values, "intensity", { min: 0 });
  const flags = zoneFlags(values);
  if (given !== undefined && (flags.zone !== undefined || flags.cloud !== undefined)) {
    throw usageError("pass only one of --intensity, --zone, --cloud/--region");
  }
  const year = yearFlag(values) ?? (config.intensity.staticYear as StaticYear);
  if (given !== undefined) {
    return {
      value: { gramsPerKwh: given, zone: null, source: INTENSITY_SOURCE.configured, resolvedBy: "flag" },
      source: "--intensity",
    };
  }
  const resolved = resolveCliZone(flags, config, { staticYear: year });
  const table = staticIntensity(resolved.zone, year);
  return {
    value: {
      gramsPerKwh: table.gramsPerKwh,
      zone: table.zone,
      source: table.source,
      ...(table.year !== undefined ? { year: table.year } : {}),
      ...(table.dataset !== undefined ? { dataset: table.dataset } : {}),
      resolvedBy: resolved.resolvedBy,
    },
    source: `${resolved.explanation}: ${table.dataset ?? "static table"}`,
  };
}
