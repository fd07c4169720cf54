// config/default.yaml promises to document every key; config/collector.yaml every gateway key.
// Every key the schema knows (defaults filled in, plus the optional ones without a default) must
// appear in those files as `key:` — written out or in a comment.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

/** Key paths of a parsed config (objects are walked; records such as pueByZone are leaves). */
function keyPaths(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [prefix];
  const entries = Object.entries(value);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([key, child]) =>
    ["pueByZone", "marketFactors"].includes(key) ? [[...prefix, key]] : keyPaths(child, [...prefix, key]),
  );
}

// Optional keys with no default do not show up in a parsed empty config.
const OPTIONAL_WITHOUT_DEFAULT = [
  ["zone"],
  ["cloud"],
  ["embodied"],
  ["carbonPrice"],
  ["model", "cpu", "minWattsPerVcpu"],
  ["model", "cpu", "maxWattsPerVcpu"],
  ["model", "cpu", "vcpus"],
  ["model", "cpu", "fallbackTdpWatts"],
  ["gateway", "forwardUrl"],
  ["gateway", "grpcListen"],
  ["gateway", "bearerTokenEnv"],
];

describe("shipped config files document every key", () => {
  const paths = [...keyPaths(parseConfig({})), ...OPTIONAL_WITHOUT_DEFAULT];
  const defaultYaml = read("config/default.yaml");
  const collectorYaml = read("config/collector.yaml");

  it("knows a reasonable number of keys (the walk works)", () => {
    expect(paths.length).toBeGreaterThan(30);
  });

  for (const path of paths) {
    const key = path.at(-1)!;
    const file = path[0] === "gateway" ? "config/collector.yaml" : "config/default.yaml";
    it(`${path.join(".")} appears in ${file}`, () => {
      const text = path[0] === "gateway" ? collectorYaml : defaultYaml;
      expect(text).toMatch(new RegExp(`(^|[\\s{,#])${key}:`, "m"));
    });
  }
});
