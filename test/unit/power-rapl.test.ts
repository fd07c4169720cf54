import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  attributeBetween,
  attributeCpuJoules,
  cpuShare,
  createMachineCpuEnergy,
} from "../../src/power/attribution.ts";
import { parseProcStatCpu, readProcStatCpu } from "../../src/power/procstat.ts";
import { counterDeltaUj, createRaplReader, WrappingCounter } from "../../src/power/rapl.ts";
import { type FakeMachine, fakeMachine, statWithBusy } from "../helpers/fake-powercap.ts";

const MAX = 262_143_328_850; // a real max_energy_range_uj (Intel client parts)

let machine: FakeMachine | undefined;
afterEach(() => {
  machine?.remove();
  machine = undefined;
});

describe("RAPL counter arithmetic", () => {
  it("counts forward, and across one wrap-around", () => {
    expect(counterDeltaUj(1_000, 5_000, MAX)).toBe(4_000);
    expect(counterDeltaUj(MAX - 1_000, 2_000, MAX)).toBe(3_000);
    expect(counterDeltaUj(7, 7, MAX)).toBe(0);
  });

  it("a running total stays cumulative through a wrap", () => {
    const c = new WrappingCounter(MAX - 5_000_000, MAX);
    expect(c.update(MAX - 1_000_000)).toBe(4_000_000);
    expect(c.update(3_000_000)).toBe(8_000_000);
    expect(c.update(4_000_000)).toBe(9_000_000);
    expect(c.totalUj).toBe(9_000_000);
  });
});

describe("createRaplReader over a fake powercap tree", () => {
  it("sums the package zones, skips subzones and psys, and handles a wrap", () => {
    machine = fakeMachine([
      { dir: "intel-rapl:0", name: "package-0", energyUj: MAX - 1_000_000, maxRangeUj: MAX },
      { dir: "intel-rapl:0:0", name: "core", energyUj: 10, maxRangeUj: MAX },
      { dir: "intel-rapl:1", name: "package-1", energyUj: 50_000_000, maxRangeUj: MAX },
      { dir: "intel-rapl:2", name: "psys", energyUj: 0, maxRangeUj: MAX },
      { dir: "intel-rapl-mmio:0", name: "package-0", energyUj: 0, maxRangeUj: MAX },
    ]);
    const reader = createRaplReader({ root: machine.powercapRoot });
    expect(reader).toBeDefined();
    expect(reader!.domains.map((d) => d.split("/").at(-1))).toEqual(["intel-rapl:0", "intel-rapl:1"]);
    expect(reader!.totalJoules()).toBe(0);
    // package-0 wraps: 1 J to the top + 2 J after; package-1 +3 J; the subzone and psys are ignored.
    machine.setEnergy("intel-rapl:0", 2_000_000);
    machine.setEnergy("intel-rapl:1", 53_000_000);
    machine.setEnergy("intel-rapl:0:0", 999_000_000);
    machine.setEnergy("intel-rapl:2", 999_000_000);
    expect(reader!.totalJoules()).toBeCloseTo(6, 9);
    machine.setEnergy("intel-rapl:1", 54_500_000);
    expect(reader!.totalJoules()).toBeCloseTo(7.5, 9);
  });

  it("is undefined without a root, without package zones, or when energy_uj cannot be read", () => {
    expect(createRaplReader({ root: "/nonexistent/powercap" })).toBeUndefined();
    machine = fakeMachine([{ dir: "intel-rapl:0:0", name: "core", energyUj: 1, maxRangeUj: MAX }]);
    expect(createRaplReader({ root: machine.powercapRoot })).toBeUndefined();
    // Same failure path as EACCES for a non-root user (tests run as root here): a read error.
    machine.remove();
    machine = fakeMachine([{ dir: "intel-rapl:1", name: "package-1", energyUj: 1, maxRangeUj: MAX }]);
    expect(createRaplReader({ root: machine.powercapRoot })).toBeDefined();
    const energy = join(machine.powercapRoot, "intel-rapl:1", "energy_uj");
    rmSync(energy);
    mkdirSync(energy);
    expect(createRaplReader({ root: machine.powercapRoot })).toBeUndefined();
  });

  it("a counter that stops being readable makes the reading undefined, not a guess", () => {
    machine = fakeMachine([{ dir: "intel-rapl:0", name: "package-0", energyUj: 5, maxRangeUj: MAX }]);
    const reader = createRaplReader({ root: machine.powercapRoot })!;
    rmSync(join(machine.powercapRoot, "intel-rapl:0", "energy_uj"));
    expect(reader.totalJoules()).toBeUndefined();
  });

  it("prints a real reading when this machine's powercap is readable", async () => {
    const reader = createRaplReader();
    if (!reader) {
      console.warn(
        `no readable RAPL package zone under /sys/class/powercap (${existsSync("/sys/class/powercap") ? "present but unreadable or no package zone" : "absent"}): nothing to print`,
      );
      return;
    }
    const before = reader.totalJoules() ?? Number.NaN;
    await new Promise((r) => setTimeout(r, 200));
    const joules = (reader.totalJoules() ?? Number.NaN) - before;
    console.log(
      `real RAPL: ${reader.domains.length} package(s), ${joules.toFixed(3)} J in 200 ms ≈ ${(joules / 0.2).toFixed(1)} W`,
    );
    expect(joules).toBeGreaterThanOrEqual(0);
  });
});

describe("/proc/stat aggregate CPU line", () => {
  it("busy = user + nice + system + irq + softirq + steal (guest is inside user)", () => {
    const text = "cpu  100 20 30 4000 50 6 7 8 9 1\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 1 2\n";
    expect(parseProcStatCpu(text)).toEqual({ busyTicks: 171, totalTicks: 4221 });
    expect(parseProcStatCpu("cpu0 1 2 3 4\n")).toBeUndefined();
    expect(parseProcStatCpu("cpu  1 x 3 4\n")).toBeUndefined();
  });

  it("reads this machine's /proc/stat", () => {
    const ticks = readProcStatCpu();
    if (!ticks) {
      console.warn("no /proc/stat here (not Linux): skipped");
      return;
    }
    expect(ticks.busyTicks).toBeGreaterThan(0);
    expect(ticks.totalTicks).toBeGreaterThanOrEqual(ticks.busyTicks);
  });
});

describe("attribution of package energy to a job", () => {
  it("job share = job CPU s ÷ machine busy s, capped at 1", () => {
    // 120 J over the window; the machine was busy 8 CPU-s, the job used 2 → a quarter.
    expect(attributeCpuJoules({ packageJoules: 120, jobCpuSeconds: 2, machineBusySeconds: 8 })).toBe(30);
    // More job time than the machine counted (tick rounding): the whole package, never more.
    expect(attributeCpuJoules({ packageJoules: 120, jobCpuSeconds: 2, machineBusySeconds: 1.99 })).toBe(120);
    expect(cpuShare(0, 5)).toBe(0);
    expect(cpuShare(0, 0)).toBe(0);
    // Alone in its process, between two 10 ms ticks (0 busy ticks): the job gets the window.
    expect(cpuShare(0.004, 0)).toBe(1);
    expect(cpuShare(0.004, 0, 0.004)).toBe(1);
  });

  it("the process's CPU time is a floor of the machine's busy time (tick rounding)", () => {
    // Four 4 ms jobs of one process in one window the machine counted as 0 busy ticks: each
    // gets a quarter of the package energy, not all of it (together the window once, not 4×).
    const each = attributeCpuJoules({
      packageJoules: 2,
      jobCpuSeconds: 0.004,
      machineBusySeconds: 0,
      processCpuSeconds: 0.016,
    });
    expect(each).toBeCloseTo(0.5, 12);
    // One tick counted (10 ms) but the process ran 16 ms: still the process time decides.
    expect(cpuShare(0.004, 0.01, 0.016)).toBeCloseTo(0.25, 12);
    // The machine busier than the process: the machine's count decides, as before.
    expect(cpuShare(0.004, 0.1, 0.016)).toBeCloseTo(0.04, 12);
    // Garbage in the floor never produces a share above 1 or NaN.
    expect(cpuShare(0.004, Number.NaN, Number.NaN)).toBe(1);
  });

  it("between two snapshots of a fake machine, with ticks converted by USER_HZ", () => {
    machine = fakeMachine(
      [{ dir: "intel-rapl:0", name: "package-0", energyUj: 1_000_000, maxRangeUj: MAX }],
      statWithBusy(10_000),
    );
    const source = createMachineCpuEnergy({
      powercapRoot: machine.powercapRoot,
      procRoot: machine.procRoot,
      ticksPerSecond: 100,
    })!;
    const start = source.snapshot()!;
    machine.setEnergy("intel-rapl:0", 51_000_000); // +50 J
    machine.setProcStat(statWithBusy(10_400)); // +400 ticks = 4 CPU-s busy
    const end = source.snapshot()!;
    expect(end.packageJoules - start.packageJoules).toBeCloseTo(50, 9);
    expect(end.busySeconds - start.busySeconds).toBeCloseTo(4, 9);
    expect(attributeBetween(start, end, 1)).toBeCloseTo(12.5, 9);
    // The process ran 5 CPU-s in a window where /proc/stat counted 4: 5 is the denominator.
    expect(attributeBetween(start, end, 1, 5)).toBeCloseTo(10, 9);
  });

  it("no source when RAPL or /proc/stat is missing", () => {
    machine = fakeMachine([{ dir: "intel-rapl:0", name: "package-0", energyUj: 1, maxRangeUj: MAX }]);
    expect(
      createMachineCpuEnergy({ powercapRoot: machine.powercapRoot, procRoot: "/nonexistent" }),
    ).toBeUndefined();
    expect(
      createMachineCpuEnergy({ powercapRoot: "/nonexistent", procRoot: machine.procRoot }),
    ).toBeUndefined();
  });
});
