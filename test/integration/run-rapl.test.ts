/**
 * `co2e run`'s measurement with the `rapl` model: runCommand with a fake powercap + /proc/stat
 * tree that the child itself advances after burning CPU, so the attributed energy is known:
 * ΔE_package × min(1, tree CPU s ÷ machine busy s).
 */
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { createMachineCpuEnergy } from "../../src/power/attribution.ts";
import { procAvailable, systemUnits } from "../../src/power/procfs.ts";
import { buildReport, enrichRun, jobSpanData } from "../../src/run/report.ts";
import { runCommand } from "../../src/run/runner.ts";
import * as sc from "../../src/semconv.ts";
import { CPU_BURN_SCRIPT } from "../helpers/cpu-burn.ts";
import { type FakeMachine, fakeMachine, statWithBusy } from "../helpers/fake-powercap.ts";

const NODE = fileURLToPath(new URL("../../node_modules/.bin/node", import.meta.url));
const MAX = 262_143_328_850;
const hasProc = procAvailable();
if (!hasProc && process.env.CI !== "true") console.warn("run-rapl: no /proc (not Linux): skipped");

let machine: FakeMachine | undefined;
afterEach(() => {
  machine?.remove();
  machine = undefined;
});

describe("co2e run with the rapl model", () => {
  it.skipIf(!hasProc && process.env.CI !== "true")(
    "the tree's share of the package energy becomes job.cpu.joules and the CPU energy",
    async () => {
      machine = fakeMachine(
        [{ dir: "intel-rapl:0", name: "package-0", energyUj: 5_000_000, maxRangeUj: MAX }],
        statWithBusy(2_000_000),
      );
      const hz = systemUnits().ticksPerSecond;
      const cpuEnergy = createMachineCpuEnergy({
        powercapRoot: machine.powercapRoot,
        procRoot: machine.procRoot,
      });
      expect(cpuEnergy).toBeDefined();
      // The child burns ≈0.3 CPU-s, then moves the counters: +80 J, machine busy +20 CPU-s.
      const script = `import * as fs from "node:fs";
        import { burnCpuSeconds } from ${JSON.stringify(pathToFileURL(CPU_BURN_SCRIPT).href)};
        burnCpuSeconds(0.3, "process", 3000);
        fs.writeFileSync(${JSON.stringify(join(machine.powercapRoot, "intel-rapl:0", "energy_uj"))}, "85000000\\n");
        fs.writeFileSync(${JSON.stringify(join(machine.procRoot, "stat"))}, "cpu  ${2_000_000 + 20 * hz} 0 0 100000 0 0 0 0 0 0\\n");`;
      const run = await runCommand({
        command: NODE,
        args: ["--input-type=module", "-e", script],
        intervalMs: 50,
        gpu: false,
        cpuEnergy,
      });
      expect(run.exitCode).toBe(0);
      expect(run.cpuSeconds).toBeGreaterThan(0.2);
      expect(run.cpuJoules).toBeCloseTo((80 * run.cpuSeconds!) / 20, 9);

      const config = parseConfig({ zone: "DE", model: { cpu: { model: "rapl" } } });
      const zone = { zone: "DE", resolvedBy: "flag" as const, explanation: "--zone" };
      const intensity = { gramsPerKwh: 300, zone: "DE", source: "configured", method: "configured" } as const;
      const span = jobSpanData({ jobName: "train", command: ["node"] }, run);
      expect(span.attributes[sc.ATTR_JOB_CPU_JOULES]).toBe(run.cpuJoules);
      const enriched = enrichRun(span, { config, logicalCores: 2, intensity, zone });
      expect(enriched.attributes[sc.ATTR_CARBON_MODEL]).toBe("rapl");
      expect(enriched.attributes[sc.ATTR_CARBON_ENERGY_CPU_KWH]).toBeCloseTo(run.cpuJoules! / 3.6e6, 15);
      const report = buildReport({ jobName: "train", command: ["node"] }, run, enriched, {
        config,
        intensity,
        zone,
      });
      expect(report.cpuModel).toBe("rapl");
      expect(report.cpuJoules).toBe(run.cpuJoules);

      // The same run without measured joules: tdp fallback, and the report names it.
      const plain = jobSpanData({ jobName: "train", command: ["node"] }, { ...run, cpuJoules: undefined });
      const fallback = enrichRun(plain, { config, logicalCores: 2, intensity, zone });
      expect(fallback.attributes[sc.ATTR_CARBON_MODEL]).toBe("tdp");
      const fallbackReport = buildReport({ jobName: "train", command: ["node"] }, run, fallback, {
        config,
        intensity,
        zone,
      });
      expect(fallbackReport.cpuModel).toBe("tdp");
    },
  );
});
