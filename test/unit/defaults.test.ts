/**
 * Defaults written once (src/defaults.ts): the config schema, the shipped config file and the
 * constructors used without a config agree on them.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG_PATH, loadConfig, parseConfig } from "../../src/config.ts";
import { DEFAULTS } from "../../src/defaults.ts";
import { LATEST_STATIC_YEAR } from "../../src/intensity/static.ts";

describe("DEFAULTS", () => {
  it("is what an empty config gets for every intensity key", () => {
    expect(parseConfig({}).intensity).toEqual(DEFAULTS.intensity);
  });

  it("matches the shipped config file, which documents the same values", () => {
    expect(loadConfig({ file: DEFAULT_CONFIG_PATH, env: {} }).intensity).toEqual(DEFAULTS.intensity);
  });

  it("uses the latest static table shipped", () => {
    expect(DEFAULTS.intensity.staticYear).toBe(LATEST_STATIC_YEAR);
  });
});
