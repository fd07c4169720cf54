/**
 * Event-loop mode: a job whose on-thread time all fell before another job's CPU reading, ending
 * less than minCpuReadMs after that reading, is settled at the closed interval's ratio without a
 * clock read of its own (the common case of concurrent requests), and the totals still add up.
 */
import { afterEach, describe, expect, it } from "vitest";
import { JobMeter } from "../../src/job/meter.ts";

const meters: JobMeter[] = [];
afterEach(() => {
  for (const m of meters.splice(0)) m.tick();
});

function machine() {
  const t = { now: 1000, cpuMicros: 5_000_000, reads: 0 };
  const meter = new JobMeter({
    intervalMs: 1e6,
    cpuClock: "process",
    attribution: "event-loop",
    minCpuReadMs: 1,
    readRssBytes: () => 100 * 1024 * 1024,
    clocks: {
      nowMs: () => t.now,
      cpuMicros: () => {
        t.reads++;
        return t.cpuMicros;
      },
      processCpuMicros: () => t.cpuMicros,
    },
  });
  meters.push(meter);
  const work = (ms: number) => {
    t.now += ms;
    t.cpuMicros += ms * 1000;
  };
  return { t, meter, work };
}

const near = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-9);

describe("JobMeter estimate after a reading", () => {
  it("charges a job that ran only before the last reading without reading the clock again", () => {
    const { t, meter, work } = machine();
    const cpu0 = t.cpuMicros;
    const a = meter.start();
    a.run(() => work(2));
    const b = meter.start();
    b.run(() => work(4));
    t.cpuMicros += 4000; // CPU no callback ran: ratio 10 ms CPU / 6 ms on-thread
    const cb = b.finish(); // a real reading closes the interval
    near(cb.cpuSeconds, 0.004 * (10 / 6));
    const reads = t.reads;
    t.now += 0.3; // a ends 0.3 ms later, having run nothing since
    const ca = a.finish();
    expect(t.reads).toBe(reads);
    near(ca.cpuSeconds, 0.002 * (10 / 6));
    expect(ca.attribution).toBe("event-loop");
    meter.tick();
    meter.tick();
    near(ca.cpuSeconds + cb.cpuSeconds + meter.unattributedCpuSeconds(), (t.cpuMicros - cpu0) / 1e6);
  });

  it("reads the clock when the last reading is older than minCpuReadMs", () => {
    const { t, meter, work } = machine();
    const a = meter.start();
    a.run(() => work(2));
    const b = meter.start();
    b.run(() => work(4));
    b.finish();
    const reads = t.reads;
    t.now += 1.5;
    a.finish();
    expect(t.reads).toBe(reads + 1);
  });
});
