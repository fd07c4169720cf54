/**
 * The range and provenance through the real CLI: `co2e estimate` prints and emits them
 * (`--json`: `range: {low, high}`, `provenance`), `co2e run --json-out` writes the same words,
 * and the seeds' central figures stay exact.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "co2e-range-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Banded {
  co2eGrams: number;
  range: { low: number; high: number };
  energyRange: { low: number; high: number };
  provenance: {
    modelVersion: string;
    components: Record<string, string>;
    intensity: { nature: string; emissionFactorType?: string };
    boundary: { components: string[]; scopes: string[] };
  };
}

async function estimateJson(args: string[]): Promise<Banded> {
  const r = await runCli(["estimate", ...args, "--json"], { bareEnv: true });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Banded;
}

describe("co2e estimate: range and provenance", () => {
  it("seed 000: 4,500 g exactly, the range around it, measured energy at a given intensity", async () => {
    const j = await estimateJson(["--energy-kwh", "25", "--intensity", "180"]);
    expect(j.co2eGrams).toBe(4500);
    // Given energy counts as measured (± 10 %), a given intensity as stated, no PUE range.
    expect(j.range.low).toBeCloseTo(4050, 9);
    expect(j.range.high).toBeCloseTo(4950, 9);
    expect(j.provenance.intensity.nature).toBe("configured");
    expect(j.provenance.modelVersion).toBe("1.0");
  });

  it("seed 003 through the static table: wider band, yearly-average, lifecycle; the human report prints it", async () => {
    const args = ["--cpu-util", "1.0047", "--tdp-watts", "158.75", "--duration", "40m49s"];
    args.push("--memory-gb", "5.015", "--pue", "1.125", "--zone", "DE");
    const j = await estimateJson(args);
    expect(j.range.low).toBeLessThan(j.co2eGrams);
    expect(j.range.high).toBeGreaterThan(j.co2eGrams);
    expect(j.provenance.components).toEqual({ cpu: "calculated", memory: "calculated" });
    expect(j.provenance.intensity).toEqual({ nature: "yearly-average", emissionFactorType: "lifecycle" });
    expect(j.provenance.boundary).toEqual({ components: ["cpu", "memory"], scopes: ["operational"] });
    const human = await runCli(["estimate", ...args], { bareEnv: true });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(
      /^range\s+\S+ g – \S+ g\s+cpu calculated, memory calculated; intensity yearly-average, lifecycle; model 1\.0$/m,
    );
  });

  it("at 487 g/kWh seed 003 keeps its 60.1463 g central figure", async () => {
    const j = await estimateJson(
      "--cpu-util 1.0047 --tdp-watts 158.75 --duration 40m49s --memory-gb 5.015 --pue 1.125 --intensity 487".split(
        " ",
      ),
    );
    expect(j.co2eGrams).toBeCloseTo(60.1463, 3);
    expect(j.range.low).toBeLessThan(60.1463);
    expect(j.range.high).toBeGreaterThan(60.1463);
  });
});

describe("co2e run: range and provenance in --json-out and the summary", () => {
  it("writes range, energyRange and provenance, and prints the range line", async () => {
    const out = join(dir, "run.json");
    const r = await runCli(["run", "--zone", "DE", "--json-out", out, "--", "true"], {
      bareEnv: true,
      timeoutMs: 25_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(readFileSync(out, "utf8")) as Banded;
    expect(j.range.low).toBeLessThanOrEqual(j.co2eGrams);
    expect(j.range.high).toBeGreaterThanOrEqual(j.co2eGrams);
    expect(j.provenance.modelVersion).toBe("1.0");
    expect(j.provenance.intensity.nature).toBe("yearly-average");
    expect(j.provenance.boundary.scopes).toEqual(["operational"]);
    expect(r.stderr).toMatch(/^ {2}range {6}.+ – .+\(.*intensity yearly-average.*model 1\.0\)$/m);
  });
});
