// config/default.yaml promises to document every key; config/collector.yaml every gateway key.
// Every key path the schema knows (defaults filled in, plus the optional ones without a default)
// must appear in those files at its place in the structure (`prometheus.port` is `port:` under
// `prometheus:`, not any `port:`), written out or commented out (`# zone: DE`, also as a flow
// mapping: `# cpu: { model: rapl, fallbackTdpWatts: 85 }`); and every key written there must be
// one the schema knows.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
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

const KEY_LINE = /^([A-Za-z][A-Za-z0-9]*):(?:\s+(.*))?$/;

/**
 * The key paths a YAML file documents, commented-out keys included. A line is a key when, after
 * its indentation and an optional `#` (the indentation of a commented line is the column of its
 * `#` plus the spaces after the first), it reads `name:` — prose that happens to contain a colon
 * does not start with a bare name. A key's parent is the last key above it with less indentation;
 * a flow mapping after a key (`{ a: 1, b: 2 }`) documents its keys as children.
 */
function documentedPaths(text: string): Set<string> {
  const out = new Set<string>();
  const stack: Array<{ indent: number; path: string[] }> = [];
  const addFlow = (path: string[], value: unknown) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return;
    for (const [key, child] of Object.entries(value)) {
      out.add([...path, key].join("."));
      addFlow([...path, key], child);
    }
  };
  for (const line of text.split("\n")) {
    const m = /^( *)(#( *))?(.*)$/.exec(line)!;
    const indent = m[1]!.length + (m[2] ? Math.max(0, m[3]!.length - 1) : 0);
    const key = KEY_LINE.exec(m[4]!.trimEnd());
    if (!key) continue;
    while (stack.length > 0 && stack.at(-1)!.indent >= indent) stack.pop();
    const path = [...(stack.at(-1)?.path ?? []), key[1]!];
    out.add(path.join("."));
    stack.push({ indent, path });
    const value = key[2]?.trim() ?? "";
    if (value.startsWith("{")) {
      try {
        addFlow(path, parseYaml(value));
      } catch {
        // Prose after the key, not a mapping.
      }
    }
  }
  return out;
}

// Configs that between them fill every key: the defaults, every optional key without a default,
// and each CPU model's own keys (the schema is strict, so a key it does not know fails here).
const FULL_CONFIGS = [
  {},
  {
    zone: "DE",
    cloud: { provider: "aws", region: "eu-west-1" },
    embodied: { totalEmbodiedKg: 1000, lifespanYears: 4, reservedShare: 1 },
    carbonPrice: { perTonne: 50 },
    model: { cpu: { model: "linear" } },
    gateway: {
      forwardUrl: "http://collector:4318",
      grpcListen: "127.0.0.1:4317",
      bearerTokenEnv: "CO2E_GATEWAY_TOKEN",
    },
  },
  { model: { cpu: { model: "rapl" } } },
];

describe("documentedPaths reads the structure, not the last segment", () => {
  it("places keys under their parents, commented or not, flow mappings included", () => {
    const doc = documentedPaths(
      [
        "a:",
        "  port: 1          # a comment: with a colon",
        "  # hidden: 2",
        "  # inner: { x: 1, y: { z: 2 } }",
        "  #   x: more words about x",
        "b:",
        "  other: 3",
        "# Prose line: not a key",
      ].join("\n"),
    );
    expect([...doc].sort()).toEqual(
      ["a", "a.hidden", "a.inner", "a.inner.x", "a.inner.y", "a.inner.y.z", "a.port", "b", "b.other"].sort(),
    );
    expect(doc.has("b.port")).toBe(false);
  });
});

describe("shipped config files document every key", () => {
  const paths = [
    ...new Map(
      FULL_CONFIGS.flatMap((input) => keyPaths(parseConfig(input))).map((path) => [path.join("."), path]),
    ).values(),
  ];
  const documented = {
    "config/default.yaml": documentedPaths(read("config/default.yaml")),
    "config/collector.yaml": documentedPaths(read("config/collector.yaml")),
  };
  const fileFor = (path: string[]) =>
    path[0] === "gateway" ? "config/collector.yaml" : "config/default.yaml";

  it("knows a reasonable number of keys (the walk works)", () => {
    expect(paths.length).toBeGreaterThan(30);
  });

  for (const path of paths) {
    const file = fileFor(path);
    it(`${path.join(".")} appears in ${file}`, () => {
      expect(documented[file].has(path.join(".")), [...documented[file]].join(", ")).toBe(true);
    });
  }

  it("every key the files write is one the schema knows (no stale or misplaced key)", () => {
    const known = new Set(paths.flatMap((path) => path.map((_, i) => path.slice(0, i + 1).join("."))));
    const records = ["model.pueByZone.", "marketFactors."];
    for (const [file, keys] of Object.entries(documented)) {
      const unknown = [...keys].filter((k) => !known.has(k) && !records.some((r) => k.startsWith(r)));
      expect(unknown, file).toEqual([]);
    }
  });
});
