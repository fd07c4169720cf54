// The README's "In a Node service" snippet is run as written (import rewritten to this checkout,
// `buildReport` supplied): a user who copies it gets a job span with carbon figures.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const NODE = join(root, "node_modules/.bin/node");

function quickStartSnippet(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.split(/^## /m).find((s) => s.startsWith("In a Node service"));
  const code = section?.match(/```ts\n([\s\S]*?)```/)?.[1];
  if (!code) throw new Error('README has no ```ts block under "## In a Node service"');
  return code;
}

describe("README quick start", () => {
  it("runs as written and prints an enriched job span", () => {
    const dir = mkdtempSync(join(tmpdir(), "co2e-readme-"));
    try {
      const file = join(dir, "quickstart.ts");
      const code = quickStartSnippet().replace('"otel-co2e"', JSON.stringify(join(root, "src/index.ts")));
      writeFileSync(
        file,
        `${code}\nfunction buildReport() { let x = 0; for (let i = 0; i < 2e7; i++) x += i; return x; }\n` +
          'console.log("report=" + report);\n',
      );
      const result = spawnSync(NODE, [file], {
        encoding: "utf8",
        timeout: 30_000,
        env: {
          ...process.env,
          OTEL_TRACES_EXPORTER: "console",
          OTEL_EXPORTER_PROMETHEUS_PORT: "0",
          CO2E_ZONE: "DE",
        },
      });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toContain(`report=${(2e7 * (2e7 - 1)) / 2}`);
      expect(result.stdout).toMatch(/'job\.name': 'nightly-report'/);
      expect(result.stdout).toMatch(/'carbon\.co2e\.grams': \d/);
      expect(result.stdout).toMatch(/'carbon\.intensity\.zone': 'DE'/);
      expect(result.stdout).toMatch(/'job\.functional_units': 1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
