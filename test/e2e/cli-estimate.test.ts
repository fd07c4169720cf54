/**
 * End to end: the real `co2e` binary (bin/co2e.js under the project's Node 24), reproducing each
 * seed example through flags, plus help and error exits. Each spawn costs ~150 ms, so the cases
 * are chosen to cover the seeds and each error path once.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { EstimateResult } from "../../src/cli/estimate.ts";
import { EXIT_CODE_BY_ERROR } from "../../src/cli/exit-codes.ts";
import { type CliResult, ROOT, runCli } from "../helpers/cli.ts";

/** A clean environment (PATH and HOME only): no CO2E_* variable of the caller's may change the numbers. */
function co2e(...args: string[]): Promise<CliResult> {
  return runCli(args, { bareEnv: true });
}

async function json(...args: string[]): Promise<EstimateResult> {
  const r = await co2e("estimate", ...args, "--json");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as EstimateResult;
}

const dir = mkdtempSync(join(tmpdir(), "co2e-e2e-estimate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Seed 001: an A100 at 300 W for 100 h, 400 g/kWh, $50/t. */
const SEED_001 = ["--gpu-watts", "300", "--duration", "100h", "--intensity", "400", "--carbon-price", "50"];

/** Seed 003, with its duration (2449 s) spelled as given. */
function seed003(duration: string): string[] {
  return [
    "--cpu-util",
    "1.0047",
    "--tdp-watts",
    "158.75",
    "--duration",
    duration,
    "--memory-gb",
    "5.015",
    "--pue",
    "1.125",
    "--intensity",
    "487",
    "--runs-per-year",
    "365.25",
  ];
}

describe("co2e estimate reproduces the seeds", () => {
  it("seed 000: 25 kWh × 180 g/kWh = 4,500 g (human)", async () => {
    const r = await co2e("estimate", "--energy-kwh", "25", "--intensity", "180");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^factor\s+value\s+unit\s+source$/m);
    expect(r.stdout).toMatch(/^energy\s+25\s+kWh\s+--energy-kwh$/m);
    expect(r.stdout).toMatch(/^intensity\s+180\s+gCO₂e\/kWh\s+--intensity$/m);
    expect(r.stdout).toMatch(/^CO₂e\s+4,500 g\s+= 4\.5 kg/m);
  });

  it("seed 000 (json)", async () => {
    const j = await json("--energy-kwh", "25", "--intensity", "180");
    expect(j.energyKwh).toBeCloseTo(25, 9);
    expect(j.co2eGrams).toBeCloseTo(4500, 6);
    expect(j.intensity).toMatchObject({ gramsPerKwh: 180, zone: null, source: "configured" });
    expect(j.components.givenKwh!).toBeCloseTo(25, 9);
    expect(j.pue).toBe(1);
  });

  it("seed 001: A100 300 W × 100 h = 30 kWh, 0.012 t, $0.60 at $50/t (human)", async () => {
    const r = await co2e("estimate", ...SEED_001);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^energy\s+30 kWh\s+gpu 30$/m);
    expect(r.stdout).toMatch(/^CO₂e\s+12,000 g\s+= 12 kg = 0\.012 t$/m);
    expect(r.stdout).toMatch(/^carbon cost\s+0\.60 USD/m);
  });

  it("seed 001 (json)", async () => {
    const j = await json(...SEED_001);
    expect(j.components.gpuKwh).toBeCloseTo(30, 9);
    expect(j.energyKwh).toBeCloseTo(30, 9);
    expect(j.co2eTonnes!).toBeCloseTo(0.012, 12);
    expect(j.carbonCost!).toBeCloseTo(0.6, 12);
    expect(j.currency).toBe("USD");
    expect(j.durationSeconds).toBe(360_000);
  });

  it("seed 002: network GB × 0.001875 kWh/GB × I, intensity from a cloud region", async () => {
    const j = await json("--network-gb", "10", "--cloud", "aws", "--region", "eu-west-1");
    expect(j.components.networkKwh).toBeCloseTo(0.01875, 12);
    expect(j.intensity).toMatchObject({
      zone: "IE",
      source: "static",
      year: 2025,
      resolvedBy: "flag",
    });
    expect(j.intensity.dataset).toMatch(/Electricity Maps yearly 2025/);
    expect(j.co2eGrams).toBeCloseTo(0.01875 * j.intensity.gramsPerKwh, 9);
  });

  it("seed 003: 0.182 kW, 0.1238 kWh, 60.3 g, 22.0 kg a year (human, within the seed's rounding)", async () => {
    const r = await co2e("estimate", ...seed003("40m49s"));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^cpu TDP\s+158\.75\s+W\s+--tdp-watts$/m);
    expect(r.stdout).toMatch(/^memory power\s+0\.375\s+W\/GB\s+config default/m);
    expect(r.stdout).toMatch(/^PUE\s+1\.125\s+--pue$/m);
    // Unrounded chain; the seed rounds power and time first (see docs/model.md).
    expect(r.stdout).toMatch(/^average power\s+0\.1815\d* kW/m);
    expect(r.stdout).toMatch(/^energy\s+0\.1235\d* kWh/m);
    expect(r.stdout).toMatch(/^CO₂e\s+60\.1\d* g/m);
    expect(r.stdout).toMatch(/^per year\s+21\.96\d* kg/m);
  });

  it("seed 003 (json): each figure within 0.5 % of the seed's", async () => {
    const j = await json(...seed003("2449s"));
    const near = (actual: number, expected: number) =>
      expect(Math.abs(actual - expected) / expected).toBeLessThan(0.005);
    near(j.averagePowerKw!, 0.182);
    near(j.energyKwh, 0.1238);
    near(j.co2eGrams, 60.3);
    near(j.annualCo2eKg!, 22.0);
    const c = j.components;
    expect(c.cpuKwh + c.memoryKwh + c.gpuKwh + c.networkKwh + c.overheadKwh).toBeCloseTo(j.energyKwh, 12);
    expect(j.cpuModel).toBe("tdp");
  });

  it("SCI: embodied 1,000 kg over 4 years reserved 1 h ≈ 28.5 g, per functional unit", async () => {
    const j = await json(
      "--cpu-seconds",
      "3600",
      "--cores",
      "4",
      "--tdp-watts",
      "100",
      "--duration",
      "1h",
      "--zone",
      "de",
      "--embodied-kg",
      "1000",
      "--lifespan-years",
      "4",
      "--functional-units",
      "100",
    );
    expect(j.embodiedGrams!.toFixed(1)).toBe("28.5");
    expect(j.components.cpuKwh).toBeCloseTo(0.025, 12);
    expect(j.intensity).toMatchObject({ zone: "DE", source: "static", resolvedBy: "flag" });
    expect(j.sciGramsPerUnit!).toBeCloseTo((j.co2eGrams + j.embodiedGrams!) / 100, 12);
  });
});

describe("help", () => {
  it("co2e --help exits 0, lists estimate and the exit-code table", async () => {
    const r = await co2e("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("estimate");
    expect(r.stdout).toContain("zones");
    expect(r.stdout).toMatch(
      /^ {2}2 +input to fix: usage \(CO2E_ERR_USAGE\), config \(CO2E_ERR_CONFIG\), unknown zone$/m,
    );
    expect(r.stdout).toMatch(/^ {2}3 +no forecast \(CO2E_ERR_NO_FORECAST/m);
    for (const code of [
      "CO2E_ERR_UNKNOWN_REGION",
      "CO2E_ERR_MODEL_INPUT",
      "CO2E_ERR_PROVIDER",
      "CO2E_ERR_AUTH",
    ])
      expect(r.stdout).toContain(code);
  });

  it("the exit-code table of co2e --help, docs/cli-estimate.md and EXIT_CODE_BY_ERROR agree", async () => {
    const help = (await co2e("--help")).stdout;
    // `co2e --help`: a status at the start of a line, its codes on that line and its continuations.
    const fromHelp = new Map<number, string[]>();
    let status: number | undefined;
    for (const line of help.slice(help.indexOf("Exit codes:")).split("\n").slice(1)) {
      const m = /^ {2}(\d+) /.exec(line);
      if (m) status = Number(m[1]);
      else if (!/^ {7}/.test(line)) status = undefined;
      if (status === undefined) continue;
      fromHelp.set(status, [...(fromHelp.get(status) ?? []), ...(line.match(/CO2E_ERR_[A-Z_]+/g) ?? [])]);
    }
    // The Markdown table: | status | meaning | codes |.
    const doc = readFileSync(join(ROOT, "docs/cli-estimate.md"), "utf8");
    const fromDoc = new Map<number, string[]>();
    for (const m of doc.matchAll(/^\| (\d+) \|.*\|(.*)\|$/gm))
      fromDoc.set(Number(m[1]), m[2]!.match(/CO2E_ERR_[A-Z_]+/g) ?? []);
    const fromCode = new Map<number, string[]>();
    for (const [code, exit] of Object.entries(EXIT_CODE_BY_ERROR))
      fromCode.set(exit, [...(fromCode.get(exit) ?? []), code]);
    const sorted = (m: Map<number, string[]>) =>
      Object.fromEntries(
        [...m].filter(([, codes]) => codes.length > 0).map(([k, codes]) => [k, [...codes].sort()]),
      );
    expect(sorted(fromHelp)).toEqual(sorted(fromCode));
    expect(sorted(fromDoc)).toEqual(sorted(fromCode));
    expect([...fromDoc.keys()].sort()).toEqual([...fromHelp.keys()].sort());
  });

  it("co2e estimate --help exits 0 and lists the flags", async () => {
    const r = await co2e("estimate", "--help");
    expect(r.code).toBe(0);
    for (const flag of [
      "--energy-kwh",
      "--cpu-util",
      "--tdp-watts",
      "--duration",
      "--zone",
      "--cloud",
      "--json",
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it.each([
    ["intensity", "--help", "--history"],
    ["zones", "-h", "--year"],
    ["window", "--help", "--within"],
    ["collector", "-h", "--forward"],
    ["run", "--help", "--json-out"],
  ])("co2e %s %s prints its help and exits 0 without doing anything else", async (command, flag, option) => {
    // Without the flags the command needs (--zone, --duration, a command after --): help comes first;
    // the collector must not start listening (it would run until the timeout).
    const r = await co2e(command, flag);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(`co2e ${command}`);
    expect(r.stdout).toContain(option);
  });
});

describe("errors exit 2 and name the flag", () => {
  it.each([
    [["--energy-kwh", "1", "--bogus", "2"], "--bogus", "CO2E_ERR_USAGE"],
    [["--energy-kwh", "lots", "--intensity", "100"], "--energy-kwh", "CO2E_ERR_USAGE"],
    [["--gpu-watts", "100", "--duration", "5 parsecs"], "--duration", "CO2E_ERR_USAGE"],
    [["--energy-kwh", "1", "--zone", "ATLANTIS"], "--zone", "CO2E_ERR_UNKNOWN_ZONE"],
    [
      ["--energy-kwh", "1", "--cloud", "aws", "--region", "mars-north-1"],
      "--region",
      "CO2E_ERR_UNKNOWN_REGION",
    ],
    [["--energy-kwh", "1", "--cpu-seconds", "5"], "--cpu-seconds", "CO2E_ERR_USAGE"],
    [["--intensity", "100"], "--energy-kwh", "CO2E_ERR_USAGE"],
  ])("%j", async (args, flag, code) => {
    const r = await co2e("estimate", ...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(flag);
    expect(r.stderr).toContain(code);
  });

  it.each([
    [["--energy-kwh", "-1", "--intensity", "100"], "--energy-kwh: must be ≥ 0, got -1"],
    [["--energy-kwh=-1", "--intensity", "100"], "--energy-kwh: must be ≥ 0, got -1"],
    [["--energy-kwh", "1", "--intensity", "-.5"], "--intensity: must be ≥ 0, got -.5"],
  ])("a negative number after a space or = gets the range message: %j", async (args, message) => {
    const r = await co2e("estimate", ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`co2e estimate: ${message} [CO2E_ERR_USAGE]`);
    expect(r.stderr).not.toMatch(/ambiguous/);
  });

  it("--config with an invalid file names the key", async () => {
    const path = join(dir, "bad-pue.yaml");
    writeFileSync(path, "model:\n  pue: 0.8\n");
    const r = await co2e("estimate", "--energy-kwh", "1", "--intensity", "100", "--config", path);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("model.pue: must be ≥ 1, got 0.8");
    expect(r.stderr).toContain("CO2E_ERR_CONFIG");
  });
});

describe("a config with model.cpu.model rapl", () => {
  // A calculator has nothing to measure: the estimate says it uses tdp at fallbackTdpWatts.
  const config = () => {
    const path = join(dir, "rapl.yaml");
    writeFileSync(path, "model:\n  cpu:\n    model: rapl\n    fallbackTdpWatts: 95\n");
    return path;
  };
  const args = ["--cpu-seconds", "3600", "--cores", "4", "--intensity", "100"];

  it("names the fallback in the factor table", async () => {
    const r = await co2e("estimate", ...args, "--config", config());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^cpu model\s+tdp\s+config rapl\.yaml model rapl cannot measure here: tdp at fallbackTdpWatts 95 W$/m,
    );
    expect(r.stdout).toMatch(/^cpu TDP\s+95\s+W\s+config rapl\.yaml model\.cpu\.fallbackTdpWatts$/m);
  });

  it("--json: cpuModel tdp, energy at fallbackTdpWatts", async () => {
    const j = await json(...args, "--config", config());
    expect(j.cpuModel).toBe("tdp");
    // 3600 CPU-s over 4 cores at 95 W = 1 h × 95 W / 4 = 0.02375 kWh.
    expect(j.components.cpuKwh).toBeCloseTo(0.02375, 12);
    expect(j.factors.find((f) => f.name === "cpu model")?.source).toMatch(/rapl cannot measure here/);
  });
});

describe("co2e zones", () => {
  it("--cloud gcp --json lists regions with known zones", async () => {
    const r = await co2e("zones", "--cloud", "gcp", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { regions: { region: string; zone: string; gramsPerKwh: number }[] };
    expect(j.regions.length).toBeGreaterThanOrEqual(18);
    expect(j.regions.find((x) => x.region === "europe-west1")?.zone).toBe("BE");
  });
});
