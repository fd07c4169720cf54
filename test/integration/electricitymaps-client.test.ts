/**
 * ElectricityMapsClient against the emulator (a real HTTP server on 127.0.0.1): shapes, location,
 * auth header, and each fault the API is known to produce.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ElectricityMapsClient, ElectricityMapsError } from "../../src/intensity/electricitymaps.ts";
import type { IntensityRequestOutcome } from "../../src/intensity/types.ts";
import { type Emulator, hourlyRows, startEmulator } from "../helpers/em-emulator.ts";

const TOKEN = "em-test-token-Zq81x";
const HOUR_MS = 3_600_000;

let em: Emulator;
let client: ElectricityMapsClient;
let logs: string[];
let outcomes: IntensityRequestOutcome[];

function makeClient(
  overrides: Partial<ConstructorParameters<typeof ElectricityMapsClient>[0]> = {},
): ElectricityMapsClient {
  return new ElectricityMapsClient({
    baseUrl: em.url,
    token: TOKEN,
    timeoutMs: 1500,
    retries: 2,
    logger: (m) => logs.push(m),
    observer: { onRequest: (_p, o) => outcomes.push(o), onValue: () => {} },
    ...overrides,
  });
}

async function rejection(promise: Promise<unknown>): Promise<ElectricityMapsError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ElectricityMapsError);
    return error as ElectricityMapsError;
  }
  throw new Error("expected a rejection");
}

beforeEach(async () => {
  logs = [];
  outcomes = [];
  const hourStart = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  em = await startEmulator({
    token: TOKEN,
    zones: {
      DE: {
        latest: { carbonIntensity: 302, isEstimated: true, estimationMethod: "TIME_SLICER_AVERAGE" },
        history: [
          ...hourlyRows([250, null, 270], hourStart - 3 * HOUR_MS),
          ...hourlyRows([302], hourStart, { isEstimated: true }),
        ],
        past: hourlyRows([111, 112, 113], hourStart - 48 * HOUR_MS),
        forecast: [
          { datetime: new Date(hourStart + HOUR_MS).toISOString(), carbonIntensity: 77 },
          { datetime: new Date(hourStart + 2 * HOUR_MS).toISOString() },
          { datetime: new Date(hourStart + 3 * HOUR_MS).toISOString(), carbonIntensity: 65 },
        ],
        zoneName: "Germany",
      },
      "US-CAR-DUK": {
        latest: 400,
        countryName: "USA",
        zoneName: "Duke",
        access: ["carbon-intensity/latest", "carbon-intensity/history"],
      },
    },
    dataCenters: { "gcp/europe-west3": "DE" },
  });
  client = makeClient();
});

afterEach(async () => {
  await client.close();
  await em.close();
});

describe("ElectricityMapsClient: shapes", () => {
  it("latest keeps value, datetime and the estimation flag; sends auth-token, zone and emissionFactorType", async () => {
    const value = await client.latest({ zone: "DE" });
    expect(value).toMatchObject({
      gramsPerKwh: 302,
      zone: "DE",
      source: "electricitymaps",
      method: "latest",
      isEstimated: true,
    });
    expect(value.estimationMethod).toBe("TIME_SLICER_AVERAGE");
    const req = em.requests[0]!;
    expect(req.headers["auth-token"]).toBe(TOKEN);
    expect(req.url).toContain("zone=DE");
    expect(req.url).toContain("emissionFactorType=lifecycle");
    expect(req.url).not.toContain(TOKEN);
    expect(outcomes).toEqual(["ok"]);
  });

  it("history skips null rows, sorts, keeps estimated rows", async () => {
    const rows = await client.history({ zone: "DE" });
    expect(rows.map((r) => r.gramsPerKwh)).toEqual([250, 270, 302]);
    expect(rows.at(-1)?.isEstimated).toBe(true);
    expect(rows[0]!.startMs).toBeLessThan(rows[1]!.startMs);
  });

  it("past-range sends start/end and returns the rows in range; forecast skips periods without a value", async () => {
    const start = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 48 * HOUR_MS;
    const rows = await client.pastRange({ zone: "DE" }, start, start + 2 * HOUR_MS);
    expect(rows.map((r) => r.gramsPerKwh)).toEqual([111, 112]);
    expect(em.requests[0]!.url).toMatch(/start=.*end=/);
    const forecast = await client.forecast({ zone: "DE" });
    expect(forecast.map((r) => r.gramsPerKwh)).toEqual([77, 65]);
  });

  it("forecast: 404 → CO2E_ERR_NO_FORECAST; plan without it (401) → CO2E_ERR_AUTH", async () => {
    em.setZone("FR", { latest: 40 });
    expect((await rejection(client.forecast({ zone: "FR" }))).code).toBe("CO2E_ERR_NO_FORECAST");
    expect((await rejection(client.forecast({ zone: "US-CAR-DUK" }))).code).toBe("CO2E_ERR_AUTH");
  });

  it("zones returns the access map", async () => {
    const zones = await client.zones();
    expect(zones.DE?.access).toEqual(["*"]);
    expect(zones["US-CAR-DUK"]?.access).toEqual(["carbon-intensity/latest", "carbon-intensity/history"]);
  });

  it("locates by data centre, and refuses to send a request without a location", async () => {
    const value = await client.latest({ dataCenterProvider: "gcp", dataCenterRegion: "europe-west3" });
    expect(value.zone).toBe("DE");
    expect(em.requests[0]!.url).toContain("dataCenterProvider=gcp");
    await expect(client.latest({ zone: " " })).rejects.toMatchObject({ code: "CO2E_ERR_PROVIDER" });
    expect(em.requests.filter((r) => r.zone === undefined && r.endpoint !== "zones")).toHaveLength(0);
  });

  it("direct emission factors are requested when configured", async () => {
    const direct = makeClient({ emissionFactorType: "direct" });
    await direct.latest({ zone: "DE" });
    await direct.close();
    expect(em.requests[0]!.url).toContain("emissionFactorType=direct");
  });
});

describe("ElectricityMapsClient: faults", () => {
  it("500 then ok: retried with backoff", async () => {
    em.addFault({ type: "status", status: 500 }, { endpoint: "latest", times: 2 });
    expect((await client.latest({ zone: "DE" })).gramsPerKwh).toBe(302);
    expect(em.count("latest")).toBe(3);
    expect(outcomes).toEqual(["http_error", "http_error", "ok"]);
  });

  it("connection reset is retried", async () => {
    em.addFault({ type: "reset" }, { times: 1 });
    expect((await client.latest({ zone: "DE" })).gramsPerKwh).toBe(302);
    expect(outcomes).toEqual(["network_error", "ok"]);
  });

  it("429 with Retry-After: 1 waits about a second before retrying", async () => {
    em.addFault({ type: "rate-limit", retryAfter: "1" }, { times: 1 });
    const t0 = performance.now();
    await client.latest({ zone: "DE" }, { timeoutMs: 3000 });
    const gapMs = em.requests[1]!.atMs - em.requests[0]!.atMs;
    expect(gapMs).toBeGreaterThanOrEqual(950);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(outcomes).toEqual(["rate_limited", "ok"]);
  });

  it("429 with an HTTP-date Retry-After is honoured too", async () => {
    em.addFault({ type: "rate-limit", retryAfter: new Date(Date.now() + 2000).toUTCString() }, { times: 1 });
    await client.latest({ zone: "DE" }, { timeoutMs: 4000 });
    // HTTP dates have 1 s resolution: at least ~1 s.
    expect(em.requests[1]!.atMs - em.requests[0]!.atMs).toBeGreaterThanOrEqual(900);
  });

  it("429 whose Retry-After exceeds the budget fails at once, inside the budget, with retryAfterMs", async () => {
    em.addFault({ type: "rate-limit", retryAfter: "60" });
    const t0 = performance.now();
    const error = await rejection(client.latest({ zone: "DE" }));
    expect(performance.now() - t0).toBeLessThan(500);
    expect(error.reason).toBe("rate-limited");
    expect(error.retryAfterMs).toBeGreaterThan(59_000);
    expect(em.count("latest")).toBe(1);
  });

  it("a huge Retry-After is capped at an hour: a broken answer cannot park a zone for days", async () => {
    em.addFault({ type: "rate-limit", retryAfter: "999999" });
    const error = await rejection(client.latest({ zone: "DE" }));
    expect(error.retryAfterMs).toBe(3_600_000);
    expect(em.count("latest")).toBe(1);
  });

  it("a body above the size cap is a bad body, not retried", async () => {
    em.addFault({
      type: "status",
      status: 200,
      body: `{"zone":"DE","history":[${" ".repeat(5 * 1024 * 1024)}]}`,
    });
    const error = await rejection(client.history({ zone: "DE" }));
    expect(error.reason).toBe("bad-body");
    expect(em.count("history")).toBe(1);
  });

  it("429 without Retry-After: backoff retries, then rate-limited", async () => {
    em.addFault({ type: "rate-limit" });
    const error = await rejection(client.latest({ zone: "DE" }));
    expect(error.reason).toBe("rate-limited");
    expect(em.count("latest")).toBe(3);
  });

  it("401 is not retried and is logged once with a hint, without the token", async () => {
    em.addFault({ type: "unauthorized" });
    for (let i = 0; i < 3; i++) {
      const error = await rejection(client.latest({ zone: "DE" }));
      expect(error.code).toBe("CO2E_ERR_AUTH");
      expect(error.message).not.toContain(TOKEN);
    }
    expect(em.count("latest")).toBe(3);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/ELECTRICITYMAPS_API_TOKEN.*plan/);
    expect(logs[0]).not.toContain(TOKEN);
  });

  it("a wrong token gets the API's 401; 403 is treated the same", async () => {
    const wrong = makeClient({ token: "not-the-token" });
    expect((await rejection(wrong.latest({ zone: "DE" }))).reason).toBe("auth");
    await wrong.close();
    em.addFault({ type: "forbidden" }, { times: 1 });
    expect((await rejection(client.latest({ zone: "DE" }))).code).toBe("CO2E_ERR_AUTH");
  });

  it("404 → CO2E_ERR_UNKNOWN_ZONE, not retried, one warning per zone", async () => {
    for (let i = 0; i < 3; i++) {
      const error = await rejection(client.latest({ zone: "XX-NOPE" }));
      expect(error.code).toBe("CO2E_ERR_UNKNOWN_ZONE");
    }
    expect(em.count("latest", "XX-NOPE")).toBe(3);
    expect(logs.filter((l) => l.includes("XX-NOPE"))).toHaveLength(1);
  });

  it("malformed and wrong-shaped bodies are bad-body errors, not values", async () => {
    em.addFault({ type: "malformed" }, { times: 1 });
    expect((await rejection(client.history({ zone: "DE" }))).reason).toBe("bad-body");
    em.addFault({ type: "wrong-shape" }, { times: 1 });
    expect((await rejection(client.latest({ zone: "DE" }))).reason).toBe("bad-body");
    expect(outcomes).toEqual(["bad_body", "bad_body"]);
  });

  it("a hanging server: the call fails with a timeout within the budget", async () => {
    em.addFault({ type: "hang" });
    const t0 = performance.now();
    const error = await rejection(client.latest({ zone: "DE" }, { timeoutMs: 300 }));
    const elapsed = performance.now() - t0;
    expect(error.reason).toBe("timeout");
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(300 + 150);
  });

  it("slow answers inside the budget succeed; slower ones time out at the budget", async () => {
    em.addFault({ type: "slow", ms: 100 }, { times: 1 });
    expect((await client.latest({ zone: "DE" })).gramsPerKwh).toBe(302);
    em.addFault({ type: "slow", ms: 600 });
    const t0 = performance.now();
    const error = await rejection(client.latest({ zone: "DE" }, { timeoutMs: 400 }));
    expect(performance.now() - t0).toBeLessThan(400 + 150);
    expect(error.reason).toBe("timeout");
  });

  it("500s keep failing: retries stop inside the budget", async () => {
    em.addFault({ type: "status", status: 503 });
    const t0 = performance.now();
    const error = await rejection(client.latest({ zone: "DE" }, { timeoutMs: 250 }));
    expect(performance.now() - t0).toBeLessThan(250 + 100);
    expect(error.reason).toBe("http-503");
    expect(em.count("latest")).toBeGreaterThanOrEqual(2);
  });
});
