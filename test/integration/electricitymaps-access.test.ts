/**
 * LiveIntensityProvider against the emulator: windows older than the cached rows (no live data →
 * static with `no-data-for-window`, never today's value dressed as `latest`), honest data age,
 * and the token's endpoint access learned once from `/zones` so calls the plan lacks are not sent.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ElectricityMapsClient } from "../../src/intensity/electricitymaps.ts";
import {
  accessGrants,
  LiveIntensityProvider,
  type LiveIntensityProviderOptions,
} from "../../src/intensity/live.ts";
import { staticIntensity } from "../../src/intensity/static.ts";
import type { IntensityValue, TimeWindow } from "../../src/intensity/types.ts";
import { type Emulator, hourlyRows, startEmulator } from "../helpers/em-emulator.ts";

const TOKEN = "access-test-token-5b1e";
const HOUR_MS = 3_600_000;
const FREE_TIER = ["carbon-intensity/latest", "carbon-intensity/history"];

let em: Emulator;
const providers: LiveIntensityProvider[] = [];
const logged: string[] = [];

function makeProvider(options: Partial<LiveIntensityProviderOptions> = {}): LiveIntensityProvider {
  const timeoutMs = options.timeoutMs ?? 400;
  const client = new ElectricityMapsClient({
    baseUrl: em.url,
    token: TOKEN,
    timeoutMs,
    retries: 0,
    logger: (msg) => logged.push(msg),
  });
  const provider = new LiveIntensityProvider({ client, timeoutMs, cacheTtlMs: 60_000, ...options });
  providers.push(provider);
  return provider;
}

const hourNow = () => Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
const threeDaysAgo = (): TimeWindow => ({
  startMs: Date.now() - 72 * HOUR_MS,
  endMs: Date.now() - 71 * HOUR_MS,
});

beforeAll(async () => {
  em = await startEmulator({ token: TOKEN });
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
  em.clearFaults();
  em.resetRequests();
  em.state.zones.clear();
  logged.length = 0;
});

afterAll(async () => {
  await em.close();
});

describe("windows outside the cached rows", () => {
  it("a window that ended before the first cached row → static, no-data-for-window (not latest, age 0)", async () => {
    // Past-range is allowed but has nothing that old: get() tries it, then falls back.
    em.setZone("DE", { latest: 302 });
    const provider = makeProvider();
    const window = threeDaysAgo();
    const value = await provider.get("DE", window);
    expect(em.count("past-range", "DE")).toBe(1);
    expect(value).toMatchObject({
      source: "static",
      method: "yearly-average",
      fallbackReason: "no-data-for-window",
      gramsPerKwh: staticIntensity("DE").gramsPerKwh,
    });
    expect(value.ageSeconds).toBeUndefined();
    // The synchronous path (onEnding, the gateway) says the same without fetching.
    expect(provider.lookup("DE", window)).toMatchObject({
      source: "static",
      fallbackReason: "no-data-for-window",
    });
    // A current window is still live.
    expect(provider.lookup("DE", { startMs: Date.now(), endMs: Date.now() })).toMatchObject({
      source: "electricitymaps",
      method: "latest",
      gramsPerKwh: 302,
    });
  });

  it("a window inside a gap (null hours) before the newest row is not given the newest value", async () => {
    const hour = hourNow();
    em.setZone("FR", { history: hourlyRows([40, 41, null, null, 45], hour - 4 * HOUR_MS) });
    const provider = makeProvider();
    const gap = { startMs: hour - 2 * HOUR_MS + 60_000, endMs: hour - HOUR_MS - 60_000 };
    expect(await provider.get("FR", gap)).toMatchObject({
      source: "static",
      fallbackReason: "no-data-for-window",
    });
  });

  it("ageSeconds is the real age relative to the window's end, also when the data is hours old", async () => {
    const hour = hourNow();
    // The newest row the API has is 5 hours old (a stalled feed).
    em.setZone("PL", { history: hourlyRows([600, 650], hour - 6 * HOUR_MS) });
    const provider = makeProvider();
    const endMs = Date.now();
    const value = await provider.get("PL", { startMs: endMs - 60_000, endMs });
    expect(value).toMatchObject({ source: "electricitymaps", method: "latest", gramsPerKwh: 650 });
    expect(value.ageSeconds).toBeCloseTo((endMs - (hour - 5 * HOUR_MS)) / 1000, 0);
    expect(value.ageSeconds!).toBeGreaterThan(5 * 3600 - 1);
    // A window over the two old rows: time-weighted, age from the end of the window.
    const old = await provider.get("PL", { startMs: hour - 6 * HOUR_MS, endMs: hour - 4 * HOUR_MS });
    expect(old).toMatchObject({ method: "time-weighted", gramsPerKwh: 625 });
    expect(old.ageSeconds).toBe(3600);
    for (const v of [value, old]) expect(v.ageSeconds!).toBeGreaterThanOrEqual(0);
  });
});

describe("endpoint access from /zones", () => {
  it("a zone with access [latest, history]: no past-range and no forecast request is ever sent", async () => {
    const hour = hourNow();
    const forecast = [1, 2].map((i) => ({
      datetime: new Date(hour + i * HOUR_MS).toISOString(),
      carbonIntensity: 100,
    }));
    em.setZone("US-CAR-DUK", {
      latest: 420,
      access: FREE_TIER,
      countryName: "USA",
      zoneName: "Duke",
      forecast,
    });
    em.setZone("DE", { latest: 302, forecast, past: hourlyRows([10, 20, 30], Date.now() - 72 * HOUR_MS) });
    const provider = makeProvider({ forecast: true, cacheTtlMs: 50 });
    for (let i = 0; i < 5; i++) {
      const v = await provider.get("US-CAR-DUK", threeDaysAgo());
      expect(v).toMatchObject({ source: "static", fallbackReason: "no-data-for-window" });
      expect(await provider.get("US-CAR-DUK", { startMs: Date.now(), endMs: Date.now() })).toMatchObject({
        source: "electricitymaps",
        gramsPerKwh: 420,
      });
      await new Promise((r) => setTimeout(r, 60));
    }
    expect(em.count("past-range", "US-CAR-DUK")).toBe(0);
    expect(em.count("forecast", "US-CAR-DUK")).toBe(0);
    expect(em.requests.filter((r) => r.answer === 401)).toEqual([]);
    expect(em.count("history", "US-CAR-DUK")).toBeGreaterThanOrEqual(2);
    // A zone whose access has everything still gets both.
    const de = await provider.get("DE", threeDaysAgo());
    expect(de).toMatchObject({ source: "electricitymaps", method: "time-weighted" });
    expect(em.count("past-range", "DE")).toBe(1);
    expect(em.count("forecast", "DE")).toBeGreaterThanOrEqual(1);
    // Asked once per provider lifetime.
    expect(em.count("zones")).toBe(1);
    expect(logged.filter((m) => m.includes("refused the token"))).toEqual([]);
  });

  it("/zones failing is ignored: the first 401 teaches instead, and the values stay live", async () => {
    em.setZone("US-CAR-DUK", { latest: 420, access: FREE_TIER });
    em.addFault({ type: "status", status: 500 }, { endpoint: "zones" });
    const provider = makeProvider();
    expect(await provider.get("US-CAR-DUK", threeDaysAgo())).toMatchObject({
      source: "static",
      fallbackReason: "no-data-for-window",
    });
    expect(await provider.get("US-CAR-DUK", threeDaysAgo())).toMatchObject({ source: "static" });
    expect(em.count("zones")).toBe(1); // not retried: once per lifetime
    expect(em.count("past-range", "US-CAR-DUK")).toBe(1); // the one 401, then never again
    expect(provider.lookup("US-CAR-DUK", { startMs: Date.now(), endMs: Date.now() })).toMatchObject({
      source: "electricitymaps",
      gramsPerKwh: 420,
    });
  });

  it("/zones hanging never delays a value beyond the timeout", async () => {
    em.setZone("US-CAR-DUK", { latest: 420, access: FREE_TIER });
    em.addFault({ type: "hang" }, { endpoint: "zones" });
    const timeoutMs = 300;
    const provider = makeProvider({ timeoutMs });
    const t0 = performance.now();
    const current = await provider.get("US-CAR-DUK", { startMs: Date.now(), endMs: Date.now() });
    expect(performance.now() - t0).toBeLessThan(timeoutMs);
    expect(current).toMatchObject({ source: "electricitymaps", gramsPerKwh: 420 });
    const t1 = performance.now();
    const old: IntensityValue = await provider.get("US-CAR-DUK", threeDaysAgo());
    expect(performance.now() - t1).toBeLessThan(timeoutMs + 100);
    expect(old).toMatchObject({ source: "static", fallbackReason: "no-data-for-window" });
  });

  it("accessGrants reads *, exact endpoints and prefix/* entries", () => {
    expect(accessGrants(["*"], "carbon-intensity/past-range")).toBe(true);
    expect(accessGrants(FREE_TIER, "carbon-intensity/history")).toBe(true);
    expect(accessGrants(FREE_TIER, "carbon-intensity/past-range")).toBe(false);
    expect(accessGrants(["carbon-intensity/*"], "carbon-intensity/forecast")).toBe(true);
    expect(accessGrants([], "carbon-intensity/latest")).toBe(false);
  });
});
