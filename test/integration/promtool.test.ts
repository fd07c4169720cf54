/**
 * The monitoring configuration, checked by the real tools: promtool (config, rules, rule unit
 * tests), amtool (Alertmanager config) and docker-compose (compose file). A missing tool skips
 * the test with a loud warning locally and fails it in CI (CI=true).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { PROJECT_ROOT, PROMETHEUS_DIR, run, runAsync, skipWithout } from "../helpers/prometheus.ts";

const noPromtool = skipWithout("promtool", "promtool checks of config/prometheus");
const noAmtool = skipWithout("amtool", "amtool check-config of config/alertmanager.yml");
const noCompose = skipWithout("docker-compose", "docker-compose config -q of docker-compose.yml");

const ruleFiles = readdirSync(join(PROMETHEUS_DIR, "rules"))
  .filter((f) => f.endsWith(".yml"))
  .map((f) => `rules/${f}`);
const ruleTests = readdirSync(join(PROMETHEUS_DIR, "tests"))
  .filter((f) => f.endsWith(".yml"))
  .map((f) => `tests/${f}`);

function expectOk(result: { status: number | null; stdout: string; stderr: string }): void {
  expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
}

describe("promtool", () => {
  it.skipIf(noPromtool)("check config accepts prometheus.yml and the rule files it loads", () => {
    const result = run("promtool", ["check", "config", "prometheus.yml"], PROMETHEUS_DIR);
    expectOk(result);
    // Every rule file in rules/ is actually loaded, not just present.
    for (const file of ruleFiles) expect(result.stdout).toContain(file);
  });

  it.skipIf(noPromtool)("check rules accepts every rule file", () => {
    expect(ruleFiles.length).toBeGreaterThanOrEqual(3);
    expectOk(run("promtool", ["check", "rules", ...ruleFiles], PROMETHEUS_DIR));
  });

  // One promtool process per file, side by side: each file evaluates its own timeline on one core.
  // Each file sets the coarsest evaluation interval its cases allow (see the files' headers).
  it.skipIf(noPromtool).concurrent.for(ruleTests)(
    "test rules %s: its alerts fire and stay quiet where they should",
    { timeout: 300_000 },
    async (file) => {
      const result = await runAsync("promtool", ["test", "rules", file], PROMETHEUS_DIR, 240_000);
      expectOk(result);
      expect(result.stdout).toContain("SUCCESS");
    },
  );

  it.skipIf(noPromtool)("check rules rejects a broken rule file (the check can fail)", () => {
    const dir = mkdtempSync(join(tmpdir(), "co2e-bad-rules-"));
    try {
      const bad = join(dir, "bad.yml");
      writeFileSync(
        bad,
        "groups:\n  - name: x\n    rules:\n      - record: a:b\n        expr: sum(rate(x[5m])\n",
      );
      expect(run("promtool", ["check", "rules", bad]).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

interface AlertCase {
  alertname: string;
  exp_alerts?: unknown[] | null;
}
interface RuleTestFile {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: AlertCase[] }>;
}

describe("rule test files", () => {
  const files = ruleTests.map(
    (file) => parseYaml(readFileSync(join(PROMETHEUS_DIR, file), "utf8")) as RuleTestFile,
  );
  const alertNames = ruleFiles.flatMap((file) => {
    const doc = parseYaml(readFileSync(join(PROMETHEUS_DIR, file), "utf8")) as {
      groups: Array<{ rules: Array<{ alert?: string }> }>;
    };
    return doc.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
  });

  it("every alert has a firing case and a quiet case", () => {
    expect(alertNames.length).toBeGreaterThan(0);
    const cases = files.flatMap((f) => f.tests.flatMap((t) => t.alert_rule_test ?? []));
    for (const name of alertNames) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name} fires somewhere`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name} stays quiet somewhere`,
      ).toBe(true);
    }
  });

  it("every file loads the rule files prometheus.yml loads", () => {
    for (const [i, file] of files.entries()) {
      expect(file.rule_files.map((f) => f.replace(/^\.\.\//, "")).sort(), ruleTests[i]).toEqual(
        [...ruleFiles].sort(),
      );
    }
  });
});

describe("amtool", () => {
  it.skipIf(noAmtool)("check-config accepts config/alertmanager.yml", () => {
    expectOk(run("amtool", ["check-config", join(PROJECT_ROOT, "config/alertmanager.yml")]));
  });
});

describe("docker-compose", () => {
  it.skipIf(noCompose)("config -q accepts docker-compose.yml", () => {
    // The token is passed through from the environment; compose must accept it unset too.
    const env = { ...process.env };
    delete env.ELECTRICITYMAPS_API_TOKEN;
    const result = spawnSync("docker-compose", ["-f", "docker-compose.yml", "config", "-q"], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
      timeout: 60_000,
      env,
    });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
  });
});
