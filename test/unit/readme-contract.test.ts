// The README's attribute and metric tables document exactly what src/semconv.ts owns: a name
// added to one and not the other fails here.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as semconv from "../../src/semconv.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

function tableNames(heading: string): string[] {
  const section = readme.split(/^## /m).find((s) => s.startsWith(heading));
  if (!section) throw new Error(`README has no "## ${heading}" section`);
  return [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
}

function exported(prefix: string): string[] {
  return Object.entries(semconv)
    .filter(([key]) => key.startsWith(prefix))
    .map(([, value]) => value as string);
}

describe("README contract tables", () => {
  it("lists every span attribute of semconv.ts and nothing else", () => {
    expect(new Set(tableNames("Span attributes"))).toEqual(new Set(exported("ATTR_")));
  });

  it("lists every Prometheus metric of semconv.ts and nothing else", () => {
    expect(new Set(tableNames("Metrics"))).toEqual(new Set(exported("PROM_")));
  });
});
