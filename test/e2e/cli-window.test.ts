/**
 * `co2e window` end to end: the real CLI against the Electricity Maps emulator on 127.0.0.1,
 * serving forecasts with a known minimum.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, runCli } from "../helpers/cli.ts";
import { type Emulator, hourlyRows, startEmulator } from "../helpers/em-emulator.ts";

const HOUR_MS = 3_600_000;

let em: Emulator;
let hour0: number;
// Minimum 120 at hour0 + 3 h; for 3 h the best window straddles it: [300, 120, 250] from hour0 + 2 h.
const DIP = [400, 380, 300, 120, 250, 390, 400, 410, 420, 430, 440, 450];

beforeAll(async () => {
  hour0 = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  em = await startEmulator({
    zones: {
      DE: { latest: 350, forecast: hourlyRows(DIP, hour0) },
      // Cheapest at the very end, beyond a 4 h horizon.
      FR: { latest: 60, forecast: hourlyRows([90, 80, 70, 75, 85, 88, 20, 20, 20], hour0) },
      // A plan without the forecast endpoint.
      PL: { latest: 700, access: ["carbon-intensity/latest"] },
      // Zone known, no forecast at all (404).
      SE: { latest: 30 },
    },
  });
});

afterAll(async () => {
  await em?.close();
});

/** `co2e window <args…>` against the emulator with a valid token, unless `env` says otherwise. */
function runWindow(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(["window", ...args], {
    env: {
      ELECTRICITYMAPS_BASE_URL: em.url,
      ELECTRICITYMAPS_API_TOKEN: "emulator-token",
      CO2E_INTENSITY_PROVIDER: "auto",
      ...env,
    },
  });
}

describe("co2e window", () => {
  it("a 3 h job straddles the minimum: starts one hour before it", async () => {
    const r = await runWindow(["--zone", "DE", "--duration", "3h", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Date.parse(out.start as string)).toBe(hour0 + 2 * HOUR_MS);
    expect(Date.parse(out.end as string)).toBe(hour0 + 5 * HOUR_MS);
    expect(out.gramsPerKwh as number).toBeCloseTo((300 + 120 + 250) / 3, 6);
    // Starting now (somewhere in the first hour) lies between starting at hour0 (400, 380, 300)
    // and at hour0 + 1 h (380, 300, 120), and above the best.
    expect(out.nowGramsPerKwh as number).toBeLessThanOrEqual((400 + 380 + 300) / 3 + 1e-9);
    expect(out.nowGramsPerKwh as number).toBeGreaterThanOrEqual((380 + 300 + 120) / 3 - 1e-9);
    expect(out.nowGramsPerKwh as number).toBeGreaterThan(out.gramsPerKwh as number);
    const saving =
      (((out.nowGramsPerKwh as number) - (out.gramsPerKwh as number)) / (out.nowGramsPerKwh as number)) * 100;
    expect(out.savingPercent as number).toBeCloseTo(saving, 6);
    expect(em.count("forecast", "DE")).toBeGreaterThan(0);
  });

  it("a 1 h job lands on the minimum hour; human output names start, intensities and saving", async () => {
    const r = await runWindow(["--zone", "DE", "--duration", "60m"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(new Date(hour0 + 3 * HOUR_MS).toISOString().replace(/:00\.000Z$/, "Z"));
    // Shared formatters (src/util/format.ts): one decimal at most, trailing zeros dropped.
    expect(r.stdout).toMatch(/^Greenest start for a 1 h job in DE: /);
    expect(r.stdout).toMatch(/expected intensity there\s+120 gCO₂e\/kWh/);
    expect(r.stdout).toMatch(/starting now\s+\d+(\.\d)? gCO₂e\/kWh/);
    expect(r.stdout).toMatch(/saving\s+\d+(\.\d)? %/);
  });

  it("--within limits the latest start", async () => {
    const r = await runWindow(["--zone", "FR", "--duration", "1h", "--within", "4", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Date.parse(out.start as string)).toBe(hour0 + 2 * HOUR_MS);
    expect(out.gramsPerKwh).toBe(70);
    const wide = JSON.parse(
      (await runWindow(["--zone", "FR", "--duration", "1h", "--within", "24", "--json"])).stdout,
    );
    expect(Date.parse(wide.start)).toBe(hour0 + 6 * HOUR_MS);
  });

  it("--within takes a duration (24h, 4h, 240m) as in the README; a bare number stays hours", async () => {
    const start = async (within: string) => {
      const r = await runWindow(["--zone", "FR", "--duration", "1h", "--within", within, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { start: string; withinHours: number };
      return [Date.parse(out.start) - hour0, out.withinHours];
    };
    expect(await start("24h")).toEqual([6 * HOUR_MS, 24]);
    expect(await start("4h")).toEqual([2 * HOUR_MS, 4]);
    expect(await start("240m")).toEqual([2 * HOUR_MS, 4]);
    expect(await start("4")).toEqual([2 * HOUR_MS, 4]);
    const bad = await runWindow(["--zone", "FR", "--duration", "1h", "--within", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--within: expects a duration like 24h, 90m or 2d \(a bare number is hours\)/);
  });

  it("without --zone: the config's zone (CO2E_ZONE); without any zone, or an Ember code: exit 2 naming --zone, no request", async () => {
    const fromEnv = await runWindow(["--duration", "1h", "--json"], { CO2E_ZONE: "DE" });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(JSON.parse(fromEnv.stdout)).toMatchObject({ zone: "DE", resolvedBy: "config" });
    em.resetRequests();
    const none = await runWindow(["--duration", "1h"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^co2e window: needs a zone: give --zone with an Electricity Maps zone/);
    expect(none.stderr).toContain("CO2E_ERR_USAGE");
    expect(none.stderr).not.toContain("WORLD");
    const ember = await runWindow(["--zone", "DEU", "--duration", "1h"]);
    expect(ember.code).toBe(2);
    expect(ember.stderr).toMatch(/--zone: DEU is not an Electricity Maps zone/);
    expect(em.requests).toHaveLength(0);
  });

  it("--help: --within takes durations, the zone defaults to the config's zone then its cloud", async () => {
    const r = await runWindow(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /--within W +latest start from now: 24h, 36h, 90m, 2d \(default 24h; a bare number is\n +hours\)/,
    );
    expect(r.stdout).toMatch(
      /--zone Z +Electricity Maps zone \(DE, US-MIDA-PJM\); default: the config's zone, else\n +its cloud region/,
    );
  });

  it("exit 3 with a clear message without a token", async () => {
    const r = await runWindow(["--zone", "DE", "--duration", "1h"], { ELECTRICITYMAPS_API_TOKEN: "" });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no forecast available: .*ELECTRICITYMAPS_API_TOKEN/);
  });

  it("exit 3 when the token is refused (401) or the plan lacks forecasts", async () => {
    const bad = await runWindow(["--zone", "DE", "--duration", "1h"], { ELECTRICITYMAPS_API_TOKEN: "wrong" });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/token was refused/);
    expect(bad.stderr).not.toContain("wrong");
    expect(bad.stderr).toContain("CO2E_ERR_NO_FORECAST");
    const plan = await runWindow(["--zone", "PL", "--duration", "1h"]);
    expect(plan.code).toBe(3);
  });

  it("exit 3 when the zone has no forecast, or the forecast is too short for the job", async () => {
    const none = await runWindow(["--zone", "SE", "--duration", "1h"]);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/no forecast/);
    const long = await runWindow(["--zone", "DE", "--duration", "20h"]);
    expect(long.code).toBe(3);
    expect(long.stderr).toMatch(/no gap-free window/);
  });

  it("usage errors and an unknown zone exit 2", async () => {
    expect((await runWindow(["--zone", "DE"])).code).toBe(2);
    expect((await runWindow(["--zone", "DE", "--duration", "soon"])).code).toBe(2);
    // Checked against the zone table before any request, as in the other commands.
    const unknown = await runWindow(["--zone", "ATLANTIS", "--duration", "1h"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("CO2E_ERR_UNKNOWN_ZONE");
    expect(unknown.stderr).toMatch(/^co2e window: unknown zone "ATLANTIS" \(from --zone\): /);
    expect(unknown.stderr).not.toContain("attribute");
  });
});
