import { type DiagLogger, DiagLogLevel, diag } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { JobMeter } from "../../src/job/meter.ts";

/** Burns `ms` of this process's CPU time (not wall time: the machine is shared). */
function burnCpu(ms: number): void {
  const start = processCpuSeconds();
  let x = 0;
  while (processCpuSeconds() - start < ms / 1000) for (let i = 0; i < 1000; i++) x += Math.sqrt(x + i);
  if (x < 0) throw new Error("unreachable");
}

function processCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

describe("JobMeter", () => {
  it("a job alone is exclusive and gets the whole process CPU of its window", () => {
    const meter = new JobMeter({ intervalMs: 50, cpuClock: "process" });
    const before = processCpuSeconds();
    const m = meter.start();
    burnCpu(200);
    const c = m.finish();
    const total = processCpuSeconds() - before;
    expect(c.shared).toBe(false);
    expect(c.cpuSeconds).toBeGreaterThan(0.1);
    expect(c.cpuSeconds).toBeLessThanOrEqual(total + 1e-6);
    expect(c.cpuSeconds / total).toBeGreaterThan(0.9);
    expect(c.memoryAvgBytes).toBeGreaterThan(1e6);
    expect(c.memoryPeakBytes).toBeGreaterThanOrEqual(c.memoryAvgBytes * 0.5);
    expect(meter.activeJobs).toBe(0);
  });

  it("overlapping jobs split each interval equally and their shares add up to the total", () => {
    const meter = new JobMeter({ intervalMs: 20, cpuClock: "process" });
    const before = processCpuSeconds();
    const a = meter.start();
    burnCpu(60); // a alone
    const b = meter.start();
    burnCpu(60); // a and b
    const ca = a.finish();
    burnCpu(60); // b alone
    const cb = b.finish();
    const total = processCpuSeconds() - before;
    expect(ca.shared).toBe(true);
    expect(cb.shared).toBe(true);
    expect(ca.cpuSeconds + cb.cpuSeconds).toBeCloseTo(total, 2);
    // a: all of the first third + half of the second; b: half of the second + all of the third.
    expect(ca.cpuSeconds / total).toBeGreaterThan(0.35);
    expect(ca.cpuSeconds / total).toBeLessThan(0.65);
  });

  it("a job that ran before another started and ended before it is exclusive", () => {
    const meter = new JobMeter({ cpuClock: "process" });
    const a = meter.start();
    expect(a.finish().shared).toBe(false);
    const b = meter.start();
    expect(b.finish().shared).toBe(false);
  });

  it("finish is idempotent", () => {
    const meter = new JobMeter();
    const m = meter.start();
    const first = m.finish();
    burnCpu(20);
    expect(m.finish()).toBe(first);
  });

  it("shares measured GPU energy among overlapping jobs and omits it without a GPU", () => {
    let joules = 0;
    const meter = new JobMeter({ gpu: { totalJoules: () => joules } });
    const a = meter.start();
    joules += 100; // a alone
    const b = meter.start();
    joules += 50; // shared
    const ca = a.finish();
    joules += 30; // b alone
    const cb = b.finish();
    expect(ca.gpuJoules).toBeCloseTo(125, 6);
    expect(cb.gpuJoules).toBeCloseTo(55, 6);
    const noGpu = new JobMeter().start().finish();
    expect(noGpu.gpuJoules).toBeUndefined();
  });

  it("with 1,000 concurrent jobs the per-job shares still add up", () => {
    const meter = new JobMeter({ intervalMs: 5, cpuClock: "process" });
    const before = processCpuSeconds();
    const jobs = Array.from({ length: 1000 }, () => meter.start());
    burnCpu(50);
    const counters = jobs.map((j) => j.finish());
    const total = processCpuSeconds() - before;
    const sum = counters.reduce((s, c) => s + c.cpuSeconds, 0);
    expect(Math.abs(sum - total) / total).toBeLessThan(0.05);
    expect(counters.every((c) => c.shared)).toBe(true);
  });

  it("peak memory sees a spike that happened while the job ran", async () => {
    const meter = new JobMeter({ intervalMs: 10, rssMaxAgeMs: 0, cpuClock: "process" });
    const m = meter.start();
    const before = process.memoryUsage.rss();
    const big = Buffer.alloc(96 * 1024 * 1024, 1);
    await new Promise((r) => setTimeout(r, 40));
    const c = m.finish();
    expect(big.length).toBeGreaterThan(0);
    expect(c.memoryPeakBytes).toBeGreaterThan(before + 64 * 1024 * 1024);
  });
});

describe("JobMeter: synchronous jobs", () => {
  it("a job that held the thread gets all the CPU of its window; the others get none of it", () => {
    const meter = new JobMeter({ intervalMs: 1000, cpuClock: "process" });
    const before = processCpuSeconds();
    const waiting = [meter.start(), meter.start()];
    const sync = meter.start();
    burnCpu(150);
    const cs = sync.finish({ synchronous: true });
    const afterSync = processCpuSeconds();
    const cw = waiting.map((w) => w.finish());
    const total = processCpuSeconds() - before;
    expect(cs.cpuSeconds).toBeGreaterThan(0.14);
    expect(cs.cpuSeconds).toBeLessThanOrEqual(afterSync - before + 1e-6);
    for (const w of cw) expect(w.cpuSeconds).toBeLessThan(0.01);
    expect(cs.cpuSeconds + cw[0]!.cpuSeconds + cw[1]!.cpuSeconds).toBeCloseTo(total, 3);
  });

  it("without the synchronous flag the same window is split equally", () => {
    const meter = new JobMeter({ intervalMs: 1000, cpuClock: "process" });
    const waiting = meter.start();
    const job = meter.start();
    burnCpu(100);
    const cj = job.finish();
    const cw = waiting.finish();
    expect(Math.abs(cj.cpuSeconds - cw.cpuSeconds)).toBeLessThan(0.01);
  });

  it("a synchronous job with a nested job falls back to the equal split", () => {
    const meter = new JobMeter({ intervalMs: 1000, cpuClock: "process" });
    const other = meter.start();
    const outer = meter.start();
    burnCpu(50);
    const inner = meter.start();
    burnCpu(50);
    const ci = inner.finish({ synchronous: true });
    const co = outer.finish({ synchronous: true });
    const cOther = other.finish();
    // inner took all of its window; outer and other split the rest equally.
    expect(ci.cpuSeconds).toBeGreaterThan(0.045);
    expect(Math.abs(co.cpuSeconds - cOther.cpuSeconds)).toBeLessThan(0.01);
  });
});

/** Busy-waits `ms` of wall time (the sampler's wall-time split is what is under test). */
function spinMs(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error("unreachable");
}

describe("JobMeter: attributed wall time", () => {
  it("a job alone is attributed its elapsed time", () => {
    const meter = new JobMeter({ intervalMs: 20, cpuClock: "process" });
    const m = meter.start();
    spinMs(50);
    const c = m.finish();
    expect(c.attributedSeconds).toBeCloseTo(c.elapsedSeconds, 9);
    expect(c.attributedSeconds).toBeGreaterThan(0.045);
  });

  it("overlapping jobs split each interval: A alone, then A + B, then B alone", () => {
    const meter = new JobMeter({ intervalMs: 20, cpuClock: "process" });
    const t0 = performance.now();
    const a = meter.start();
    spinMs(60);
    const t1 = performance.now();
    const b = meter.start();
    spinMs(60);
    const t2 = performance.now();
    const ca = a.finish();
    spinMs(60);
    const cb = b.finish();
    const t3 = performance.now();
    const ms = 1e-3;
    // A: all of [t0, t1] and half of [t1, t2]; B: half of [t1, t2] and all of [t2, t3] (±2 ms).
    expect(Math.abs(ca.attributedSeconds - (t1 - t0 + (t2 - t1) / 2) * ms)).toBeLessThan(0.002);
    expect(Math.abs(cb.attributedSeconds - ((t2 - t1) / 2 + (t3 - t2)) * ms)).toBeLessThan(0.002);
    // Together: the wall time during which a job ran, once.
    expect(Math.abs(ca.attributedSeconds + cb.attributedSeconds - (t3 - t0) * ms)).toBeLessThan(0.002);
    expect(ca.attributedSeconds).toBeLessThan(ca.elapsedSeconds);
  });

  it("four jobs over the same window are attributed a quarter of it each", () => {
    const meter = new JobMeter({ intervalMs: 10, cpuClock: "process" });
    const jobs = [meter.start(), meter.start(), meter.start(), meter.start()];
    spinMs(80);
    const counters = jobs.map((j) => j.finish());
    const sum = counters.reduce((s, c) => s + c.attributedSeconds, 0);
    const longest = Math.max(...counters.map((c) => c.elapsedSeconds));
    expect(Math.abs(sum - longest) / longest).toBeLessThan(0.05);
    for (const c of counters)
      expect(Math.abs(c.attributedSeconds - c.elapsedSeconds / 4)).toBeLessThan(0.002);
  });
});

describe("JobMeter: measured package energy (rapl) for short overlapping jobs", () => {
  it("four jobs in a window with 0 busy ticks share its package energy once, not 4×", () => {
    // Package power follows this process's CPU (100 J per CPU-second); /proc/stat does not move
    // (every job is shorter than a 10 ms tick), so the machine's busy time says nothing.
    const readings: number[] = [];
    const meter = new JobMeter({
      cpuClock: "process",
      cpuEnergy: {
        snapshot: () => {
          const packageJoules = 100 * processCpuSeconds();
          readings.push(packageJoules);
          return { packageJoules, busySeconds: 42 };
        },
      },
    });
    const jobs = [meter.start(), meter.start(), meter.start(), meter.start()];
    burnCpu(8);
    const counters = jobs.map((j) => j.finish());
    const windowJoules = Math.max(...readings) - Math.min(...readings);
    const joules = counters.map((c) => c.cpuJoules ?? Number.NaN);
    const sum = joules.reduce((s, j) => s + j, 0);
    // Each job used a quarter of the CPU: ≈ a quarter of the energy each, the window once in all
    // (the old rule, share 1 at 0 busy ticks, gave each job the whole window: ≈ 4×).
    // 10 % slack: the jobs finish one after another, so their windows (and the CPU read for each)
    // differ by the time finishing takes; the regression this guards against is 4×.
    expect(sum).toBeLessThanOrEqual(windowJoules * 1.1);
    expect(sum).toBeGreaterThan(windowJoules * 0.9);
    for (const j of joules) expect(Math.abs(j / windowJoules - 0.25)).toBeLessThan(0.05);
  });

  it("a job alone in such a window still gets all of it", () => {
    let packageJoules = 0;
    const meter = new JobMeter({
      cpuClock: "process",
      cpuEnergy: { snapshot: () => ({ packageJoules, busySeconds: 7 }) },
    });
    const m = meter.start();
    burnCpu(5);
    packageJoules += 3;
    expect(m.finish().cpuJoules).toBeCloseTo(3, 9);
  });
});

/** Collects diag warnings while fn runs. */
async function withDiagWarnings(fn: (warnings: string[]) => Promise<void> | void): Promise<void> {
  const warnings: string[] = [];
  const logger: DiagLogger = {
    error: () => {},
    warn: (message) => warnings.push(message),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  };
  diag.setLogger(logger, DiagLogLevel.WARN);
  try {
    await fn(warnings);
  } finally {
    diag.disable();
  }
}

const MB = 1024 * 1024;

describe("JobMeter: an RSS reader that throws (EMFILE when file descriptors run out)", () => {
  it("keeps the last reading, finishes jobs, and tick() does not throw", async () => {
    let failing = false;
    const readRssBytes = () => {
      if (failing) throw Object.assign(new Error("EMFILE: too many open files"), { code: "EMFILE" });
      return 100 * MB;
    };
    await withDiagWarnings(async (warnings) => {
      const meter = new JobMeter({ intervalMs: 10, rssMaxAgeMs: 0, cpuClock: "process", readRssBytes });
      const m = meter.start();
      failing = true;
      expect(() => meter.tick()).not.toThrow();
      // The timer's own ticks: an exception there would be an uncaught error failing this file.
      await new Promise((r) => setTimeout(r, 50));
      const c = m.finish();
      expect(c.memoryPeakBytes).toBe(100 * MB);
      expect(Math.abs(c.memoryAvgBytes - 100 * MB)).toBeLessThan(1);
      // A job started while the reader fails still runs and is measured from the last reading.
      const during = meter.start();
      expect(during.finish().memoryPeakBytes).toBe(100 * MB);
      expect(meter.activeJobs).toBe(0);
      expect(warnings.filter((w) => w.includes("RSS"))).toHaveLength(1);
    });
  });

  it("a source that throws while a job runs does not leave the job active", () => {
    let broken = false;
    const meter = new JobMeter({
      cpuClock: "process",
      gpu: {
        totalJoules: () => {
          if (broken) throw new Error("gpu gone");
          return 0;
        },
      },
    });
    const m = meter.start();
    broken = true;
    expect(() => meter.tick()).not.toThrow();
    expect(() => m.finish()).toThrow("gpu gone");
    expect(meter.activeJobs).toBe(0);
  });
});

describe("JobMeter: maxJobSeconds", () => {
  it("a job never finished is finished by the sampler at that age and stops diluting later jobs", async () => {
    await withDiagWarnings(async (warnings) => {
      // A long interval: the timer never fires here, tick() is called by hand (deterministic).
      const meter = new JobMeter({ intervalMs: 1e6, cpuClock: "process", maxJobSeconds: 0.05 });
      const leaked = [meter.start(), meter.start()];
      meter.tick(); // younger than 50 ms: kept
      expect(meter.activeJobs).toBe(2);
      await new Promise((r) => setTimeout(r, 80));
      meter.tick();
      expect(meter.activeJobs).toBe(0);
      expect(warnings.filter((w) => w.includes("maxJobSeconds"))).toHaveLength(1);
      // Their counters stop at the expiry; a later finish() (span.end()) returns them.
      const cl = leaked[0]!.finish();
      expect(cl.elapsedSeconds).toBeGreaterThan(0.05);
      expect(cl.elapsedSeconds).toBeLessThan(1);

      const before = processCpuSeconds();
      const later = meter.start();
      burnCpu(200);
      const c = later.finish();
      const total = processCpuSeconds() - before;
      expect(c.shared).toBe(false);
      expect(c.cpuSeconds / total).toBeGreaterThan(0.85);
      expect(c.cpuSeconds / total).toBeLessThan(1.15);
    });
  });

  it("the periodic timer expires them too", async () => {
    const meter = new JobMeter({ intervalMs: 10, cpuClock: "process", maxJobSeconds: 0.03 });
    meter.start();
    for (let i = 0; i < 100 && meter.activeJobs > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(meter.activeJobs).toBe(0);
  });

  it("a job younger than the limit is untouched", () => {
    const meter = new JobMeter({ intervalMs: 1e6, cpuClock: "process", maxJobSeconds: 60 });
    const m = meter.start();
    burnCpu(20);
    meter.tick();
    expect(meter.activeJobs).toBe(1);
    expect(m.finish().cpuSeconds).toBeGreaterThan(0.015);
  });
});
