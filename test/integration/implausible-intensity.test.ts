/**
 * An Electricity Maps answer outside the plausible range (−500 or 1e9 gCO₂e/kWh) is a provider
 * failure, never a live value: the request counts as `bad_body`, job spans get the static value
 * with `fallback_reason=implausible-value`, and the job is counted in the metrics at that static
 * value. Against the emulator, with the real SDK TracerProvider and a real /metrics endpoint.
 */
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { ElectricityMapsClient, IMPLAUSIBLE_VALUE_REASON } from "../../src/intensity/electricitymaps.ts";
import { createIntensityProvider } from "../../src/intensity/index.ts";
import { staticIntensity } from "../../src/intensity/static.ts";
import type { IntensityProvider, IntensityRequestOutcome } from "../../src/intensity/types.ts";
import { createPrometheusMetrics, type PrometheusMetrics } from "../../src/metrics/prometheus.ts";
import { isPlausibleIntensity, MAX_PLAUSIBLE_GRAMS_PER_KWH } from "../../src/model/plausible.ts";
import { CarbonSpanProcessor } from "../../src/processor/carbon-span-processor.ts";
import * as sc from "../../src/semconv.ts";
import { type Emulator, hourlyRows, startEmulator } from "../helpers/em-emulator.ts";
import { find, parseExposition } from "../helpers/exposition.ts";

const TOKEN = "implausible-tok-7d1e";
const HOUR_MS = 3_600_000;

let em: Emulator;
let prom: PrometheusMetrics | undefined;
let provider: IntensityProvider | undefined;

beforeAll(async () => {
  em = await startEmulator({ token: TOKEN });
});
afterEach(async () => {
  await provider?.close();
  provider = undefined;
  await prom?.shutdown();
  prom = undefined;
  em.resetRequests();
});
afterAll(async () => {
  await em.close();
});

describe("plausible range", () => {
  it("is 0–2,000 g/kWh, ends included; negative, non-finite and larger values are not", () => {
    expect(MAX_PLAUSIBLE_GRAMS_PER_KWH).toBe(2000);
    for (const ok of [0, 41, 655, 2000]) expect(isPlausibleIntensity(ok)).toBe(true);
    for (const bad of [-500, -0.001, 2000.001, 1e9, Number.NaN, Number.POSITIVE_INFINITY])
      expect(isPlausibleIntensity(bad)).toBe(false);
  });
});

describe("Electricity Maps answering an implausible intensity", () => {
  it("the client refuses the body with reason implausible-value and outcome bad_body, naming the field", async () => {
    em.setZone("DE", { latest: -500 });
    const outcomes: IntensityRequestOutcome[] = [];
    const client = new ElectricityMapsClient({
      baseUrl: em.url,
      token: TOKEN,
      retries: 0,
      observer: { onRequest: (_p, o) => outcomes.push(o), onValue: () => {} },
      logger: () => {},
    });
    try {
      const error = await client.latest({ zone: "DE" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ reason: IMPLAUSIBLE_VALUE_REASON, outcome: "bad_body" });
      expect(String((error as Error).message)).toMatch(
        /carbonIntensity: -500 gCO₂e\/kWh is outside the plausible range 0–2000/,
      );
      // One bad row among good ones spoils the whole answer.
      const rows = hourlyRows([300, 310, 1e9, 320], Date.now() - 4 * HOUR_MS);
      em.setZone("DE", { latest: 320, history: rows });
      await expect(client.history({ zone: "DE" })).rejects.toMatchObject({
        reason: IMPLAUSIBLE_VALUE_REASON,
      });
      expect(outcomes).toEqual(["bad_body", "bad_body"]);
      // A plausible answer still passes.
      em.setZone("DE", { latest: 320 });
      expect((await client.latest({ zone: "DE" })).gramsPerKwh).toBe(320);
    } finally {
      await client.close();
    }
  });

  for (const answer of [-500, 1e9]) {
    it(`${answer} g/kWh: job spans fall back to static with the reason; metrics count bad_body, never ok`, async () => {
      em.setZone("PL", { latest: answer });
      prom = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 200 });
      const config = parseConfig({
        zone: "PL",
        intensity: { provider: "electricitymaps", baseUrl: em.url, retries: 0 },
      });
      provider = createIntensityProvider(config, {
        env: { ELECTRICITYMAPS_API_TOKEN: TOKEN },
        observer: prom.metrics.intensityObserver,
        logger: () => {},
      });
      const window = { startMs: Date.now() - 2000, endMs: Date.now() };
      const value = await provider.get("PL", window);
      expect(value).toMatchObject({ source: "static", fallbackReason: IMPLAUSIBLE_VALUE_REASON });
      expect(value.gramsPerKwh).toBe(staticIntensity("PL").gramsPerKwh);

      const exporter = new InMemorySpanExporter();
      const tracerProvider = new TracerProvider({
        spanProcessors: [
          new CarbonSpanProcessor({ config, provider, metrics: prom.metrics, logicalCores: 2 }),
          new SimpleSpanProcessor({ exporter }),
        ],
      });
      const tracer = tracerProvider.getTracer("t");
      for (const name of ["a", "b"]) {
        tracer
          .startSpan(name, {
            startTime: Date.now() - 2000,
            attributes: { [sc.ATTR_JOB_NAME]: name, [sc.ATTR_JOB_CPU_SECONDS]: 2 },
          })
          .end();
      }
      await tracerProvider.forceFlush();
      const spans = exporter.getFinishedSpans();
      await tracerProvider.shutdown();
      expect(spans).toHaveLength(2);
      for (const span of spans) {
        expect(span.attributes[sc.ATTR_CARBON_ERROR]).toBeUndefined();
        expect(span.attributes[sc.ATTR_CARBON_INTENSITY_SOURCE]).toBe("static");
        expect(span.attributes[sc.ATTR_CARBON_INTENSITY_FALLBACK_REASON]).toBe(IMPLAUSIBLE_VALUE_REASON);
        expect(span.attributes[sc.ATTR_CARBON_INTENSITY]).toBe(staticIntensity("PL").gramsPerKwh);
        // 2 CPU-s × 85 W ÷ 2 cores = 85 J: at most a few hundred mg, never kilograms.
        expect(span.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeLessThan(0.1);
      }
      const samples = parseExposition(await (await fetch(prom.url)).text());
      const requests = find(samples, sc.PROM_INTENSITY_REQUESTS, { provider: "electricitymaps" });
      // Every intensity request was bad_body; the only `ok` is the one /zones (plan) request.
      const count = (outcome: string) => requests.find((s) => s.labels.outcome === outcome)?.value ?? 0;
      expect(count("bad_body")).toBeGreaterThanOrEqual(1);
      expect(count("bad_body")).toBe(em.count("history", "PL"));
      expect(count("ok")).toBe(em.count("zones"));
      expect(find(samples, sc.PROM_JOB_RUNS, { source: "static" }).reduce((n, s) => n + s.value, 0)).toBe(2);
      expect(find(samples, sc.PROM_JOB_RUNS, { source: "electricitymaps" })).toHaveLength(0);
      expect(find(samples, sc.PROM_GRID_INTENSITY, { source: "electricitymaps" })).toHaveLength(0);
    });
  }
});
