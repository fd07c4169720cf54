/**
 * LiveIntensityProvider against the emulator: single flight per zone and TTL under load, outage
 * and recovery within the time bound, time-weighted windows, 401 handling, the circuit breaker,
 * and a search for the token in everything emitted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { ElectricityMapsClient } from "../../src/intensity/electricitymaps.ts";
import { createIntensityProvider } from "../../src/intensity/index.ts";
import { LiveIntensityProvider, type LiveIntensityProviderOptions } from "../../src/intensity/live.ts";
import { StaticIntensityProvider, staticIntensity } from "../../src/intensity/static.ts";
import type {
  IntensityObserver,
  IntensityRequestOutcome,
  IntensityValue,
} from "../../src/intensity/types.ts";
import { expectOneRequestPerZonePerTtl } from "../helpers/em-assertions.ts";
import { type Emulator, hourlyRows, startEmulator } from "../helpers/em-emulator.ts";

const TOKEN = "tok-9f3e-SECRET-a71c";
const HOUR_MS = 3_600_000;
const ZONES = ["DE", "FR", "PL"] as const;
const LIVE: Record<string, number> = { DE: 302, FR: 41, PL: 655 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything emitted during the fault tests, searched for the token at the end. */
const emitted: string[] = [];
const outcomes: IntensityRequestOutcome[] = [];
const observer: IntensityObserver = {
  onRequest: (provider, outcome) => {
    outcomes.push(outcome);
    emitted.push(`${provider} ${outcome}`);
  },
  onValue: (value) => emitted.push(JSON.stringify(value)),
};
const logger = (msg: string) => emitted.push(msg);

let em: Emulator;
const providers: LiveIntensityProvider[] = [];

function makeProvider(
  options: Partial<LiveIntensityProviderOptions> & { retries?: number } = {},
): LiveIntensityProvider {
  const timeoutMs = options.timeoutMs ?? 300;
  const client = new ElectricityMapsClient({
    baseUrl: em.url,
    token: TOKEN,
    timeoutMs,
    retries: options.retries ?? 1,
    observer,
    logger,
  });
  const provider = new LiveIntensityProvider({ client, timeoutMs, cacheTtlMs: 200, observer, ...options });
  providers.push(provider);
  return provider;
}

function record(value: IntensityValue): IntensityValue {
  emitted.push(JSON.stringify(value));
  return value;
}

beforeAll(async () => {
  em = await startEmulator({
    token: TOKEN,
    zones: Object.fromEntries(ZONES.map((z) => [z, { latest: LIVE[z]! }])),
  });
  // Capture console and process output too.
  for (const method of ["log", "warn", "error", "info", "debug"] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      emitted.push(args.map(String).join(" "));
      original.apply(console, args);
    };
  }
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      emitted.push(String(chunk));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
  }
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
  em.clearFaults();
  em.resetRequests();
  for (const zone of ZONES) em.setZone(zone, { latest: LIVE[zone]! });
});

afterAll(async () => {
  await em.close();
});

const now = () => ({ startMs: Date.now(), endMs: Date.now() });

describe("LiveIntensityProvider: cache", () => {
  it("10,000 lookups/gets over 3 zones: at most one request per zone per TTL (single flight)", async () => {
    const ttlMs = 250;
    const provider = makeProvider({ cacheTtlMs: ttlMs, timeoutMs: 500 });
    const t0 = Date.now();
    let live = 0;
    // 100 rounds of 100 operations: 90 synchronous lookups and 10 concurrent gets, ~1.5 s in all.
    for (let round = 0; round < 100; round++) {
      const gets: Promise<IntensityValue>[] = [];
      for (let i = 0; i < 100; i++) {
        const zone = ZONES[(round * 100 + i) % 3]!;
        if (i % 10 === 0) gets.push(provider.get(zone, now()));
        else {
          const v = provider.lookup(zone, now());
          if (v.source === "electricitymaps") live++;
        }
      }
      for (const v of await Promise.all(gets)) {
        expect(v.source).toBe("electricitymaps");
        expect(v.gramsPerKwh).toBe(LIVE[v.zone]);
        live++;
      }
      await sleep(15);
    }
    const elapsedMs = Date.now() - t0;
    expect(live).toBeGreaterThan(9_900); // only the first lookups of each zone may be cache-cold
    expectOneRequestPerZonePerTtl(em, ZONES, ttlMs, elapsedMs);
    // Besides the history refreshes, the one /zones request of the provider's lifetime.
    expect(em.requests.filter((r) => r.endpoint !== "history").map((r) => r.endpoint)).toEqual(["zones"]);
  });

  it("concurrent gets of a cold zone share one request", async () => {
    const provider = makeProvider();
    const values = await Promise.all(Array.from({ length: 50 }, () => provider.get("FR", now())));
    expect(values.every((v) => v.gramsPerKwh === 41 && v.source === "electricitymaps")).toBe(true);
    expect(em.count("history", "FR")).toBe(1);
  });

  it("warm() fetches in the background and keeps an active zone refreshed every TTL", async () => {
    const provider = makeProvider({ cacheTtlMs: 100 });
    provider.warm("PL");
    expect(provider.lookup("PL", now())).toMatchObject({ source: "static", fallbackReason: "cache-cold" });
    await sleep(60);
    expect(provider.lookup("PL", now())).toMatchObject({ source: "electricitymaps", gramsPerKwh: 655 });
    await sleep(300);
    // Refreshed in the background without further calls (active for 3 × TTL after the last use).
    expect(em.count("history", "PL")).toBeGreaterThanOrEqual(3);
    expect(provider.cachedRows("PL")?.length).toBe(24);
  });
});

describe("LiveIntensityProvider: bounds", () => {
  it("keeps at most maxZones zones (LRU)", async () => {
    const provider = makeProvider({ maxZones: 2 });
    for (const zone of ZONES) await provider.get(zone, now());
    expect(provider.cachedRows("DE")).toBeUndefined();
    expect(provider.cachedRows("FR")).toBeDefined();
    expect(provider.cachedRows("PL")).toBeDefined();
  });

  it("a 429 with a long Retry-After holds the zone off beyond the TTL", async () => {
    em.addFault({ type: "rate-limit", retryAfter: "60" }, { zone: "DE" });
    const provider = makeProvider({ cacheTtlMs: 50, failureHoldOffMs: 10 });
    expect(record(await provider.get("DE", now()))).toMatchObject({
      source: "static",
      fallbackReason: "rate-limited",
    });
    await sleep(150);
    expect(record(await provider.get("DE", now()))).toMatchObject({
      source: "static",
      fallbackReason: "rate-limited",
    });
    expect(em.count("history", "DE")).toBe(1);
  });

  it("with forecast: true, cachedRows adds the forecast's future rows", async () => {
    const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    em.setZone("DE", {
      latest: 300,
      forecast: [1, 2, 3].map((i) => ({
        datetime: new Date(hour + i * HOUR_MS).toISOString(),
        carbonIntensity: 100 * i,
      })),
    });
    em.setZone("FR", { latest: 41 }); // no forecast → 404 → not asked again
    const provider = makeProvider({ forecast: true, cacheTtlMs: 50 });
    await provider.get("DE", now());
    const rows = provider.cachedRows("DE")!;
    expect(rows).toHaveLength(27);
    expect(rows.slice(-3).map((r) => r.gramsPerKwh)).toEqual([100, 200, 300]);
    await provider.get("FR", now());
    await sleep(80);
    await provider.get("FR", now());
    expect(em.count("forecast", "FR")).toBe(1);
    expect(em.count("history", "FR")).toBe(2);
  });
});

describe("LiveIntensityProvider: windows", () => {
  it("a 3-hour job gets the time-weighted mean of three hourly rows; partial hours weigh by overlap", async () => {
    const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    em.setZone("DE", {
      history: [
        ...hourlyRows([100, 200, 600], hour - 3 * HOUR_MS),
        ...hourlyRows([50], hour, { isEstimated: true }),
      ],
    });
    const provider = makeProvider();
    const full = await provider.get("DE", { startMs: hour - 3 * HOUR_MS, endMs: hour });
    expect(full).toMatchObject({ source: "electricitymaps", method: "time-weighted", isEstimated: false });
    expect(full.gramsPerKwh).toBeCloseTo(300, 9);
    const partial = provider.lookup("DE", { startMs: hour - 2.5 * HOUR_MS, endMs: hour - 0.5 * HOUR_MS });
    expect(partial.gramsPerKwh).toBeCloseTo((0.5 * 100 + 200 + 0.5 * 600) / 2, 9);
    expect(partial.ageSeconds).toBeCloseTo(1800, 0);
    // A job inside the current hour takes the latest value, with its estimation flag.
    const inHour = provider.lookup("DE", { startMs: hour, endMs: Math.max(Date.now(), hour + 1) });
    expect(inHour).toMatchObject({
      method: "latest",
      gramsPerKwh: 50,
      isEstimated: true,
      estimationMethod: "TIME_SLICER_AVERAGE",
    });
  });

  it("a window older than the history is filled from past-range by get()", async () => {
    const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    em.setZone("DE", { latest: 300, past: hourlyRows([10, 20, 30], hour - 48 * HOUR_MS) });
    const provider = makeProvider({ timeoutMs: 600 });
    const value = await provider.get("DE", { startMs: hour - 48 * HOUR_MS, endMs: hour - 45 * HOUR_MS });
    expect(value).toMatchObject({ method: "time-weighted", source: "electricitymaps" });
    expect(value.gramsPerKwh).toBeCloseTo(20, 9);
    expect(em.count("past-range", "DE")).toBe(1);
  });

  it("windows in a gap between earlier past-range answers and the history are filled too", async () => {
    const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const pastStartMs = hour - 10 * 24 * HOUR_MS;
    // Row i (hours after pastStartMs) has the value 100 + i, for 9 days.
    em.setZone("DE", {
      latest: 300,
      past: hourlyRows(
        Array.from({ length: 24 * 9 }, (_, i) => 100 + i),
        pastStartMs,
      ),
    });
    const provider = makeProvider({ timeoutMs: 600 });
    const daysAgo = (days: number) => ({
      startMs: hour - days * 24 * HOUR_MS,
      endMs: hour - days * 24 * HOUR_MS + HOUR_MS,
    });
    // 3 days ago first, then 5 days ago (older than the cache), then 4 days ago: between the
    // two past-range answers, overlapping no cached row.
    for (const [i, days] of [3, 5, 4].entries()) {
      const value = await provider.get("DE", daysAgo(days));
      expect(value).toMatchObject({ source: "electricitymaps", method: "time-weighted" });
      expect(value.fallbackReason).toBeUndefined();
      expect(value.gramsPerKwh).toBe(100 + (10 - days) * 24);
      expect(em.count("past-range", "DE")).toBe(i + 1);
    }
    // Covered now: no further request, same value from the cache.
    expect((await provider.get("DE", daysAgo(4))).gramsPerKwh).toBe(100 + 6 * 24);
    expect(em.count("past-range", "DE")).toBe(3);
  });
});

describe("LiveIntensityProvider: faults (output captured and searched for the token)", () => {
  it("outage mid-run (hang, then 500s): get stays within the bound, lookup never throws, static with reason, then back to live", async () => {
    const timeoutMs = 200;
    const provider = makeProvider({
      timeoutMs,
      cacheTtlMs: 80,
      maxStaleMs: 150,
      breakerFailures: 3,
      breakerResetMs: 150,
      failureHoldOffMs: 50,
    });
    const phases: Array<{ name: string; ms: number; fault?: () => void }> = [
      { name: "healthy", ms: 400 },
      { name: "hang", ms: 900, fault: () => em.addFault({ type: "hang" }) },
      { name: "recovered-1", ms: 900 },
      { name: "500", ms: 900, fault: () => em.addFault({ type: "status", status: 500 }) },
      { name: "recovered-2", ms: 900 },
    ];
    let maxGetMs = 0;
    let calls = 0;
    const seen: Record<string, IntensityValue[]> = {};
    for (const phase of phases) {
      em.clearFaults();
      phase.fault?.();
      const list: IntensityValue[] = [];
      seen[phase.name] = list;
      const end = Date.now() + phase.ms;
      while (Date.now() < end) {
        const gets = ZONES.map(async (zone) => {
          const t = performance.now();
          const v = await provider.get(zone, now());
          maxGetMs = Math.max(maxGetMs, performance.now() - t);
          return v;
        });
        for (const zone of ZONES) list.push(record(provider.lookup(zone, now())));
        for (const v of await Promise.all(gets)) list.push(record(v));
        calls += 6;
        await sleep(10);
      }
    }
    expect(calls).toBeGreaterThan(100);
    // Every get resolved within the configured bound plus a little scheduling slack.
    expect(maxGetMs).toBeLessThan(timeoutMs + 100);
    for (const name of ["hang", "500"]) {
      const list = seen[name]!;
      const tail = list.slice(-30);
      expect(tail.every((v) => v.source === "static")).toBe(true);
      for (const v of tail) {
        expect(v.gramsPerKwh).toBe(staticIntensity(v.zone).gramsPerKwh);
        expect(["timeout", "http-500", "circuit-open", "stale"]).toContain(v.fallbackReason);
      }
    }
    expect(seen.hang!.some((v) => v.fallbackReason === "timeout")).toBe(true);
    expect(
      seen["500"]!.some((v) => v.fallbackReason === "http-500" || v.fallbackReason === "circuit-open"),
    ).toBe(true);
    for (const name of ["recovered-1", "recovered-2"]) {
      const tail = seen[name]!.slice(-30);
      expect(tail.every((v) => v.source === "electricitymaps" && v.gramsPerKwh === LIVE[v.zone])).toBe(true);
    }
    expect(outcomes).toContain("timeout");
    expect(outcomes).toContain("http_error");
  });

  it("401: not retried, reported once, static with reason auth", async () => {
    em.addFault({ type: "unauthorized" });
    const provider = makeProvider({ retries: 2 });
    const logStart = emitted.filter((m) => m.includes("refused the token")).length;
    for (const zone of ZONES) {
      const v = record(await provider.get(zone, now()));
      expect(v).toMatchObject({ source: "static", fallbackReason: "auth" });
    }
    for (let i = 0; i < 100; i++) record(provider.lookup("DE", now()));
    expect(em.count("history")).toBe(3); // one per zone, no retries, held off for a TTL
    expect(emitted.filter((m) => m.includes("refused the token")).length - logStart).toBe(1);
  });

  it("404 and malformed bodies fall back with their reasons", async () => {
    em.addFault({ type: "not-found" }, { zone: "FR" });
    em.addFault({ type: "malformed" }, { zone: "PL" });
    const provider = makeProvider();
    expect(record(await provider.get("FR", now()))).toMatchObject({
      source: "static",
      fallbackReason: "unknown-zone",
    });
    expect(record(await provider.get("PL", now()))).toMatchObject({
      source: "static",
      fallbackReason: "bad-body",
    });
    expect(record(await provider.get("DE", now()))).toMatchObject({ source: "electricitymaps" });
  });

  it("breaker opens after repeated failures, then half-opens with a single probe", async () => {
    em.addFault({ type: "status", status: 500 });
    const provider = makeProvider({
      retries: 0,
      breakerFailures: 2,
      breakerResetMs: 300,
      cacheTtlMs: 50,
      failureHoldOffMs: 10,
    });
    record(await provider.get("DE", now()));
    record(await provider.get("FR", now()));
    expect(provider.breakerState).toBe("open");
    const before = em.count("history");
    const t = performance.now();
    expect(record(await provider.get("PL", now()))).toMatchObject({
      source: "static",
      fallbackReason: "circuit-open",
    });
    expect(performance.now() - t).toBeLessThan(50);
    expect(em.count("history")).toBe(before);
    expect(outcomes).toContain("circuit_open");

    await sleep(320);
    expect(provider.breakerState).toBe("half-open");
    // Three zones ask at once: only one probe goes out; it fails, the breaker opens again.
    await Promise.all(ZONES.map((z) => provider.get(z, now()).then(record)));
    expect(em.count("history")).toBe(before + 1);
    expect(provider.breakerState).toBe("open");

    em.clearFaults();
    await sleep(320);
    const probe = record(await provider.get("DE", now()));
    expect(probe).toMatchObject({ source: "electricitymaps", gramsPerKwh: 302 });
    expect(provider.breakerState).toBe("closed");
  });

  it("while a half-open probe hangs, other zones count circuit_open once each, not per lookup", async () => {
    em.addFault({ type: "status", status: 500 });
    const provider = makeProvider({
      retries: 0,
      timeoutMs: 1500,
      breakerFailures: 1,
      breakerResetMs: 300,
      failureHoldOffMs: 10,
      cacheTtlMs: 50,
    });
    record(await provider.get("DE", now()));
    expect(provider.breakerState).toBe("open");
    em.clearFaults();
    em.addFault({ type: "hang" });
    const historyBefore = em.count("history");
    await sleep(320);
    expect(provider.breakerState).toBe("half-open");
    // Sends the probe, which hangs (unless the background refresh already did).
    record(provider.lookup("DE", now()));
    const circuitOpenBefore = outcomes.filter((o) => o === "circuit_open").length;
    const startedMs = performance.now();
    for (let batch = 0; batch < 10; batch++) {
      for (let i = 0; i < 100; i++) record(provider.lookup(ZONES[i % ZONES.length]!, now()));
      await sleep(20);
    }
    // The probe is still out (and the only request): the lookups above all met it in flight.
    expect(em.count("history")).toBe(historyBefore + 1);
    expect(provider.breakerState).toBe("half-open");
    const added = outcomes.filter((o) => o === "circuit_open").length - circuitOpenBefore;
    // At most once per waiting zone (FR, PL) per reset period (300 ms), instead of once per lookup.
    const periods = Math.floor((performance.now() - startedMs) / 300) + 1;
    expect(added).toBeGreaterThan(0);
    expect(added).toBeLessThanOrEqual((ZONES.length - 1) * periods);
    expect(added).toBeLessThan(20);
  });

  it("the token appears nowhere in what the fault tests emitted, though it was sent", () => {
    expect(emitted.length).toBeGreaterThan(1000);
    const all = emitted.join("\n");
    expect(all).toContain("static"); // the capture did capture values
    expect(all.includes(TOKEN)).toBe(false);
    expect(all.includes(TOKEN.slice(4, 14))).toBe(false);
  });
});

describe("createIntensityProvider", () => {
  const config = (intensity: Record<string, unknown>) => parseConfig({ intensity });

  it("auto: live with a token, static without; electricitymaps without a token stays static (no-token); base URL from config", async () => {
    const withToken = createIntensityProvider(config({ baseUrl: em.url }), {
      env: { ELECTRICITYMAPS_API_TOKEN: TOKEN },
    });
    expect(withToken).toBeInstanceOf(LiveIntensityProvider);
    const v = await withToken.get("DE", now());
    expect(v).toMatchObject({ source: "electricitymaps", gramsPerKwh: 302 });
    expect(em.requests[0]!.headers["auth-token"]).toBe(TOKEN);
    await withToken.close();

    expect(createIntensityProvider(config({}), { env: {} })).toBeInstanceOf(StaticIntensityProvider);
    // electricitymaps forced without a token: static with reason no-token, one warning, no request.
    const warnings: string[] = [];
    const forced = createIntensityProvider(config({ provider: "electricitymaps", baseUrl: em.url }), {
      env: {},
      logger: (m) => warnings.push(m),
    });
    const before = em.requests.length;
    expect(forced.name).toBe("static");
    expect(await forced.get("DE", now())).toMatchObject({ source: "static", fallbackReason: "no-token" });
    expect(warnings).toHaveLength(1);
    expect(em.requests.length).toBe(before);
    await forced.close();
    expect(
      createIntensityProvider(config({ provider: "static" }), { env: { ELECTRICITYMAPS_API_TOKEN: TOKEN } })
        .name,
    ).toBe("static");
  });

  it("the base URL is config.intensity.baseUrl only: ELECTRICITYMAPS_BASE_URL is loadConfig's to map", async () => {
    // A stale variable in the environment must not win over the config it was (or was not) folded into.
    const provider = createIntensityProvider(config({ baseUrl: em.url }), {
      env: { ELECTRICITYMAPS_API_TOKEN: TOKEN, ELECTRICITYMAPS_BASE_URL: "http://127.0.0.1:9/v3" },
    });
    providers.push(provider as LiveIntensityProvider);
    expect(await provider.get("FR", now())).toMatchObject({ source: "electricitymaps", gramsPerKwh: 41 });
    expect(em.count("history", "FR")).toBe(1);
  });

  it("the static provider reports served values to the observer too", () => {
    const values: IntensityValue[] = [];
    const provider = createIntensityProvider(config({ staticYear: 2024 }), {
      env: {},
      observer: { onRequest: () => {}, onValue: (v) => values.push(v) },
    });
    const v = provider.lookup("DE", now());
    expect(v).toMatchObject({ source: "static", year: 2024 });
    expect(values).toEqual([v]);
  });
});
