/**
 * Zone checks use the static table year that lookups will use: a zone that resolves must also have
 * a static value in that year, so a resolved zone never fails later as carbon.error.
 */
import { describe, expect, it } from "vitest";
import { Co2eError } from "../../src/errors.ts";
import {
  isKnownStaticZone,
  LATEST_STATIC_YEAR,
  listStaticZones,
  STATIC_YEARS,
  staticIntensity,
} from "../../src/intensity/static.ts";
import { resolveZone } from "../../src/intensity/zone.ts";

function hasStaticValue(zone: string, year: number): boolean {
  try {
    staticIntensity(zone, year as (typeof STATIC_YEARS)[number]);
    return true;
  } catch (error) {
    if (error instanceof Co2eError && error.code === "CO2E_ERR_UNKNOWN_ZONE") return false;
    throw error;
  }
}

describe("isKnownStaticZone(zone, year) agrees with staticIntensity(zone, year)", () => {
  // Every zone any year knows, plus ones no table has; 2019 has no Electricity Maps table at all
  // (only the Ember codes answer there), which is where a year-blind check goes wrong.
  const zones = new Set([
    ...STATIC_YEARS.flatMap((y) => listStaticZones(y).map((z) => z.zone)),
    "XX-NOPE",
    "",
  ]);
  for (const year of [...STATIC_YEARS, 2019]) {
    it(`year ${year}`, () => {
      const mismatches = [...zones].filter((z) => isKnownStaticZone(z, year) !== hasStaticValue(z, year));
      expect(mismatches).toEqual([]);
    });
  }

  it("defaults to the latest table", () => {
    expect(isKnownStaticZone("de")).toBe(hasStaticValue("DE", LATEST_STATIC_YEAR));
    expect(isKnownStaticZone("DEU")).toBe(true);
  });
});

describe("resolveZone with staticYear", () => {
  it("checks the zone in the configured year's table", () => {
    expect(resolveZone({ attributeZone: "de", defaultZone: "WORLD", staticYear: 2021 })).toMatchObject({
      zone: "DE",
      resolvedBy: "attribute",
    });
    // DE is an Electricity Maps zone: a year without that table cannot serve it, so it must not
    // resolve (a year-blind check passes it, and the lookup then throws).
    expect(hasStaticValue("DE", 2019)).toBe(false);
    let error: unknown;
    try {
      resolveZone({ attributeZone: "DE", defaultZone: "WORLD", staticYear: 2019 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Co2eError);
    expect((error as Co2eError).code).toBe("CO2E_ERR_UNKNOWN_ZONE");
    expect((error as Error).message).toContain("in the 2019 table");
    // Ember codes carry no year and resolve in any.
    expect(resolveZone({ config: { zone: "DEU" }, staticYear: 2019 }).zone).toBe("DEU");
    expect(
      resolveZone({ resource: { provider: "aws", region: "eu-central-1" }, staticYear: 2022 }),
    ).toMatchObject({
      zone: "DE",
      resolvedBy: "cloud-region",
    });
  });

  it("without staticYear it checks the latest table (unchanged behaviour)", () => {
    expect(resolveZone({ attributeZone: "fr", defaultZone: "WORLD" }).zone).toBe("FR");
  });
});
