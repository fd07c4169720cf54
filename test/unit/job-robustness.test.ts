/**
 * The job API never fails the user's work for a measurement problem: a failing RSS reader (EMFILE
 * when file descriptors run out), a failing energy source, or a thrown value that cannot be turned
 * into a string. The user's value or own error comes back, the span is ended and exported, and the
 * meter does not keep the job active.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { StaticIntensityProvider } from "../../src/intensity/static.ts";
import { startJob, withJob } from "../../src/job/job.ts";
import { JobMeter, type JobMeterOptions } from "../../src/job/meter.ts";
import { youngSpanCount } from "../../src/job/spans.ts";
import { CarbonSpanProcessor } from "../../src/processor/carbon-span-processor.ts";
import * as sc from "../../src/semconv.ts";

const config = parseConfig({ zone: "DE" });
const providers: TracerProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.shutdown()));
});

function setup(meterOptions: JobMeterOptions, withProcessor = true) {
  const meter = new JobMeter({ cpuClock: "process", ...meterOptions });
  const exporter = new InMemorySpanExporter();
  const spanProcessors = [new SimpleSpanProcessor({ exporter })];
  const tracerProvider = new TracerProvider({
    spanProcessors: withProcessor
      ? [
          new CarbonSpanProcessor({ config, provider: new StaticIntensityProvider(), meter }),
          ...spanProcessors,
        ]
      : spanProcessors,
  });
  providers.push(tracerProvider);
  return { meter, exporter, tracer: tracerProvider.getTracer("test") };
}

const emfile = () => {
  throw Object.assign(new Error("EMFILE: too many open files, uv_resident_set_memory"), { code: "EMFILE" });
};

describe("withJob / startJob when the RSS reader throws (EMFILE)", () => {
  it("withJob returns the user's value and the span is exported, measured and enriched", async () => {
    const { meter, exporter, tracer } = setup({ readRssBytes: emfile, intervalMs: 10 });
    expect(withJob("sync", () => 41, { tracer, meter })).toBe(41);
    const value = await withJob(
      "async",
      async () => {
        await new Promise((r) => setTimeout(r, 40)); // the sampler's timer ticks meanwhile
        return 42;
      },
      { tracer, meter },
    );
    expect(value).toBe(42);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(["async", "sync"]);
    for (const s of spans) {
      expect(typeof s.attributes[sc.ATTR_JOB_CPU_SECONDS]).toBe("number");
      expect(typeof s.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBe("number");
    }
    expect(meter.activeJobs).toBe(0);
  });

  it("startJob().end() after the reader started failing mid-job does not throw", async () => {
    let failing = false;
    const { meter, exporter, tracer } = setup({
      intervalMs: 10,
      readRssBytes: () => (failing ? emfile() : 50e6),
    });
    const job = startJob("long", { tracer, meter });
    failing = true;
    await new Promise((r) => setTimeout(r, 30));
    expect(() => job.end()).not.toThrow();
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(exporter.getFinishedSpans()[0]!.attributes[sc.ATTR_JOB_MEMORY_PEAK_BYTES]).toBe(50e6);
    expect(meter.activeJobs).toBe(0);
  });
});

describe("withJob / startJob when the meter itself throws at start and end", () => {
  // A GPU source that throws makes meter.start() and finish() throw: the job API must absorb it.
  const brokenGpu = {
    totalJoules: (): number => {
      throw new Error("gpu source failed");
    },
  };

  for (const withProcessor of [false, true]) {
    const label = withProcessor ? "with the carbon processor" : "job API alone";
    it(`${label}: the job runs, returns its value, and its span is exported`, async () => {
      const { meter, exporter, tracer } = setup({ gpu: brokenGpu }, withProcessor);
      expect(withJob("sync", () => "v", { tracer, meter })).toBe("v");
      await expect(withJob("async", async () => "w", { tracer, meter })).resolves.toBe("w");
      const job = startJob("handle", { tracer, meter });
      expect(() => job.end()).not.toThrow();
      expect(
        exporter
          .getFinishedSpans()
          .map((s) => s.name)
          .sort(),
      ).toEqual(["async", "handle", "sync"]);
      expect(meter.activeJobs).toBe(0);
    });
  }

  it("a meter that fails only at the end still ends and exports the span", () => {
    let broken = false;
    const { meter, exporter, tracer } = setup({
      gpu: {
        totalJoules: () => {
          if (broken) throw new Error("gpu source failed");
          return 0;
        },
      },
    });
    const value = withJob(
      "j",
      () => {
        broken = true;
        return 7;
      },
      { tracer, meter },
    );
    expect(value).toBe(7);
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(meter.activeJobs).toBe(0);
  });
});

describe("thrown values that cannot be stringified", () => {
  it("withJob(async () => { throw Object.create(null) }) rejects with the user's own object", async () => {
    const { meter, exporter, tracer } = setup({});
    const mine = Object.assign(Object.create(null) as object, { code: "E_MINE" });
    const rejected = await withJob(
      "async-null-proto",
      async () => {
        throw mine;
      },
      { tracer, meter },
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(rejected).toBe(mine);
    let thrown: unknown;
    try {
      withJob(
        "sync-null-proto",
        () => {
          throw mine;
        },
        { tracer, meter },
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBe(mine);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(["async-null-proto", "sync-null-proto"]);
    for (const s of spans) {
      expect(s.status.code).toBe(SpanStatusCode.ERROR);
      expect(s.status.message).toBe("[object Object]");
      expect(typeof s.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBe("number");
    }
    expect(meter.activeJobs).toBe(0);
  });

  it("an Error whose message getter throws is still rethrown unchanged", () => {
    const { exporter, tracer, meter } = setup({});
    const hostile = new Error("x");
    Object.defineProperty(hostile, "message", {
      get() {
        throw new Error("no message for you");
      },
    });
    let thrown: unknown;
    try {
      withJob(
        "hostile",
        () => {
          throw hostile;
        },
        { tracer, meter },
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBe(hostile);
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(exporter.getFinishedSpans()[0]!.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe("a job span garbage-collected without end()", () => {
  it("its measurement is finished, so it stops counting as active", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const { meter, tracer } = setup({ intervalMs: 1e6 });
    // In a function scope, so nothing here keeps the handles (and their spans) alive.
    (() => {
      for (let i = 0; i < 3; i++) startJob("forgotten", { tracer, meter });
    })();
    expect(meter.activeJobs).toBe(3);
    // Spans are held for up to a second before they are watched (src/job/spans.ts, "young").
    for (let i = 0; i < 300 && meter.activeJobs > 0; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(meter.activeJobs).toBe(0);
  });
});

describe("a finished job's span", () => {
  it("is not kept alive by the young-span list: its slot is emptied at the end, and it can be collected", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const meter = new JobMeter({ cpuClock: "process", intervalMs: 1e6 });
    // No exporter: nothing but our own bookkeeping could hold the spans.
    const tracerProvider = new TracerProvider({
      spanProcessors: [new CarbonSpanProcessor({ config, provider: new StaticIntensityProvider(), meter })],
    });
    providers.push(tracerProvider);
    const tracer = tracerProvider.getTracer("test");
    const refs: WeakRef<object>[] = [];
    const before = youngSpanCount();
    (() => {
      const open = startJob("open", { tracer, meter });
      refs.push(new WeakRef(open.span));
      // While one job runs, others start and end: their slots are emptied and reused.
      for (let i = 0; i < 3; i++)
        withJob("short", (span) => void refs.push(new WeakRef(span)), { tracer, meter });
      expect(youngSpanCount()).toBe(before + 1);
      open.end();
      expect(youngSpanCount()).toBe(before);
    })();
    // deref() keeps its target alive until the current task ends: collect in a task of its own.
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 10));
      gc();
      await new Promise((r) => setTimeout(r, 0));
      if (refs.every((r) => r.deref() === undefined)) break;
    }
    expect(refs.map((r) => r.deref() !== undefined)).toEqual([false, false, false, false]);
  });
});
