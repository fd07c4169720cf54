/**
 * Static intensity table (@tgwf/co2 data), the cloud region → zone table, and zone resolution.
 */
import { averageIntensity } from "@tgwf/co2/data";
import { yearly2022, yearly2025 } from "@tgwf/co2/data/electricity-maps";
import { describe, expect, it } from "vitest";
import { type ErrorCode, isCo2eError } from "../../src/errors.ts";
import {
  CLOUD_REGION_ZONES,
  type CloudProvider,
  normaliseCloudProvider,
} from "../../src/intensity/regions.ts";
import {
  isKnownStaticZone,
  LATEST_STATIC_YEAR,
  listStaticZones,
  STATIC_YEARS,
  StaticIntensityProvider,
  staticIntensity,
} from "../../src/intensity/static.ts";
import { resolveZone, ZONE_RESOLVED_BY, zoneForCloudRegion } from "../../src/intensity/zone.ts";

function errorCode(fn: () => unknown): { code: ErrorCode; message: string } {
  try {
    fn();
  } catch (error) {
    if (isCo2eError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("expected a Co2eError, nothing was thrown");
}

describe("staticIntensity", () => {
  it("returns the package's Electricity Maps value with source, year and dataset", () => {
    const de = staticIntensity("DE", 2025);
    expect(de.gramsPerKwh).toBe(yearly2025.data.DE!.carbonIntensity.value);
    expect(de).toMatchObject({ zone: "DE", source: "static", method: "yearly-average", year: 2025 });
    expect(de.dataset).toMatch(/Electricity Maps yearly 2025/);
    expect(de.dataset).toMatch(/ODbL/);
  });

  it("honours the requested year", () => {
    const fr = staticIntensity("FR", 2022);
    expect(fr.gramsPerKwh).toBe(yearly2022.data.FR!.carbonIntensity.value);
    expect(fr.year).toBe(2022);
  });

  it("defaults to the latest year", () => {
    expect(staticIntensity("NL").year).toBe(LATEST_STATIC_YEAR);
  });

  it("falls back to Ember country codes, without a year", () => {
    const deu = staticIntensity("DEU");
    expect(deu.gramsPerKwh).toBe(averageIntensity.data.DEU);
    expect(deu.year).toBeUndefined();
    expect(deu.dataset).toMatch(/Ember/);
    expect(staticIntensity("WORLD").gramsPerKwh).toBe(averageIntensity.data.WORLD);
  });

  it("is case-insensitive and trims", () => {
    expect(staticIntensity(" us-mida-pjm ").zone).toBe("US-MIDA-PJM");
    expect(staticIntensity("de").gramsPerKwh).toBe(staticIntensity("DE").gramsPerKwh);
  });

  it("unknown zone → CO2E_ERR_UNKNOWN_ZONE naming the zone", () => {
    const { code, message } = errorCode(() => staticIntensity("ATLANTIS"));
    expect(code).toBe("CO2E_ERR_UNKNOWN_ZONE");
    expect(message).toContain("ATLANTIS");
  });

  it("the provider wrapper answers the same and rejects unknown zones", async () => {
    const p = new StaticIntensityProvider({ year: 2023 });
    expect((await p.get("IE")).gramsPerKwh).toBe(staticIntensity("IE", 2023).gramsPerKwh);
    await expect(p.get("NOPE")).rejects.toMatchObject({ code: "CO2E_ERR_UNKNOWN_ZONE" });
  });

  it("lists hundreds of zones, Electricity Maps and Ember", () => {
    const zones = listStaticZones();
    expect(zones.length).toBeGreaterThan(300);
    expect(zones.some((z) => z.zone === "US-CAL-CISO")).toBe(true);
    expect(zones.some((z) => z.zone === "USA")).toBe(true);
  });
});

describe("cloud region → zone table", () => {
  const providers = Object.keys(CLOUD_REGION_ZONES) as CloudProvider[];

  it.each(providers)("%s has at least 18 regions", (provider) => {
    expect(Object.keys(CLOUD_REGION_ZONES[provider]).length).toBeGreaterThanOrEqual(18);
  });

  it("every mapped zone is known to the static table, in every year", () => {
    const unknown: string[] = [];
    for (const provider of providers) {
      for (const [region, zone] of Object.entries(CLOUD_REGION_ZONES[provider])) {
        for (const year of STATIC_YEARS) {
          if (!isKnownStaticZone(zone, year)) unknown.push(`${provider}/${region} → ${zone} (${year})`);
        }
        // And the look-up itself works (not only the key test).
        expect(staticIntensity(zone).gramsPerKwh).toBeGreaterThan(0);
      }
    }
    expect(unknown).toEqual([]);
  });

  it("region keys are lower case (look-ups lower-case their input)", () => {
    for (const provider of providers) {
      for (const region of Object.keys(CLOUD_REGION_ZONES[provider]))
        expect(region).toBe(region.toLowerCase());
    }
  });

  it("maps known regions", () => {
    expect(zoneForCloudRegion("aws", "eu-west-1")).toBe("IE");
    expect(zoneForCloudRegion("AWS", " US-EAST-1 ")).toBe("US-MIDA-PJM");
    expect(zoneForCloudRegion("gcp", "europe-west4")).toBe("NL");
    expect(zoneForCloudRegion("google_cloud", "us-central1")).toBe("US-MIDW-MISO");
    expect(zoneForCloudRegion("azure", "westeurope")).toBe("NL");
  });

  it("accepts OTel cloud.provider spellings", () => {
    expect(normaliseCloudProvider("gcp")).toBe("gcp");
    expect(normaliseCloudProvider("Azure")).toBe("azure");
    expect(normaliseCloudProvider("alibaba_cloud")).toBeUndefined();
  });

  it("unknown region or provider → CO2E_ERR_UNKNOWN_REGION", () => {
    const region = errorCode(() => zoneForCloudRegion("aws", "mars-north-1"));
    expect(region.code).toBe("CO2E_ERR_UNKNOWN_REGION");
    expect(region.message).toContain("mars-north-1");
    expect(errorCode(() => zoneForCloudRegion("ibm", "us-south")).code).toBe("CO2E_ERR_UNKNOWN_REGION");
  });
});

describe("resolveZone: flag → attribute → config → resource cloud region → default", () => {
  const resource = { provider: "aws", region: "eu-central-1" };
  const config = { zone: "SE", cloud: { provider: "gcp", region: "europe-west4" } };

  it("ZONE_RESOLVED_BY lists the words in precedence order", () => {
    expect(ZONE_RESOLVED_BY).toEqual(["flag", "attribute", "config", "cloud-region", "default"]);
  });

  it("a flag wins over everything, --zone before --cloud/--region", () => {
    expect(resolveZone({ flags: { zone: "pl" }, attributeZone: "fr", config, resource })).toEqual({
      zone: "PL",
      resolvedBy: "flag",
      explanation: "--zone",
    });
    expect(
      resolveZone({ flags: { cloud: "azure", region: "westeurope" }, attributeZone: "fr", config }),
    ).toEqual({ zone: "NL", resolvedBy: "flag", explanation: "--cloud/--region azure/westeurope → NL" });
  });

  it("then the job's attribute", () => {
    expect(resolveZone({ attributeZone: "fr", config, resource })).toMatchObject({
      zone: "FR",
      resolvedBy: "attribute",
    });
  });

  it("then the configured zone, then the configured cloud (both config)", () => {
    expect(resolveZone({ config, resource })).toEqual({
      zone: "SE",
      resolvedBy: "config",
      explanation: "config zone",
    });
    expect(resolveZone({ config: { cloud: config.cloud }, resource })).toEqual({
      zone: "NL",
      resolvedBy: "config",
      explanation: "config cloud gcp/europe-west4 → NL",
    });
  });

  it("then the resource's cloud region", () => {
    expect(resolveZone({ resource })).toMatchObject({ zone: "DE", resolvedBy: "cloud-region" });
  });

  it("a provider without a region is not enough: default", () => {
    expect(resolveZone({ resource: { provider: "aws" } })).toMatchObject({
      zone: "WORLD",
      resolvedBy: "default",
    });
    expect(resolveZone({ flags: { zone: "" }, attributeZone: " " })).toMatchObject({ resolvedBy: "default" });
  });

  it("a lower source is not consulted once a higher one names a zone", () => {
    const badCloud = { cloud: { provider: "aws", region: "nowhere-1" } };
    expect(resolveZone({ attributeZone: "DE", config: badCloud }).zone).toBe("DE");
    expect(errorCode(() => resolveZone({ config: badCloud })).code).toBe("CO2E_ERR_UNKNOWN_REGION");
  });

  it("unknown region is an error naming its source, never a silent default", () => {
    const e = errorCode(() => resolveZone({ resource: { provider: "aws", region: "nowhere-1" } }));
    expect(e.code).toBe("CO2E_ERR_UNKNOWN_REGION");
    expect(e.message).toBe(
      'unknown aws region "nowhere-1" (from resource cloud.provider/cloud.region): not in the region → zone table; `co2e zones --cloud aws` lists them',
    );
  });

  it("unknown zone at any level is one error naming where it came from", () => {
    const attr = errorCode(() => resolveZone({ attributeZone: "XX-NOPE" }));
    expect(attr.code).toBe("CO2E_ERR_UNKNOWN_ZONE");
    expect(attr.message).toBe(
      'unknown zone "XX-NOPE" (from span attribute carbon.zone): not an Electricity Maps zone in the 2025 table nor an Ember country code; `co2e zones` lists the known zones',
    );
    expect(errorCode(() => resolveZone({ config: { zone: "XX" } })).message).toMatch(/\(from config zone\)/);
    expect(errorCode(() => resolveZone({ defaultZone: "NOPE" })).code).toBe("CO2E_ERR_UNKNOWN_ZONE");
    // staticIntensity's own error is the same message.
    expect(errorCode(() => staticIntensity("XX-NOPE")).message).toMatch(/^unknown zone "XX-NOPE" \(from /);
  });
});
