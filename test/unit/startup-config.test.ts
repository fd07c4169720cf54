import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG_PATH, parseConfig } from "../../src/config.ts";
import { resolveCarbonConfig } from "../../src/sdk/startup-config.ts";

/** resolveCarbonConfig with its warnings collected instead of printed. */
function resolve(config: Parameters<typeof resolveCarbonConfig>[0], env: NodeJS.ProcessEnv) {
  const warnings: string[] = [];
  const resolved = resolveCarbonConfig(config, { env, warn: (m) => warnings.push(m) });
  return { resolved, warnings };
}

describe("resolveCarbonConfig (the preset's start-up check)", () => {
  it("applies good variables and says nothing", () => {
    const { resolved, warnings } = resolve(DEFAULT_CONFIG_PATH, {
      CO2E_ZONE: "de",
      CO2E_PUE: "1.2",
      OTEL_EXPORTER_PROMETHEUS_PORT: "9999",
    });
    expect(warnings).toEqual([]);
    expect(resolved.zone).toBe("DE");
    expect(resolved.model.pue).toBe(1.2);
    expect(resolved.prometheus.port).toBe(9999);
  });

  it("ignores each bad variable alone, naming it, and keeps the good ones", () => {
    const { resolved, warnings } = resolve(DEFAULT_CONFIG_PATH, {
      CO2E_PUE: "x",
      CO2E_SAMPLER_INTERVAL_MS: "-5",
      OTEL_EXPORTER_PROMETHEUS_PORT: "abc",
      CO2E_ZONE: "SE",
    });
    expect(resolved.zone).toBe("SE");
    expect(resolved.model.pue).toBe(parseConfig({}).model.pue);
    expect(resolved.prometheus.port).toBe(9464);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^CO2E_PUE="x" ignored \(.*\); using \d/);
    expect(warnings.join("\n")).toMatch(/CO2E_SAMPLER_INTERVAL_MS="-5" ignored/);
    expect(warnings.join("\n")).toMatch(/OTEL_EXPORTER_PROMETHEUS_PORT="abc" ignored .*using 9464/);
  });

  it("drops an unknown zone, saying where it came from", () => {
    const fromEnv = resolve(undefined, { CO2E_ZONE: "XX" });
    expect(fromEnv.resolved.zone).toBeUndefined();
    expect(fromEnv.warnings).toHaveLength(1);
    expect(fromEnv.warnings[0]).toMatch(/^CO2E_ZONE="XX": unknown zone "XX".*WORLD/);

    const inCode = resolve(parseConfig({ zone: "QQ", cloud: { provider: "aws", region: "mars-1" } }), {});
    expect(inCode.resolved.zone).toBeUndefined();
    expect(inCode.resolved.cloud).toBeUndefined();
    expect(inCode.warnings[0]).toMatch(/^config zone: unknown zone "QQ"/);
    expect(inCode.warnings[1]).toMatch(/^config cloud: unknown aws region "mars-1"/);
  });

  it("a Config built in code takes only the OTEL_EXPORTER_PROMETHEUS_* variables", () => {
    const config = parseConfig({ zone: "FR" });
    const { resolved, warnings } = resolve(config, { CO2E_ZONE: "DE", OTEL_EXPORTER_PROMETHEUS_PORT: "0" });
    expect(warnings).toEqual([]);
    expect(resolved.zone).toBe("FR");
    expect(resolved.prometheus.port).toBe(0);
  });
});
