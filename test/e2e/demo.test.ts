import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const node = `${root}node_modules/.bin/node`;

describe("npm start (demo service)", () => {
  it("prints one line per job, serves /metrics, and exits 0 on SIGINT", async () => {
    const child = spawn(node, ["src/demo/main.ts"], {
      cwd: root,
      env: {
        ...process.env,
        OTEL_EXPORTER_PROMETHEUS_PORT: "0",
        OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
        CO2E_DEMO_INTERVAL_MS: "100",
        OTEL_TRACES_EXPORTER: "none",
        ELECTRICITYMAPS_API_TOKEN: "",
        OTEL_SDK_DISABLED: "",
        CO2E_DEMO_RUNS: "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 25_000);
    try {
      const lines: string[] = [];
      let metricsUrl: string | undefined;
      const rl = createInterface({ input: child.stdout });
      for await (const line of rl) {
        lines.push(line);
        metricsUrl ??= /metrics at (http:\/\/\S+)/.exec(line)?.[1];
        const jobs = new Set(lines.map((l) => /^job=(\S+)/.exec(l)?.[1]).filter(Boolean));
        if (jobs.size >= 3 && lines.filter((l) => l.startsWith("job=")).length >= 6) break;
      }
      expect(metricsUrl, `stdout:\n${lines.join("\n")}\nstderr:\n${stderr}`).toBeDefined();
      const jobLines = lines.filter((l) => l.startsWith("job="));
      for (const line of jobLines) {
        expect(line).toMatch(
          /^job=demo\.\S+ duration=[\d.]+s cpu=\S+s energy=\S+kWh co2e=\S+g intensity=[\d.]+g\/kWh zone=WORLD source=static attribution=(event-loop|equal|exclusive)$/,
        );
      }
      expect(jobLines.some((l) => l.startsWith("job=demo.network.download"))).toBe(true);

      const text = await (await fetch(metricsUrl ?? "")).text();
      expect(text).toMatch(
        /co2e_job_runs_total\{[^}]*job_name="demo\.cpu\.hash-chain",service_name="otel-co2e-demo"[^}]*\} [1-9]/,
      );
      expect(text).toMatch(/co2e_job_carbon_grams_total\{[^}]*scope="operational"[^}]*\} [0-9.e-]+/);
      expect(text).toMatch(
        /co2e_job_energy_joules_total\{[^}]*job_name="demo\.network\.download"[^}]*component="network"/,
      );
      expect(text).toMatch(
        /co2e_job_functional_units_total\{[^}]*job_name="demo\.network\.download"[^}]*\} [1-9]/,
      );
      expect(text).toMatch(/co2e_grid_intensity_grams_per_kwh\{[^}]*zone="WORLD",source="static"/);

      child.kill("SIGINT");
      const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
      expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: "" });
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("stops by itself after CO2E_DEMO_RUNS rounds", async () => {
    const child = spawn(node, ["src/demo/main.ts"], {
      cwd: root,
      env: {
        ...process.env,
        OTEL_EXPORTER_PROMETHEUS_PORT: "0",
        CO2E_DEMO_INTERVAL_MS: "50",
        CO2E_DEMO_RUNS: "1",
        ELECTRICITYMAPS_API_TOKEN: "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 25_000);
    const [code] = (await once(child, "exit")) as [number | null];
    clearTimeout(killer);
    expect(code).toBe(0);
    expect(stdout.split("\n").filter((l) => l.startsWith("job="))).toHaveLength(3);
    expect(stdout).toContain("stopped after 1 round(s)");
  });
});
