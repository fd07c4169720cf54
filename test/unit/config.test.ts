/**
 * Configuration: shipped defaults, environment overrides, and errors that name the key.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG_PATH, loadConfig, parseConfig, withEnvironment } from "../../src/config.ts";
import { isCo2eError } from "../../src/errors.ts";
import { footprintParams, resolveJobZone } from "../../src/processor/enrich.ts";

const dir = mkdtempSync(join(tmpdir(), "co2e-config-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isCo2eError(error, "CO2E_ERR_CONFIG")) return error.message;
    throw error;
  }
  throw new Error("expected CO2E_ERR_CONFIG, nothing was thrown");
}

describe("loadConfig defaults", () => {
  it("config/default.yaml gives the documented defaults", () => {
    const c = loadConfig({ file: DEFAULT_CONFIG_PATH, env: {} });
    // No zone: the cloud region decides, else WORLD (DEFAULT_ZONE) with resolved_by=default.
    expect(c.zone).toBeUndefined();
    expect(c.model.pue).toBe(1);
    expect(c.model.memoryWattsPerGb).toBe(0.375);
    expect(c.model.networkKwhPerGb).toBe(0.001875);
    expect(c.model.cpu).toEqual({ model: "tdp", tdpWatts: 85, logicalCores: "auto" });
    expect(c.intensity.provider).toBe("auto");
    expect(c.intensity.staticYear).toBe(2025);
    expect(c.embodied).toBeUndefined();
    expect(c.carbonPrice).toBeUndefined();
  });

  it("an empty file takes the same defaults as the shipped one", () => {
    const empty = loadConfig({ file: file("empty.yaml", ""), env: {} });
    const shipped = loadConfig({ file: DEFAULT_CONFIG_PATH, env: {} });
    expect(empty.model).toEqual(shipped.model);
    expect(empty.intensity).toEqual(shipped.intensity);
  });

  it("CO2E_CONFIG names the file when none is passed", () => {
    const path = file("zone-se.yaml", "zone: SE\n");
    expect(loadConfig({ env: { CO2E_CONFIG: path } }).zone).toBe("SE");
  });

  it("values from a file are kept, with defaults filled in around them", () => {
    const c = loadConfig({
      file: file(
        "custom.yaml",
        "model:\n  pue: 1.125\n  cpu: { model: linear }\ncarbonPrice: { perTonne: 50 }\n",
      ),
      env: {},
    });
    expect(c.model.pue).toBe(1.125);
    expect(c.model.cpu).toEqual({ model: "linear", minWattsPerVcpu: 0.74, maxWattsPerVcpu: 3.5, vcpus: 1 });
    expect(c.model.memoryWattsPerGb).toBe(0.375);
    expect(c.carbonPrice).toEqual({ perTonne: 50, currency: "USD" });
  });
});

describe("environment overrides", () => {
  it("override the file, numbers parsed", () => {
    const c = loadConfig({
      file: DEFAULT_CONFIG_PATH,
      env: { CO2E_PUE: "1.2", CO2E_ZONE: "FR", OTEL_EXPORTER_PROMETHEUS_PORT: "9999" },
    });
    expect(c.model.pue).toBe(1.2);
    expect(c.zone).toBe("FR");
    expect(c.prometheus.port).toBe(9999);
  });

  it("empty values are ignored", () => {
    expect(loadConfig({ file: DEFAULT_CONFIG_PATH, env: { CO2E_PUE: "" } }).model.pue).toBe(1);
  });

  it("a non-number names the variable", () => {
    const message = configError(() => loadConfig({ file: DEFAULT_CONFIG_PATH, env: { CO2E_PUE: "high" } }));
    expect(message).toContain("CO2E_PUE");
    expect(message).toContain('"high"');
  });

  it("an env value that fails validation names the key path and the variable", () => {
    const message = configError(() => loadConfig({ file: DEFAULT_CONFIG_PATH, env: { CO2E_PUE: "0.9" } }));
    expect(message).toContain("model.pue: must be ≥ 1, got 0.9");
    expect(message).toContain("CO2E_PUE");
    const port = configError(() =>
      loadConfig({ file: DEFAULT_CONFIG_PATH, env: { OTEL_EXPORTER_PROMETHEUS_PORT: "70000" } }),
    );
    expect(port).toContain("prometheus.port");
    expect(port).toContain("OTEL_EXPORTER_PROMETHEUS_PORT");
    expect(port).toContain("70000");
  });

  it("a value the overrides replace is not blamed on the variable", () => {
    const message = configError(() =>
      loadConfig({ file: DEFAULT_CONFIG_PATH, env: { CO2E_PUE: "1.2" }, overrides: { model: { pue: 0.5 } } }),
    );
    expect(message).toContain("model.pue");
    expect(message).not.toContain("CO2E_PUE");
  });

  it("withEnvironment applies only the named variables to a Config built in code, validated", () => {
    const base = parseConfig({ zone: "SE" });
    const env = { OTEL_EXPORTER_PROMETHEUS_PORT: "0", OTEL_EXPORTER_PROMETHEUS_HOST: "::1", CO2E_ZONE: "FR" };
    const c = withEnvironment(base, ["OTEL_EXPORTER_PROMETHEUS_HOST", "OTEL_EXPORTER_PROMETHEUS_PORT"], env);
    expect(c.prometheus).toEqual({ host: "::1", port: 0 });
    expect(c.zone).toBe("SE");
    expect(withEnvironment(base, ["OTEL_EXPORTER_PROMETHEUS_PORT"], {})).toBe(base);
    for (const bad of ["nine", "-1", "65536"]) {
      const message = configError(() =>
        withEnvironment(base, ["OTEL_EXPORTER_PROMETHEUS_PORT"], { OTEL_EXPORTER_PROMETHEUS_PORT: bad }),
      );
      expect(message).toContain("OTEL_EXPORTER_PROMETHEUS_PORT");
    }
  });

  it("programmatic overrides apply last", () => {
    const c = loadConfig({
      file: DEFAULT_CONFIG_PATH,
      env: { CO2E_PUE: "1.2" },
      overrides: { model: { pue: 1.4 } },
    });
    expect(c.model.pue).toBe(1.4);
    expect(c.model.memoryWattsPerGb).toBe(0.375);
  });
});

describe("invalid configuration → CO2E_ERR_CONFIG with key path and reason", () => {
  it("model.pue: must be ≥ 1, got 0.8", () => {
    const message = configError(() =>
      loadConfig({ file: file("pue.yaml", "model:\n  pue: 0.8\n"), env: {} }),
    );
    expect(message).toContain("model.pue: must be ≥ 1, got 0.8");
    expect(message).toContain("pue.yaml");
  });

  it("a wrong type names the key and the value", () => {
    const message = configError(() => parseConfig({ model: { memoryWattsPerGb: "lots" } }));
    expect(message).toContain("model.memoryWattsPerGb");
    expect(message).toContain('"lots"');
  });

  it("an unknown key is named, nested or at the top", () => {
    expect(configError(() => parseConfig({ model: { puee: 1.1 } }))).toContain("model.puee: unknown key");
    expect(configError(() => parseConfig({ zoen: "DE" }))).toContain("zoen: unknown key");
  });

  it("an invalid enum value names the key", () => {
    expect(configError(() => parseConfig({ intensity: { provider: "magic" } }))).toContain(
      "intensity.provider",
    );
  });

  it("bad YAML names the file", () => {
    const path = file("bad.yaml", "model:\n  pue: [1.2\n");
    const message = configError(() => loadConfig({ file: path, env: {} }));
    expect(message).toContain("not valid YAML");
    expect(message).toContain(path);
  });

  it("a top level that is not a mapping", () => {
    expect(configError(() => loadConfig({ file: file("list.yaml", "- 1\n- 2\n"), env: {} }))).toContain(
      "mapping",
    );
  });

  it("a missing file names the path", () => {
    const path = join(dir, "nope.yaml");
    expect(configError(() => loadConfig({ file: path, env: {} }))).toContain(path);
  });
});

describe("zone keys are case-insensitive (zones resolve to upper case)", () => {
  it("lower-case pueByZone / marketFactors keys and zone are upper-cased and then apply", () => {
    const c = parseConfig({ zone: "de", model: { pueByZone: { de: 1.5 } }, marketFactors: { de: 20 } });
    expect(c.zone).toBe("DE");
    expect(c.model.pueByZone).toEqual({ DE: 1.5 });
    expect(c.marketFactors).toEqual({ DE: 20 });
    const zone = resolveJobZone({ attributes: {}, resource: {} }, c);
    expect(zone.zone).toBe("DE");
    const params = footprintParams(c, zone.zone, 4);
    expect(params.energy.pue).toBe(1.5);
    expect(params.marketGramsPerKwh).toBe(20);
  });

  it("a config parsed twice (withEnvironment) keeps the same keys", () => {
    const c = parseConfig({ model: { pueByZone: { "us-mida-pjm": 1.2 } } });
    expect(parseConfig(c).model.pueByZone).toEqual({ "US-MIDA-PJM": 1.2 });
  });

  it("the same zone twice in different case is an error naming the key", () => {
    const message = configError(() => parseConfig({ model: { pueByZone: { de: 1.5, DE: 1.2 } } }));
    expect(message).toContain("model.pueByZone");
    expect(message).toContain("duplicate zone DE");
    expect(configError(() => parseConfig({ marketFactors: { fr: 1, Fr: 2 } }))).toContain(
      "duplicate zone FR",
    );
  });
});

describe("sampler.maxJobSeconds", () => {
  it("defaults to 24 h, in code and in config/default.yaml", () => {
    expect(parseConfig({}).sampler.maxJobSeconds).toBe(86_400);
    expect(loadConfig({ file: DEFAULT_CONFIG_PATH, env: {} }).sampler.maxJobSeconds).toBe(86_400);
  });

  it("must be positive", () => {
    expect(configError(() => parseConfig({ sampler: { maxJobSeconds: 0 } }))).toContain(
      "sampler.maxJobSeconds",
    );
  });
});
