/**
 * The `rapl` CPU model through the real SDK: a CarbonSpanProcessor whose meter reads a fake
 * powercap + /proc/stat tree. The test moves the counters while the job runs, so the attributed
 * energy is known: ΔE_package × min(1, job CPU s ÷ machine busy s).
 */
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { StaticIntensityProvider } from "../../src/intensity/static.ts";
import type { IntensityValue } from "../../src/intensity/types.ts";
import { withJob } from "../../src/job/job.ts";
import { JobMeter } from "../../src/job/meter.ts";
import { systemUnits } from "../../src/power/procfs.ts";
import { CarbonSpanProcessor } from "../../src/processor/carbon-span-processor.ts";
import { enrichJobSpan } from "../../src/processor/enrich.ts";
import * as sc from "../../src/semconv.ts";
import { burnCpuSeconds } from "../helpers/cpu-burn.ts";
import { type FakeMachine, fakeMachine, statWithBusy } from "../helpers/fake-powercap.ts";

const MAX = 262_143_328_850;
const raplConfig = parseConfig({
  zone: "DE",
  sampler: { intervalMs: 50 },
  model: { cpu: { model: "rapl", fallbackTdpWatts: 100 } },
});
const LOGICAL_CORES = 4;

let machine: FakeMachine | undefined;
afterEach(() => {
  machine?.remove();
  machine = undefined;
});

function setup(rapl: { powercapRoot: string; procRoot: string }) {
  const exporter = new InMemorySpanExporter();
  const meter = new JobMeter({ intervalMs: 50, cpuClock: "process" });
  const processor = new CarbonSpanProcessor({
    config: raplConfig,
    provider: new StaticIntensityProvider(),
    logicalCores: LOGICAL_CORES,
    meter,
    rapl,
  });
  const tracerProvider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": "rapl-test" }),
    spanProcessors: [processor, new SimpleSpanProcessor({ exporter })],
  });
  return { exporter, meter, tracer: tracerProvider.getTracer("test") };
}

function num(span: ReadableSpan, key: string): number {
  const v = span.attributes[key];
  if (typeof v !== "number") throw new Error(`${key} is ${JSON.stringify(v)}`);
  return v;
}

describe("rapl CPU model end to end (in-process)", () => {
  it("measured package energy, shared by CPU time, becomes job.cpu.joules and carbon.energy.cpu_kwh", () => {
    machine = fakeMachine(
      [
        { dir: "intel-rapl:0", name: "package-0", energyUj: MAX - 10_000_000, maxRangeUj: MAX },
        { dir: "intel-rapl:1", name: "package-1", energyUj: 0, maxRangeUj: MAX },
      ],
      statWithBusy(1_000_000),
    );
    const m = machine;
    const { exporter, meter, tracer } = setup(m);
    expect(meter.hasCpuEnergy).toBe(true);
    const hz = systemUnits().ticksPerSecond;
    withJob(
      "rapl-job",
      () => {
        burnCpuSeconds(0.06);
        // Over the job: package-0 wraps (+10 J to the top, +30 J after), package-1 +60 J → 100 J;
        // the machine was busy 500 CPU-s, far more than the job's: share = cpu ÷ 500.
        m.setEnergy("intel-rapl:0", 30_000_000);
        m.setEnergy("intel-rapl:1", 60_000_000);
        m.setProcStat(statWithBusy(1_000_000 + 500 * hz));
      },
      { tracer, meter },
    );
    const span = exporter.getFinishedSpans().find((s) => s.name === "rapl-job")!;
    const cpuSeconds = num(span, sc.ATTR_JOB_CPU_SECONDS);
    expect(cpuSeconds).toBeGreaterThan(0.03);
    const joules = num(span, sc.ATTR_JOB_CPU_JOULES);
    expect(joules).toBeCloseTo((100 * cpuSeconds) / 500, 9);
    expect(span.attributes[sc.ATTR_CARBON_MODEL]).toBe("rapl");
    expect(num(span, sc.ATTR_CARBON_ENERGY_CPU_KWH)).toBeCloseTo(joules / 3.6e6, 15);
    expect(span.attributes[sc.ATTR_CARBON_ERROR]).toBeUndefined();
  });

  it("a job that used more CPU than the machine counted gets at most the whole package", () => {
    machine = fakeMachine(
      [{ dir: "intel-rapl:0", name: "package-0", energyUj: 0, maxRangeUj: MAX }],
      statWithBusy(5_000),
    );
    const m = machine;
    const { exporter, meter, tracer } = setup(m);
    withJob(
      "capped",
      () => {
        burnCpuSeconds(0.04);
        m.setEnergy("intel-rapl:0", 7_000_000); // +7 J, machine busy +0 ticks
      },
      { tracer, meter },
    );
    const span = exporter.getFinishedSpans()[0]!;
    // The job's own on-thread share of the window's CPU (the span bookkeeping around it is
    // nobody's): nearly all of the package, never more.
    const joules = num(span, sc.ATTR_JOB_CPU_JOULES);
    expect(joules).toBeLessThanOrEqual(7 + 1e-9);
    expect(joules).toBeGreaterThan(7 * 0.8);
    expect(num(span, sc.ATTR_CARBON_ENERGY_CPU_KWH)).toBeCloseTo(joules / 3.6e6, 15);
  });

  it("without a readable powercap the job falls back to tdp at fallbackTdpWatts, and says so", () => {
    machine = fakeMachine([], statWithBusy(1000)); // no zone at all
    const { exporter, meter, tracer } = setup(machine);
    expect(meter.hasCpuEnergy).toBe(false);
    withJob("no-rapl", () => burnCpuSeconds(0.04), { tracer, meter });
    const span = exporter.getFinishedSpans()[0]!;
    expect(span.attributes[sc.ATTR_JOB_CPU_JOULES]).toBeUndefined();
    expect(span.attributes[sc.ATTR_CARBON_MODEL]).toBe("tdp");
    const cpuSeconds = num(span, sc.ATTR_JOB_CPU_SECONDS);
    expect(num(span, sc.ATTR_CARBON_ENERGY_CPU_KWH)).toBeCloseTo(
      (cpuSeconds * 100) / LOGICAL_CORES / 3.6e6,
      15,
    );
  });
});

describe("enrichJobSpan with the rapl config (gateway path)", () => {
  const intensity: IntensityValue = {
    gramsPerKwh: 400,
    zone: "DE",
    source: "configured",
    method: "configured",
  };
  const base = { resource: {}, startMs: 0, endMs: 10_000, isError: false };

  it("uses job.cpu.joules from any SDK as measured energy", () => {
    const r = enrichJobSpan(
      {
        ...base,
        attributes: { [sc.ATTR_JOB_NAME]: "x", [sc.ATTR_JOB_CPU_SECONDS]: 5, [sc.ATTR_JOB_CPU_JOULES]: 360 },
      },
      { config: raplConfig, logicalCores: 4, intensity: () => intensity },
    );
    expect(r.attributes[sc.ATTR_CARBON_MODEL]).toBe("rapl");
    expect(r.attributes[sc.ATTR_CARBON_ENERGY_CPU_KWH]).toBeCloseTo(1e-4, 15);
  });

  it("falls back to tdp without job.cpu.joules; a tdp config ignores job.cpu.joules", () => {
    const r = enrichJobSpan(
      { ...base, attributes: { [sc.ATTR_JOB_NAME]: "x", [sc.ATTR_JOB_CPU_SECONDS]: 36 } },
      { config: raplConfig, logicalCores: 4, intensity: () => intensity },
    );
    expect(r.attributes[sc.ATTR_CARBON_MODEL]).toBe("tdp");
    expect(r.attributes[sc.ATTR_CARBON_ENERGY_CPU_KWH]).toBeCloseTo((36 * 100) / 4 / 3.6e6, 15);
    const tdp = enrichJobSpan(
      {
        ...base,
        attributes: { [sc.ATTR_JOB_NAME]: "x", [sc.ATTR_JOB_CPU_SECONDS]: 36, [sc.ATTR_JOB_CPU_JOULES]: 1 },
      },
      { config: parseConfig({ zone: "DE" }), logicalCores: 4, intensity: () => intensity },
    );
    expect(tdp.attributes[sc.ATTR_CARBON_MODEL]).toBe("tdp");
    expect(tdp.attributes[sc.ATTR_CARBON_ENERGY_CPU_KWH]).toBeCloseTo((36 * 85) / 4 / 3.6e6, 15);
  });
});
