/**
 * Static grid intensity: yearly averages shipped by @tgwf/co2 0.19 (Apache-2.0 code):
 * - Electricity Maps yearly zone averages 2021–2025, lifecycle gCO₂e/kWh, 352 zones
 *   (data © Electricity Maps, ODbL 1.0, https://www.electricitymaps.com/data/methodology);
 * - Ember yearly country averages by ISO alpha-3 code plus regions such as WORLD
 *   (data © Ember, CC BY-SA 4.0; the package keeps each country's latest year and does not
 *   state which, so these values carry no year).
 * Both hold lifecycle figures (`emissionFactorType: "lifecycle"` on every value): co2.js builds the
 * Electricity Maps tables (its data/functions/generate_electricity_maps_data.js) from the
 * `carbon-intensity/past?temporalGranularity=yearly` endpoint without an `emissionFactorType`
 * parameter, i.e. the API's default, lifecycle; Ember's yearly data "aim to include full
 * lifecycle emissions" (Ember, Global Electricity Review 2024, methodology). With
 * `intensity.emissionFactorType: direct`, a fallback to this table is therefore lifecycle: the
 * span's `carbon.intensity.emission_factor_type` says so.
 * Electricity Maps zones win over Ember codes; both key spaces are disjoint in practice
 * (`DE` vs `DEU`).
 */
import { averageIntensity } from "@tgwf/co2/data";
import {
  type ElectricityMapsYearly,
  yearly2021,
  yearly2022,
  yearly2023,
  yearly2024,
  yearly2025,
} from "@tgwf/co2/data/electricity-maps";
import { Co2eError, ERROR_CODES } from "../errors.ts";
import { INTENSITY_SOURCE } from "../semconv.ts";
import type { IntensityProvider, IntensityValue } from "./types.ts";

export const STATIC_YEARS = [2021, 2022, 2023, 2024, 2025] as const;
export type StaticYear = (typeof STATIC_YEARS)[number];
export const LATEST_STATIC_YEAR: StaticYear = 2025;

const EM_BY_YEAR: Record<StaticYear, ElectricityMapsYearly> = {
  2021: yearly2021,
  2022: yearly2022,
  2023: yearly2023,
  2024: yearly2024,
  2025: yearly2025,
};

/** What the static tables hold (see the module comment). */
export const STATIC_EMISSION_FACTOR_TYPE = "lifecycle" as const;

export const EMBER_DATASET =
  "Ember yearly average (latest year per country), via @tgwf/co2 0.19, CC BY-SA 4.0";

export function electricityMapsDataset(year: StaticYear): string {
  return `Electricity Maps yearly ${year} (lifecycle), via @tgwf/co2 0.19, ODbL`;
}

/** Zone keys are case-insensitive on input; Electricity Maps' own spelling is upper case. */
function normaliseZone(zone: string): string {
  return zone.trim().toUpperCase();
}

/**
 * Yearly average for a zone: an Electricity Maps zone key (`DE`, `US-MIDA-PJM`) or an Ember code
 * (`DEU`, `WORLD`). Unknown zones throw `CO2E_ERR_UNKNOWN_ZONE`: never a silent default.
 */
export function staticIntensity(zone: string, year: StaticYear = LATEST_STATIC_YEAR): IntensityValue {
  const key = normaliseZone(zone);
  const em = EM_BY_YEAR[year]?.data[key];
  if (em && Number.isFinite(em.carbonIntensity.value)) {
    return {
      gramsPerKwh: em.carbonIntensity.value,
      zone: key,
      source: INTENSITY_SOURCE.static,
      method: "yearly-average",
      year,
      dataset: electricityMapsDataset(year),
      emissionFactorType: STATIC_EMISSION_FACTOR_TYPE,
    };
  }
  const ember = averageIntensity.data[key];
  if (ember !== undefined && Number.isFinite(ember)) {
    return {
      gramsPerKwh: ember,
      zone: key,
      source: INTENSITY_SOURCE.static,
      method: "yearly-average",
      dataset: EMBER_DATASET,
      emissionFactorType: STATIC_EMISSION_FACTOR_TYPE,
    };
  }
  throw unknownZoneError(zone, "static table lookup", year);
}

/**
 * The one unknown-zone error (CO2E_ERR_UNKNOWN_ZONE), wherever the zone came from: the zone as
 * given, its source (`--zone`, `config zone`, `span attribute carbon.zone`) and the table year.
 */
export function unknownZoneError(zone: string, from: string, year: number): Co2eError {
  return new Co2eError(
    ERROR_CODES.unknownZone,
    `unknown zone "${zone}" (from ${from}): not an Electricity Maps zone in the ${year} table ` +
      "nor an Ember country code; `co2e zones` lists the known zones",
  );
}

/**
 * Whether `staticIntensity(zone, year)` has a value: check with the year lookups will use
 * (config `intensity.staticYear`), since zones come and go between the yearly tables. A year
 * without a table (outside STATIC_YEARS) leaves only the Ember codes, as in `staticIntensity`.
 */
export function isKnownStaticZone(zone: string, year: number = LATEST_STATIC_YEAR): boolean {
  const key = normaliseZone(zone);
  const em = EM_BY_YEAR[year as StaticYear]?.data[key];
  if (em && Number.isFinite(em.carbonIntensity.value)) return true;
  const ember = averageIntensity.data[key];
  return ember !== undefined && Number.isFinite(ember);
}

/** Every zone the static table knows, with its name, for `co2e zones` and docs. */
export function listStaticZones(year: StaticYear = LATEST_STATIC_YEAR): { zone: string; name: string }[] {
  const em = Object.entries(EM_BY_YEAR[year].data).map(([zone, z]) => ({
    zone,
    name: z.zone.countryName ? `${z.zone.countryName}: ${z.zone.zoneName}` : z.zone.zoneName,
  }));
  const ember = Object.keys(averageIntensity.data).map((zone) => ({
    zone,
    name: "Ember country/region average",
  }));
  return [...em, ...ember];
}

/** The static table as an IntensityProvider: synchronous, never fails for a known zone. */
export class StaticIntensityProvider implements IntensityProvider {
  readonly name = "static";
  readonly #year: StaticYear;

  constructor(options: { year?: StaticYear } = {}) {
    this.#year = options.year ?? LATEST_STATIC_YEAR;
  }

  lookup(zone: string): IntensityValue {
    return staticIntensity(zone, this.#year);
  }

  get(zone: string): Promise<IntensityValue> {
    try {
      return Promise.resolve(this.lookup(zone));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  warm(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}
