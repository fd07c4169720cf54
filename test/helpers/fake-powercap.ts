/** Fake `/sys/class/powercap` and `/proc` trees in a temp dir, for the RAPL reader and attribution. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface FakeZone {
  /** Directory name, e.g. `intel-rapl:0` or `intel-rapl:0:0`. */
  dir: string;
  name: string;
  energyUj: number;
  maxRangeUj: number;
}

export interface FakeMachine {
  base: string;
  powercapRoot: string;
  procRoot: string;
  setEnergy(dir: string, energyUj: number): void;
  /** Writes /proc/stat's aggregate line: user nice system idle iowait irq softirq steal guest guest_nice. */
  setProcStat(fields: number[]): void;
  remove(): void;
}

export function fakeMachine(zones: FakeZone[], procStat: number[] = [1000, 0, 500, 9000, 0, 0, 0, 0, 0, 0]) {
  const base = mkdtempSync(join(tmpdir(), "co2e-powercap-"));
  const powercapRoot = join(base, "powercap");
  const procRoot = join(base, "proc");
  mkdirSync(powercapRoot);
  mkdirSync(procRoot);
  // Subzones are directories of their own in /sys/class/powercap too (symlinks there).
  for (const z of zones) {
    const dir = join(powercapRoot, z.dir);
    mkdirSync(dir);
    writeFileSync(join(dir, "name"), `${z.name}\n`);
    writeFileSync(join(dir, "energy_uj"), `${z.energyUj}\n`);
    writeFileSync(join(dir, "max_energy_range_uj"), `${z.maxRangeUj}\n`);
  }
  const machine: FakeMachine = {
    base,
    powercapRoot,
    procRoot,
    setEnergy(dir, energyUj) {
      writeFileSync(join(powercapRoot, dir, "energy_uj"), `${energyUj}\n`);
    },
    setProcStat(fields) {
      writeFileSync(
        join(procRoot, "stat"),
        `cpu  ${fields.join(" ")}\ncpu0 ${fields.join(" ")}\nintr 0\nctxt 0\nbtime 0\n`,
      );
    },
    remove() {
      rmSync(base, { recursive: true, force: true });
    },
  };
  machine.setProcStat(procStat);
  return machine;
}

/** /proc/stat fields with `busyTicks` of user time and some idle. */
export function statWithBusy(busyTicks: number): number[] {
  return [busyTicks, 0, 0, 100_000, 0, 0, 0, 0, 0, 0];
}
