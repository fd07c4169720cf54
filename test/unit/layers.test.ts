/**
 * The layer rule, checked on every relative import in src/ (value, type-only, re-export and
 * dynamic `import()` alike): a module imports only from its own layer or a lower one, and the
 * directories import each other without cycles. The order is written here once; README's Layout
 * section must show the same line.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const src = join(root, "src");

/**
 * Lowest first. A module is a directory of src/ or a file directly in it (by its base name).
 * config, defaults, errors, semconv and version sit at the bottom: they import nothing above
 * model/ and util/, and every layer reads names, errors and the config's shape from them.
 */
const LAYERS: readonly (readonly string[])[] = [
  [
    "model",
    "power",
    "gpu",
    "util",
    "config",
    "defaults",
    "errors",
    "semconv",
    "version",
    "node-version",
    "types",
  ],
  ["intensity"],
  ["job"],
  ["core"],
  ["processor", "metrics"],
  ["sdk", "gateway", "run"],
  ["cli"],
  ["demo"],
  // The public surface re-exports from any layer; nothing imports it.
  ["index"],
];

/** Only entry points read configuration from disk and environment; the layers below are handed a Config. */
const LOADS_CONFIG = new Set(["sdk", "gateway", "run", "cli", "demo", "index"]);

/**
 * Known upward imports still waiting for their fix, as "from -> to" (src-relative paths). An entry
 * that no longer matches a real import fails the test, so the list can only shrink.
 */
const ALLOWED = new Set<string>([]);

const LAYER_OF = new Map<string, number>();
LAYERS.forEach((names, layer) => {
  for (const name of names) LAYER_OF.set(name, layer);
});

interface Import {
  from: string;
  to: string;
}

/** Relative specifiers of every import/export/dynamic import, comments removed first. */
function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const out: string[] = [];
  const patterns = [
    /\bfrom\s*["'](\.{1,2}\/[^"']+)["']/g,
    /\bimport\s*\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
    /\bimport\s*["'](\.{1,2}\/[^"']+)["']/g,
  ];
  for (const pattern of patterns) for (const m of code.matchAll(pattern)) out.push(m[1]!);
  return out;
}

/** `intensity/live.ts` → `intensity`, `config.ts` → `config`. */
function moduleOf(srcPath: string): string {
  const first = srcPath.split("/")[0]!;
  return srcPath.includes("/") ? first : first.replace(/\.(d\.)?ts$/, "");
}

function listSources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => relative(src, join(e.parentPath, e.name)).split("\\").join("/"));
}

function importsOf(files: ReadonlyMap<string, string>): Import[] {
  const out: Import[] = [];
  for (const [from, source] of files) {
    for (const spec of importSpecifiers(source)) {
      const to = relative(src, resolve(src, dirname(from), spec))
        .split("\\")
        .join("/");
      out.push({ from, to });
    }
  }
  return out;
}

/** Every import from a lower layer to a higher one, and every unknown module, as "from -> to". */
function layerViolations(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const { from, to } of importsOf(files)) {
    const a = LAYER_OF.get(moduleOf(from));
    const b = LAYER_OF.get(moduleOf(to));
    if (a === undefined) out.push(`${from}: module ${moduleOf(from)} has no layer`);
    else if (b === undefined) out.push(`${to}: module ${moduleOf(to)} has no layer`);
    else if (b > a) out.push(`${from} -> ${to}`);
  }
  for (const [path, source] of files) {
    const reads = /\bimport\s*\{[^}]*\bloadConfig\b[^}]*\}\s*from\s*["'][^"']*config\.ts["']/.test(source);
    if (reads && !LOADS_CONFIG.has(moduleOf(path))) out.push(`${path} loads config`);
  }
  return [...new Set(out)];
}

/** Cycles between modules (directories), each as "a -> b -> … -> a". */
function moduleCycles(files: ReadonlyMap<string, string>): string[] {
  const edges = new Map<string, Set<string>>();
  for (const { from, to } of importsOf(files)) {
    const a = moduleOf(from);
    const b = moduleOf(to);
    // An allowed upward import is already reported as such; it is not counted twice as a cycle.
    if (a === b || ALLOWED.has(`${from} -> ${to}`)) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
  }
  const cycles: string[] = [];
  const walk = (node: string, path: string[]): void => {
    for (const next of edges.get(node) ?? []) {
      if (next === path[0]) cycles.push([...path, next].join(" -> "));
      else if (!path.includes(next) && next > path[0]!) walk(next, [...path, next]);
    }
  };
  for (const start of edges.keys()) walk(start, [start]);
  return cycles;
}

function renderOrder(): string {
  return LAYERS.slice(0, -1)
    .map((names) => names.filter((n) => n !== "types").join(", "))
    .join(" → ");
}

describe("layers", () => {
  const files = new Map(listSources(src).map((p) => [p, readFileSync(join(src, p), "utf8")]));

  it("finds the imports it checks (the scan is not empty)", () => {
    const imports = importsOf(files);
    expect(files.size).toBeGreaterThan(50);
    expect(imports.length).toBeGreaterThan(200);
    expect(imports).toContainEqual({ from: "metrics/carbon-metrics.ts", to: "core/job-record.ts" });
  });

  it("no module imports from a higher layer (beyond the listed known cases)", () => {
    const found = layerViolations(files);
    expect(found.filter((v) => !ALLOWED.has(v))).toEqual([]);
    // A fixed case leaves the allowlist.
    expect([...ALLOWED].filter((a) => !found.includes(a))).toEqual([]);
  });

  it("modules import each other without cycles", () => {
    expect(moduleCycles(files)).toEqual([]);
  });

  it("reports an upward import, a type-only one, a re-export and a dynamic import", () => {
    const fake = new Map([
      ["model/a.ts", 'import { x } from "../processor/enrich.ts";'],
      ["intensity/b.ts", 'import type { JobRecord } from "../core/job-record.ts";'],
      ["job/c.ts", 'export { y } from "../metrics/views.ts";'],
      ["power/d.ts", 'const m = await import("../run/procfs.ts");'],
      ["core/e.ts", '/* import { z } from "../cli/format.ts"; */\n// from "../sdk/x.ts"\nexport {};'],
      ["util/f.ts", 'import { loadConfig } from "../config.ts";'],
    ]);
    expect(layerViolations(fake).sort()).toEqual(
      [
        "intensity/b.ts -> core/job-record.ts",
        "job/c.ts -> metrics/views.ts",
        "model/a.ts -> processor/enrich.ts",
        "power/d.ts -> run/procfs.ts",
        "util/f.ts loads config",
      ].sort(),
    );
  });

  it("reports a cycle between two modules of one layer", () => {
    const fake = new Map([
      ["metrics/a.ts", 'import { x } from "../processor/b.ts";'],
      ["processor/b.ts", 'import { y } from "../metrics/a.ts";'],
    ]);
    expect(moduleCycles(fake)).toEqual(["metrics -> processor -> metrics"]);
  });

  it("README's Layout section states the same order", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8").replace(/\s+/g, " ");
    const stated = /Layers, lowest first: ([^.]*)\./.exec(readme)?.[1];
    expect(stated).toBe(renderOrder());
  });
});
