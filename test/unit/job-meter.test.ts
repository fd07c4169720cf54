/**
 * JobMeter with injected clocks: the wall clock and the CPU clock only move when a test says so, so
 * every figure is exact and nothing burns CPU. The async_hooks callbacks are real: a job's
 * continuations run in its async context and read the same fake clock.
 */
import { type DiagLogger, DiagLogLevel, diag } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { JobMeter, type JobMeterOptions } from "../../src/job/meter.ts";

/** A fake machine: `work(ms)` runs on-thread code (wall and CPU move together); `background` only CPU. */
function fakeMachine() {
  const t = { now: 1000, cpuMicros: 5_000_000 };
  return {
    t,
    clocks: { nowMs: () => t.now, cpuMicros: () => t.cpuMicros, processCpuMicros: () => t.cpuMicros },
    work(ms: number): void {
      t.now += ms;
      t.cpuMicros += ms * 1000;
    },
    /** CPU that no callback ran (GC, libuv pool threads). */
    background(ms: number): void {
      t.cpuMicros += ms * 1000;
    },
    /** Wall time with nothing running (the loop waiting). */
    idle(ms: number): void {
      t.now += ms;
    },
    cpuSeconds: () => t.cpuMicros / 1e6,
  };
}

const meters: JobMeter[] = [];
afterEach(() => {
  // A tick with no job active switches the hooks and the timer off.
  for (const m of meters.splice(0)) m.tick();
});

function meterOn(machine: ReturnType<typeof fakeMachine>, options: JobMeterOptions = {}): JobMeter {
  const meter = new JobMeter({
    intervalMs: 1e6, // the timer never fires here: tick() is called by hand
    cpuClock: "process",
    readRssBytes: () => 100 * MB,
    clocks: machine.clocks,
    ...options,
  });
  meters.push(meter);
  return meter;
}

const MB = 1024 * 1024;
const yieldOnce = () => new Promise<void>((r) => setImmediate(r));
const near = (a: number, b: number, eps = 1e-9) => expect(Math.abs(a - b)).toBeLessThan(eps);

describe("JobMeter, event-loop mode", () => {
  it("a job alone that runs synchronously gets exactly its on-thread CPU and is exclusive", () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const m = meter.start();
    m.run(() => machine.work(12));
    const c = m.finish();
    near(c.cpuSeconds, 0.012);
    expect(c.attribution).toBe("exclusive");
    expect(c.shared).toBe(false);
    expect(meter.activeJobs).toBe(0);
  });

  it("three overlapping async jobs: shares follow the work each did, the idle one gets 0", async () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const cpu0 = machine.cpuSeconds();
    const heavy = meter.start();
    const light = meter.start();
    const idle = meter.start();
    const jobs = [
      heavy.run(async () => {
        for (let i = 0; i < 10; i++) {
          machine.work(5);
          await yieldOnce();
        }
      }),
      light.run(async () => {
        for (let i = 0; i < 10; i++) {
          machine.work(1);
          await yieldOnce();
        }
      }),
      idle.run(async () => {
        for (let i = 0; i < 10; i++) await yieldOnce();
      }),
    ];
    machine.work(4); // outside every job: unattributed
    await Promise.all(jobs);
    const [ch, cl, ci] = [heavy.finish(), light.finish(), idle.finish()];
    near(ch.cpuSeconds, 0.05);
    near(cl.cpuSeconds, 0.01);
    near(ci.cpuSeconds, 0);
    for (const c of [ch, cl, ci]) expect(c.attribution).toBe("event-loop");
    // Jobs + unattributed = the CPU clock since the first job started.
    const total = machine.cpuSeconds() - cpu0;
    near(ch.cpuSeconds + cl.cpuSeconds + ci.cpuSeconds + meter.unattributedCpuSeconds(), total);
    near(meter.unattributedCpuSeconds(), 0.004);
  });

  it("CPU no callback ran (GC, pool threads) is spread in proportion to on-thread time", async () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const cpu0 = machine.cpuSeconds();
    const a = meter.start();
    const b = meter.start();
    const pa = a.run(async () => {
      machine.work(30);
      await yieldOnce();
    });
    const pb = b.run(async () => {
      machine.work(10);
      await yieldOnce();
    });
    machine.background(40); // doubles the CPU of the interval
    await Promise.all([pa, pb]);
    const ca = a.finish();
    const cb = b.finish();
    near(ca.cpuSeconds, 0.06);
    // b's window closed later: the a-finish sample took the 40 ms, b's interval after is empty.
    near(cb.cpuSeconds, 0.02);
    near(ca.cpuSeconds + cb.cpuSeconds + meter.unattributedCpuSeconds(), machine.cpuSeconds() - cpu0);
  });

  it("a job awaiting a timer is charged for its callbacks only", async () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const other = meter.start();
    other.run(() => {});
    const m = meter.start();
    await m.run(async () => {
      machine.work(2);
      await new Promise<void>((r) =>
        setTimeout(() => {
          r();
        }, 1),
      );
      machine.work(2);
    });
    const c = m.finish();
    other.finish();
    near(c.cpuSeconds, 0.004);
  });

  it("nested jobs: the innermost job is charged, the outer keeps its own work", async () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const outer = meter.start();
    let inner: ReturnType<JobMeter["start"]> | undefined;
    await outer.run(async () => {
      machine.work(3);
      inner = meter.start();
      await inner.run(async () => {
        machine.work(7);
        await yieldOnce();
        machine.work(7);
      });
      inner.finish();
      machine.work(3);
      await yieldOnce();
      machine.work(1);
    });
    const co = outer.finish();
    const ci = inner!.finish();
    near(ci.cpuSeconds, 0.014);
    near(co.cpuSeconds, 0.007);
  });

  it("a job started in one context and finished from another keeps its own work only", async () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const a = meter.start();
    const b = meter.start();
    await a.run(async () => {
      machine.work(4);
      await yieldOnce();
    });
    // b finishes a from inside b's own callbacks: the finishing code is b's, not a's.
    await b.run(async () => {
      await yieldOnce();
      machine.work(6);
      a.finish();
      machine.work(2);
    });
    const ca = a.finish();
    const cb = b.finish();
    near(ca.cpuSeconds, 0.004);
    near(cb.cpuSeconds, 0.008);
  });

  it("callbacks a finished job left behind are unattributed", async () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const other = meter.start();
    other.run(() => {});
    const m = meter.start();
    let later: Promise<void> | undefined;
    m.run(() => {
      machine.work(1);
      later = yieldOnce().then(() => machine.work(9));
    });
    const c = m.finish();
    await later;
    other.finish();
    near(c.cpuSeconds, 0.001);
    // other ended < minCpuReadMs after the last reading (charged at the estimate): the sampler's
    // next tick closes the interval that holds the 9 ms.
    meter.tick();
    near(meter.unattributedCpuSeconds(), 0.009);
  });

  it("a job never entered (a span started by other code) shares the unattributed CPU equally", () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const cpu0 = machine.cpuSeconds();
    const entered = meter.start();
    const f1 = meter.start();
    const f2 = meter.start();
    entered.run(() => machine.work(5));
    machine.work(8); // unattributed (inside the test's callback, outside every job)
    const cf1 = f1.finish();
    const cf2 = f2.finish();
    const ce = entered.finish();
    near(ce.cpuSeconds, 0.005);
    near(cf1.cpuSeconds, 0.004);
    near(cf2.cpuSeconds, 0.004);
    expect(cf1.attribution).toBe("equal");
    expect(ce.attribution).toBe("event-loop");
    near(
      ce.cpuSeconds + cf1.cpuSeconds + cf2.cpuSeconds + meter.unattributedCpuSeconds(),
      machine.cpuSeconds() - cpu0,
    );
  });

  it("on-thread time of earlier intervals is settled at the ratio of its own interval", async () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const a = meter.start();
    const b = meter.start();
    a.run(() => machine.work(10)); // interval 1: a 10 ms on-thread
    machine.background(10); // ratio 2 in interval 1
    meter.start().finish(); // closes interval 1 (a sample)
    a.run(() => machine.work(10)); // interval 2: ratio 1
    meter.tick(); // settles every running job and forgets the ratios
    a.run(() => machine.work(5));
    const ca = a.finish();
    b.finish();
    near(ca.cpuSeconds, 0.02 + 0.01 + 0.005);
  });

  it("10,000 concurrent jobs with random work keep the totals reconciled and each share exact", async () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const cpu0 = machine.cpuSeconds();
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const truth: number[] = [];
    const jobs = Array.from({ length: 10_000 }, (_, i) => {
      const m = meter.start();
      truth[i] = 0;
      const p = m.run(async () => {
        for (let k = 0; k < 3; k++) {
          const ms = Math.round(random() * 100) / 100;
          machine.work(ms);
          truth[i]! += ms;
          await yieldOnce();
        }
      });
      return { m, p };
    });
    machine.work(50);
    meter.tick();
    const counters = [];
    for (const { m, p } of jobs) {
      await p;
      counters.push(m.finish());
    }
    const sum = counters.reduce((s, c) => s + c.cpuSeconds, 0);
    near(sum + meter.unattributedCpuSeconds(), machine.cpuSeconds() - cpu0, 1e-6);
    for (const [i, c] of counters.entries()) near(c.cpuSeconds, truth[i]! / 1000, 1e-9);
  });

  it("a job ending < minCpuReadMs after the last CPU reading is charged at the last ratio; totals still add up", () => {
    const machine = fakeMachine();
    const meter = meterOn(machine, { minCpuReadMs: 1 });
    const cpu0 = machine.cpuSeconds();
    const long = meter.start();
    long.run(() => machine.work(2));
    const first = meter.start();
    first.run(() => machine.work(4));
    machine.background(4); // ratio 1.5 for this interval (12 ms CPU over 8 ms on-thread... )
    near(first.finish().cpuSeconds, 0.004 * (10 / 6)); // a real read: 10 ms CPU over 6 ms
    const quick = meter.start();
    quick.run(() => (machine.t.now += 0.1)); // 0.1 ms on-thread, no CPU moved yet: no read
    machine.t.cpuMicros += 100;
    near(quick.finish().cpuSeconds, 0.0001 * (10 / 6)); // estimated at the last ratio
    long.run(() => machine.work(3));
    const cl = long.finish(); // 1.1 ms after the read: a real read
    near(
      first.finish().cpuSeconds + quick.finish().cpuSeconds + cl.cpuSeconds + meter.unattributedCpuSeconds(),
      machine.cpuSeconds() - cpu0,
    );
  });

  it("a never-entered job ending < minCpuReadMs after a reading gets its estimated equal share; totals add up", () => {
    const machine = fakeMachine();
    const meter = meterOn(machine, { minCpuReadMs: 1 });
    const cpu0 = machine.cpuSeconds();
    const warm = meter.start();
    warm.run(() => machine.work(2));
    warm.finish(); // a real read: ratio 1 from now on
    const foreign = meter.start(); // never entered: a span started by other code
    machine.t.now += 0.2; // unattributed on-thread time, in the test's own callback
    machine.t.cpuMicros += 200;
    const c = foreign.finish(); // 0.2 ms after the read: estimated
    expect(c.attribution).toBe("exclusive");
    near(c.cpuSeconds, 0.0002);
    machine.work(3);
    meter.tick();
    meter.tick();
    near(
      warm.finish().cpuSeconds + c.cpuSeconds + meter.unattributedCpuSeconds(),
      machine.cpuSeconds() - cpu0,
    );
  });

  it("hooks are on only while jobs run: switched off by the first tick with no job active", () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    expect(meter.hooksEnabled).toBe(false);
    const m = meter.start();
    expect(meter.hooksEnabled).toBe(true);
    m.finish();
    expect(meter.hooksEnabled).toBe(true); // back-to-back jobs do not pay enable + disable
    meter.tick();
    expect(meter.hooksEnabled).toBe(false);
  });

  it("between jobs the hooks read no clock; the pause's busy time (wall less loop idle) is no job's", async () => {
    const machine = fakeMachine();
    let loopIdle = 0;
    let reads = 0;
    const clocks = {
      ...machine.clocks,
      nowMs: () => {
        reads++;
        return machine.t.now;
      },
      loopIdleMs: () => loopIdle,
    };
    // A start < 28 ms after the last CPU reading reads none; B's finish (30 ms after) reads one.
    const meter = meterOn(machine, { clocks, minCpuReadMs: 28 });
    const cpu0 = machine.cpuSeconds();
    const a = meter.start();
    a.run(() => machine.work(10));
    near(a.finish().cpuSeconds, 0.01);
    // The pause: callbacks of no job (6 ms of work), then 20 ms of the loop waiting.
    const before = reads;
    await yieldOnce();
    machine.work(6);
    await new Promise<void>((r) => setTimeout(r, 1));
    machine.idle(20);
    loopIdle += 20;
    expect(reads - before).toBe(0);
    const b = meter.start();
    b.run(() => machine.work(4));
    const cb = b.finish();
    // B's interval: 10 ms of CPU over 6 ms of the pause's busy time and B's 4 ms. Without the
    // pause, B would get all 10; with the idle 20 ms counted as busy, 10 × 4 / 30.
    near(cb.cpuSeconds, 0.004);
    near(a.finish().cpuSeconds + cb.cpuSeconds + meter.unattributedCpuSeconds(), machine.cpuSeconds() - cpu0);
    near(meter.unattributedCpuSeconds(), 0.006);
  });

  it("CPU while no job runs is unattributed, and the counter stays monotonic", () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const m = meter.start();
    m.run(() => machine.work(3));
    m.finish();
    machine.work(20);
    // While the hooks are on, the open interval counts when it closes: at the next tick here.
    near(meter.unattributedCpuSeconds(), 0);
    meter.tick();
    near(meter.unattributedCpuSeconds(), 0.02);
    machine.background(5); // hooks off: read live
    near(meter.unattributedCpuSeconds(), 0.025);
    const next = meter.start();
    near(meter.unattributedCpuSeconds(), 0.025);
    next.finish();
  });
});

describe("JobMeter, equal mode (sampler.attribution: equal)", () => {
  it("overlapping jobs split each interval equally; A alone, then A + B, then B alone", () => {
    const machine = fakeMachine();
    const meter = meterOn(machine, { attribution: "equal" });
    expect(meter.attribution).toBe("equal");
    const a = meter.start();
    machine.work(60);
    const b = meter.start();
    machine.work(60);
    const ca = a.finish();
    machine.work(60);
    const cb = b.finish();
    near(ca.cpuSeconds, 0.09);
    near(cb.cpuSeconds, 0.09);
    expect(ca.attribution).toBe("equal");
    expect(meter.hooksEnabled).toBe(false);
  });

  it("a job that held the thread gets all the CPU of its window; the others none of it", () => {
    const machine = fakeMachine();
    const meter = meterOn(machine, { attribution: "equal" });
    const waiting = [meter.start(), meter.start()];
    const sync = meter.start();
    machine.work(150);
    const cs = sync.finish({ synchronous: true });
    const cw = waiting.map((w) => w.finish());
    near(cs.cpuSeconds, 0.15);
    for (const w of cw) near(w.cpuSeconds, 0);
  });

  it("without the synchronous flag the same window is split equally", () => {
    const machine = fakeMachine();
    const meter = meterOn(machine, { attribution: "equal" });
    const waiting = meter.start();
    const job = meter.start();
    machine.work(100);
    near(job.finish().cpuSeconds, 0.05);
    near(waiting.finish().cpuSeconds, 0.05);
  });

  it("the mode changes only while no job runs", () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const m = meter.start();
    meter.setAttribution("equal");
    expect(meter.attribution).toBe("event-loop");
    m.finish();
    meter.setAttribution("equal");
    expect(meter.attribution).toBe("equal");
  });
});

describe("JobMeter: memory, GPU and wall time (split equally in both modes)", () => {
  it("wall time: A alone, then A + B, then B alone", () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const a = meter.start();
    machine.idle(60);
    const b = meter.start();
    machine.idle(60);
    const ca = a.finish();
    machine.idle(60);
    const cb = b.finish();
    near(ca.attributedSeconds, 0.09);
    near(cb.attributedSeconds, 0.09);
    near(ca.elapsedSeconds, 0.12);
  });

  it("shares measured GPU energy among overlapping jobs and omits it without a GPU", () => {
    let joules = 0;
    const machine = fakeMachine();
    const meter = meterOn(machine, { gpu: { totalJoules: () => joules } });
    const a = meter.start();
    joules += 100;
    const b = meter.start();
    joules += 50;
    const ca = a.finish();
    joules += 30;
    const cb = b.finish();
    near(ca.gpuJoules!, 125);
    near(cb.gpuJoules!, 55);
    expect(meterOn(machine).start().finish().gpuJoules).toBeUndefined();
  });

  it("memory: the sampler's reading is used at start and end, a fresh one at each tick", () => {
    const machine = fakeMachine();
    let rss = 100 * MB;
    let reads = 0;
    const meter = meterOn(machine, {
      intervalMs: 1000,
      readRssBytes: () => {
        reads++;
        return rss;
      },
    });
    const jobs = [meter.start(), meter.start(), meter.start()];
    expect(reads).toBe(1); // the first start after a pause reads once; the others reuse it
    rss = 300 * MB;
    machine.idle(100);
    meter.tick(); // reads 300 MB
    expect(reads).toBe(2);
    machine.idle(100);
    const counters = jobs.map((j) => j.finish());
    expect(reads).toBe(2);
    // Trapezoid 100 → 300 MB over 100 ms, then 300 MB for 100 ms: 250 MB on average, per job ÷ 3.
    for (const c of counters) {
      near(c.memoryAvgBytes, (250 * MB) / 3, 1);
      expect(c.memoryPeakBytes).toBe(300 * MB);
    }
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

describe("JobMeter: an RSS reader that throws (EMFILE when file descriptors run out)", () => {
  it("keeps the last reading, finishes jobs, and tick() does not throw", async () => {
    let failing = false;
    const readRssBytes = () => {
      if (failing) throw Object.assign(new Error("EMFILE: too many open files"), { code: "EMFILE" });
      return 100 * MB;
    };
    await withDiagWarnings(async (warnings) => {
      const meter = new JobMeter({ intervalMs: 10, rssMaxAgeMs: 0, cpuClock: "process", readRssBytes });
      meters.push(meter);
      const m = meter.start();
      failing = true;
      expect(() => meter.tick()).not.toThrow();
      // The timer's own ticks: an exception there would be an uncaught error failing this file.
      await new Promise((r) => setTimeout(r, 50));
      const c = m.finish();
      expect(c.memoryPeakBytes).toBe(100 * MB);
      expect(Math.abs(c.memoryAvgBytes - 100 * MB)).toBeLessThan(1);
      const during = meter.start();
      expect(during.finish().memoryPeakBytes).toBe(100 * MB);
      expect(meter.activeJobs).toBe(0);
      expect(warnings.filter((w) => w.includes("RSS"))).toHaveLength(1);
    });
  });

  it("a source that throws while a job runs does not leave the job active", () => {
    let broken = false;
    const machine = fakeMachine();
    const meter = meterOn(machine, {
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
    await withDiagWarnings((warnings) => {
      const machine = fakeMachine();
      const meter = meterOn(machine, { maxJobSeconds: 0.05 });
      const leaked = [meter.start(), meter.start()];
      machine.idle(10);
      meter.tick(); // younger than 50 ms: kept
      expect(meter.activeJobs).toBe(2);
      machine.idle(70);
      meter.tick();
      expect(meter.activeJobs).toBe(0);
      expect(warnings.filter((w) => w.includes("maxJobSeconds"))).toHaveLength(1);
      // Their counters stop at the expiry; a later finish() (span.end()) returns them.
      machine.idle(1000);
      near(leaked[0]!.finish().elapsedSeconds, 0.08);
      const later = meter.start();
      later.run(() => machine.work(200));
      const c = later.finish();
      expect(c.attribution).toBe("exclusive");
      near(c.cpuSeconds, 0.2);
    });
  });

  it("the periodic timer expires them too", async () => {
    const meter = new JobMeter({ intervalMs: 10, cpuClock: "process", maxJobSeconds: 0.03 });
    meters.push(meter);
    meter.start();
    for (let i = 0; i < 100 && meter.activeJobs > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(meter.activeJobs).toBe(0);
  });

  it("finish is idempotent", () => {
    const machine = fakeMachine();
    const meter = meterOn(machine);
    const m = meter.start();
    const first = m.finish();
    machine.work(20);
    expect(m.finish()).toBe(first);
  });
});

describe("JobMeter: measured package energy (rapl) for short overlapping jobs", () => {
  it("four jobs in a window with 0 busy ticks share its package energy once, not 4×", () => {
    // Package power follows this process's CPU (100 J per CPU-second); /proc/stat does not move.
    const machine = fakeMachine();
    const meter = meterOn(machine, {
      attribution: "equal",
      cpuEnergy: { snapshot: () => ({ packageJoules: 100 * machine.cpuSeconds(), busySeconds: 42 }) },
    });
    const jobs = [meter.start(), meter.start(), meter.start(), meter.start()];
    machine.work(8);
    const joules = jobs.map((j) => j.finish().cpuJoules ?? Number.NaN);
    // Each job used a quarter of the CPU: a quarter of the 0.8 J each, the window once in all.
    for (const j of joules) near(j, 0.2, 1e-6);
  });

  it("a job alone in such a window still gets all of it", () => {
    let packageJoules = 0;
    const machine = fakeMachine();
    const meter = meterOn(machine, { cpuEnergy: { snapshot: () => ({ packageJoules, busySeconds: 7 }) } });
    const m = meter.start();
    m.run(() => machine.work(5));
    packageJoules += 3;
    near(m.finish().cpuJoules!, 3);
  });
});
