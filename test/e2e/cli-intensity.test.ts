/**
 * `co2e intensity` end to end: the real CLI in a child process against the emulator.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { staticIntensity } from "../../src/intensity/static.ts";
import { type CliResult, runCli } from "../helpers/cli.ts";
import { type Emulator, hourlyRows, startEmulator } from "../helpers/em-emulator.ts";

const TOKEN = "cli-e2e-token-77c2d";
const HOUR_MS = 3_600_000;

let em: Emulator;
let dir: string;

/** `co2e intensity <args…>` with only the ELECTRICITYMAPS_* / CO2E_* variables in `env`. */
function co2e(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return runCli(["intensity", ...args], { env });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "co2e-intensity-"));
  const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  em = await startEmulator({
    token: TOKEN,
    zones: {
      DE: {
        history: [
          ...hourlyRows([280, 290], hour - 2 * HOUR_MS),
          ...hourlyRows([302], hour, { isEstimated: true }),
        ],
      },
      IE: { latest: 250 },
    },
  });
});

afterEach(() => {
  em.clearFaults();
  em.resetRequests();
});

afterAll(async () => {
  await em.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("co2e intensity", () => {
  const live = () => ({ ELECTRICITYMAPS_BASE_URL: em.url, ELECTRICITYMAPS_API_TOKEN: TOKEN });

  it("--zone DE --json reports the emulator's value with source electricitymaps", async () => {
    const { code, stdout, stderr } = await co2e(["--zone", "DE", "--json"], live());
    expect(code, stderr).toBe(0);
    const out = JSON.parse(stdout);
    expect(out).toMatchObject({
      zone: "DE",
      gramsPerKwh: 302,
      source: "electricitymaps",
      method: "latest",
      isEstimated: true,
    });
    expect(out.datetime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/);
    expect(em.requests[0]!.headers["auth-token"]).toBe(TOKEN);
    expect(stdout + stderr).not.toContain(TOKEN);
  });

  it("--history lists the last 24 h rows; text output shows value, source, datetime and estimated flag", async () => {
    const json = JSON.parse((await co2e(["--zone", "DE", "--json", "--history"], live())).stdout);
    expect(json.history.map((r: { gramsPerKwh: number }) => r.gramsPerKwh)).toEqual([280, 290, 302]);
    expect(em.count("history", "DE")).toBe(1); // one request serves value and history
    const { code, stdout } = await co2e(["--cloud", "aws", "--region", "eu-west-1"], live());
    expect(code).toBe(0);
    expect(stdout).toMatch(/zone\s+IE/);
    expect(stdout).toMatch(/250 gCO₂e\/kWh/);
    expect(stdout).toMatch(/source\s+electricitymaps/);
    expect(stdout).toMatch(/datetime\s+\d{4}-/);
    expect(stdout).toMatch(/estimated\s+no/);
  });

  it("with the emulator answering 500: static value, source static, a reason, exit 0", async () => {
    em.addFault({ type: "status", status: 500 });
    const configFile = join(dir, "fast.yaml");
    writeFileSync(configFile, "intensity:\n  timeoutMs: 800\n  retries: 1\n");
    const t0 = performance.now();
    const { code, stdout, stderr } = await co2e(["--zone", "DE", "--json", "--config", configFile], live());
    expect(code, stderr).toBe(0);
    const out = JSON.parse(stdout);
    expect(out).toMatchObject({
      zone: "DE",
      source: "static",
      gramsPerKwh: staticIntensity("DE").gramsPerKwh,
      fallbackReason: "http-500",
    });
    expect(em.count("history")).toBe(2); // first attempt + one retry, as configured
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(stdout + stderr).not.toContain(TOKEN);
  });

  it("a refused token: static with reason auth, one hint on stderr without the token", async () => {
    const { code, stdout, stderr } = await co2e(["--zone", "DE", "--json"], {
      ...live(),
      ELECTRICITYMAPS_API_TOKEN: "wrong-token-123",
    });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ source: "static", fallbackReason: "auth" });
    expect(stderr).toMatch(/ELECTRICITYMAPS_API_TOKEN/);
    expect(stderr).not.toContain("wrong-token-123");
  });

  it("no token → static, no request sent", async () => {
    const { code, stdout } = await co2e(["--zone", "DE", "--json", "--history"], {
      ELECTRICITYMAPS_BASE_URL: em.url,
    });
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out).toMatchObject({ source: "static", method: "yearly-average", year: 2025 });
    expect(out.historyUnavailable).toMatch(/static/);
    expect(em.requests).toHaveLength(0);
  });

  it("usage errors exit 2; an unknown zone exits 2 with its code and names --zone, as in every command", async () => {
    expect((await co2e(["--zone", "DE", "--cloud", "aws"], {})).code).toBe(2);
    expect((await co2e(["--cloud", "aws"], {})).code).toBe(2);
    const unknown = await co2e(["--zone", "XX-NOWHERE"], {});
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("CO2E_ERR_UNKNOWN_ZONE");
    expect(unknown.stderr).toMatch(/^co2e intensity: unknown zone "XX-NOWHERE" \(from --zone\): /);
    expect(unknown.stderr).not.toContain("attribute");
    const region = await co2e(["--cloud", "aws", "--region", "mars-north-1"], {});
    expect(region.code).toBe(2);
    expect(region.stderr).toContain("CO2E_ERR_UNKNOWN_REGION");
    expect(region.stderr).toMatch(/unknown aws region "mars-north-1" \(from --cloud\/--region\)/);
  });

  it("without --zone the zone resolves like elsewhere: config zone (CO2E_ZONE), config cloud, else WORLD, and says how", async () => {
    const env = await co2e(["--json"], { CO2E_ZONE: "DE" });
    expect(env.code, env.stderr).toBe(0);
    expect(JSON.parse(env.stdout)).toMatchObject({
      zone: "DE",
      resolvedBy: "config",
      zoneFrom: "config zone",
    });
    const cloudFile = join(dir, "cloud.yaml");
    writeFileSync(cloudFile, "cloud:\n  provider: aws\n  region: eu-west-1\n");
    const cloud = await co2e(["--config", cloudFile], {});
    expect(cloud.code, cloud.stderr).toBe(0);
    expect(cloud.stdout).toMatch(/^zone +IE .*\[config cloud aws\/eu-west-1 → IE\]$/m);
    const none = await co2e(["--json"], {});
    expect(none.code, none.stderr).toBe(0);
    expect(JSON.parse(none.stdout)).toMatchObject({ zone: "WORLD", resolvedBy: "default", source: "static" });
    const flag = await co2e(["--zone", "DE"], { CO2E_ZONE: "FR" });
    expect(flag.stdout).toMatch(/^zone +DE \(Germany\) +\[--zone\]$/m);
    expect(JSON.parse((await co2e(["--zone", "DE", "--json"], {})).stdout).resolvedBy).toBe("flag");
  });

  it("electricitymaps forced without a token: static with fallback no-token, one warning, no request", async () => {
    const { code, stdout, stderr } = await co2e(["--zone", "DE", "--json", "--history"], {
      ELECTRICITYMAPS_BASE_URL: em.url,
      CO2E_INTENSITY_PROVIDER: "electricitymaps",
    });
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ zone: "DE", source: "static", fallbackReason: "no-token" });
    expect(stderr.match(/ELECTRICITYMAPS_API_TOKEN is not set/g)).toHaveLength(1);
    expect(em.requests).toHaveLength(0);
  });
});
