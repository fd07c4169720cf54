/**
 * CLI argument helpers: negative numbers after a flag, `--within` durations, and the CLI's naming
 * of where a zone came from.
 */
import type { ParseArgsOptionsConfig } from "node:util";
import { describe, expect, it } from "vitest";
import { joinNegativeValues, numberFlag, parseFlags } from "../../src/cli/args.ts";
import { parseWithinHours } from "../../src/cli/window.ts";
import { isElectricityMapsZone, resolveCliZone, yearFlag, zoneFlags } from "../../src/cli/zone.ts";
import { parseConfig } from "../../src/config.ts";
import { isCo2eError } from "../../src/errors.ts";

const OPTIONS = {
  "energy-kwh": { type: "string" },
  pue: { type: "string", short: "p" },
  json: { type: "boolean" },
} as const satisfies ParseArgsOptionsConfig;

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isCo2eError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  throw new Error("expected a Co2eError");
}

describe("negative numbers after a string flag", () => {
  it("are joined as --name=value, long and short, and nothing else is", () => {
    expect(joinNegativeValues(["--energy-kwh", "-1"], OPTIONS)).toEqual(["--energy-kwh=-1"]);
    expect(joinNegativeValues(["--energy-kwh", "-.5", "--json"], OPTIONS)).toEqual([
      "--energy-kwh=-.5",
      "--json",
    ]);
    expect(joinNegativeValues(["-p", "-2"], OPTIONS)).toEqual(["--pue=-2"]);
    // A boolean flag takes no value; a flag-looking word stays a flag; after `--` nothing changes.
    expect(joinNegativeValues(["--json", "-1"], OPTIONS)).toEqual(["--json", "-1"]);
    expect(joinNegativeValues(["--energy-kwh", "--json"], OPTIONS)).toEqual(["--energy-kwh", "--json"]);
    expect(joinNegativeValues(["--", "--energy-kwh", "-1"], OPTIONS)).toEqual(["--", "--energy-kwh", "-1"]);
    expect(joinNegativeValues(["--energy-kwh=-1"], OPTIONS)).toEqual(["--energy-kwh=-1"]);
  });

  it("reach the flag's range check instead of parseArgs' 'argument is ambiguous'", () => {
    const { values } = parseFlags(["--energy-kwh", "-1"], OPTIONS);
    expect(values["energy-kwh"]).toBe("-1");
    expect(usageMessage(() => numberFlag(values, "energy-kwh", { min: 0 }))).toBe(
      "CO2E_ERR_USAGE: --energy-kwh: must be ≥ 0, got -1",
    );
    // A missing value is still reported as such.
    expect(usageMessage(() => parseFlags(["--energy-kwh", "--json"], OPTIONS))).toMatch(
      /argument missing|ambiguous/,
    );
  });
});

describe("--within", () => {
  it("takes durations; a bare number is hours", () => {
    expect(parseWithinHours("24h")).toBe(24);
    expect(parseWithinHours("90m")).toBe(1.5);
    expect(parseWithinHours("2d")).toBe(48);
    expect(parseWithinHours("1h30m")).toBe(1.5);
    expect(parseWithinHours("24")).toBe(24);
    expect(parseWithinHours("0")).toBe(0);
  });

  it("rejects what is not a duration, and more than 30 days", () => {
    expect(usageMessage(() => parseWithinHours("soon"))).toMatch(
      /^CO2E_ERR_USAGE: --within: expects a duration/,
    );
    expect(usageMessage(() => parseWithinHours("-2"))).toMatch(
      /^CO2E_ERR_USAGE: --within: expects a duration/,
    );
    expect(usageMessage(() => parseWithinHours("31d"))).toMatch(/^CO2E_ERR_USAGE: --within: must be ≤ 30d/);
  });
});

describe("CLI zone resolution", () => {
  it("one check of --zone/--cloud/--region, one wording", () => {
    expect(usageMessage(() => zoneFlags({ zone: "DE", cloud: "aws", region: "eu-west-1" }))).toBe(
      "CO2E_ERR_USAGE: give either --zone or --cloud with --region, not both",
    );
    expect(usageMessage(() => zoneFlags({ cloud: "aws" }))).toBe(
      "CO2E_ERR_USAGE: --cloud and --region go together",
    );
    expect(usageMessage(() => zoneFlags({ region: "eu-west-1" }))).toBe(
      "CO2E_ERR_USAGE: --cloud and --region go together",
    );
    expect(usageMessage(() => zoneFlags({ cloud: "ibm", region: "x" }))).toBe(
      'CO2E_ERR_USAGE: --cloud: expects aws, gcp, azure, got "ibm"',
    );
    expect(zoneFlags({ cloud: "AWS", region: "eu-west-1" })).toEqual({
      zone: undefined,
      cloud: "AWS",
      region: "eu-west-1",
    });
  });

  it("--year: a year of the static table", () => {
    expect(yearFlag({ year: "2021" })).toBe(2021);
    expect(yearFlag({})).toBeUndefined();
    expect(usageMessage(() => yearFlag({ year: "2019" }))).toMatch(
      /^CO2E_ERR_USAGE: --year: the static table has 2021, .*got 2019$/,
    );
  });

  it("--zone, else --cloud/--region, else config zone, else config cloud, else WORLD", () => {
    const empty = parseConfig({});
    const withZone = parseConfig({ zone: "FR", cloud: { provider: "aws", region: "eu-west-1" } });
    const withCloud = parseConfig({ cloud: { provider: "aws", region: "eu-west-1" } });
    expect(resolveCliZone({ zone: "de" }, withZone)).toMatchObject({ zone: "DE", resolvedBy: "flag" });
    expect(resolveCliZone({ cloud: "aws", region: "eu-west-3" }, withZone)).toEqual({
      zone: "FR",
      resolvedBy: "flag",
      explanation: "--cloud/--region aws/eu-west-3 → FR",
    });
    expect(resolveCliZone({}, withZone)).toEqual({
      zone: "FR",
      resolvedBy: "config",
      explanation: "config zone",
    });
    expect(resolveCliZone({}, withCloud)).toEqual({
      zone: "IE",
      resolvedBy: "config",
      explanation: "config cloud aws/eu-west-1 → IE",
    });
    expect(resolveCliZone({}, empty)).toMatchObject({ zone: "WORLD", resolvedBy: "default" });
    // The resource's cloud region (co2e run) ranks below the config.
    const resource = { provider: "gcp", region: "europe-west4" };
    expect(resolveCliZone({}, empty, { resource })).toMatchObject({ zone: "NL", resolvedBy: "cloud-region" });
    expect(resolveCliZone({}, withCloud, { resource })).toMatchObject({ zone: "IE", resolvedBy: "config" });
  });

  it("an unknown zone or region names the flag it came from", () => {
    const config = parseConfig({});
    expect(usageMessage(() => resolveCliZone({ zone: "XX" }, config))).toBe(
      'CO2E_ERR_UNKNOWN_ZONE: unknown zone "XX" (from --zone): not an Electricity Maps zone in the 2025 table nor an Ember country code; `co2e zones` lists the known zones',
    );
    expect(usageMessage(() => resolveCliZone({ cloud: "aws", region: "mars-1" }, config))).toMatch(
      /^CO2E_ERR_UNKNOWN_REGION: unknown aws region "mars-1" \(from --cloud\/--region\)/,
    );
  });

  it("tells Electricity Maps zones from Ember-only codes", () => {
    expect(isElectricityMapsZone("DE", 2025)).toBe(true);
    expect(isElectricityMapsZone("US-MIDA-PJM", 2021)).toBe(true);
    expect(isElectricityMapsZone("WORLD", 2025)).toBe(false);
    expect(isElectricityMapsZone("DEU", 2025)).toBe(false);
    expect(isElectricityMapsZone("XX", 2025)).toBe(false);
  });
});
