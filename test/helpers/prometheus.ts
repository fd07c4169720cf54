/**
 * Test helpers for the monitoring stack: external binaries (promtool, prometheus, amtool,
 * docker-compose), child processes with bounded start and stop, a real Prometheus on 127.0.0.1,
 * its HTTP query API, and the Grafana dashboards' panels and queries.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";

export const PROJECT_ROOT = resolve(import.meta.dirname, "../..");
export const PROMETHEUS_DIR = join(PROJECT_ROOT, "config/prometheus");
export const DASHBOARD_DIR = join(PROJECT_ROOT, "grafana/dashboards");
export const DATASOURCE_DIR = join(PROJECT_ROOT, "grafana/provisioning/datasources");
/** Node 24 from the `node` dev dependency (the system node may be older). */
export const NODE_BIN = join(PROJECT_ROOT, "node_modules/.bin/node");

export const IN_CI = process.env.CI === "true";

/** True when `name --version` runs. */
export function hasBinary(name: string): boolean {
  const result = spawnSync(name, ["--version"], { stdio: "ignore", timeout: 10_000 });
  return result.error === undefined && result.status === 0;
}

/**
 * Whether a test needing `name` must be skipped: only when the binary is absent AND we are not in
 * CI. Absent binaries are reported loudly; in CI the test runs and fails on the missing binary.
 */
export function skipWithout(name: string, why: string): boolean {
  if (hasBinary(name)) return false;
  const how = "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager docker-compose";
  if (IN_CI) {
    console.warn(`\n!!! ${name} is missing in CI: ${why} will FAIL (install: ${how})\n`);
    return false;
  }
  console.warn(`\n!!! SKIPPING ${why}: \`${name}\` is not installed (${how})\n`);
  return true;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded), returning its output. */
export function run(command: string, args: string[], cwd = PROJECT_ROOT, timeoutMs = 120_000): RunResult {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout: timeoutMs });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Like `run`, without blocking the event loop: several of these run side by side as separate
 * processes (promtool evaluates one rule test file on one core).
 */
export function runAsync(
  command: string,
  args: string[],
  cwd = PROJECT_ROOT,
  timeoutMs = 120_000,
): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolveRun({ status: code, stdout, stderr });
    });
  });
}

/** A free TCP port on 127.0.0.1 (closed again before returning; tiny race accepted in tests). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`,
  );
}

/** A child process whose output is kept (last 64 KiB) for error messages. */
export interface Child {
  process: ChildProcess;
  output(): string;
  /** Resolves with the first match of `pattern` in stdout+stderr, or rejects on exit/timeout. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
}

export function startChild(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-65_536);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  child.on("error", (error) => append(Buffer.from(`\n[spawn error] ${error.message}\n`)));
  return {
    process: child,
    output: () => output,
    waitForOutput(pattern, timeoutMs) {
      return waitFor(
        `${pattern} in the output of ${command} ${args.join(" ")}`,
        async () => {
          const match = output.match(pattern);
          if (match) return match;
          if (child.exitCode !== null || child.signalCode !== null) {
            throw new Error(`process exited (${child.exitCode ?? child.signalCode}):\n${output}`);
          }
          return undefined;
        },
        timeoutMs,
        100,
      );
    },
  };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited (bounded). */
export async function stopChild(child: Child | undefined, graceMs = 5_000): Promise<void> {
  const proc = child?.process;
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
  await Promise.race([exited, sleep(graceMs + 2_000)]);
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// Prometheus
// ---------------------------------------------------------------------------------------------

interface ScrapeConfig {
  job_name: string;
  static_configs?: Array<{ targets: string[] }>;
  [key: string]: unknown;
}
interface PrometheusConfig {
  global?: Record<string, unknown>;
  rule_files?: string[];
  alerting?: unknown;
  scrape_configs?: ScrapeConfig[];
}

/** The project's prometheus.yml, parsed. */
export function loadPrometheusConfig(): PrometheusConfig {
  return parseYaml(readFileSync(join(PROMETHEUS_DIR, "prometheus.yml"), "utf8")) as PrometheusConfig;
}

/**
 * The project's prometheus.yml for a local test: each scrape job's targets replaced by
 * `targets[job_name]` (every job must be given one), 1 s scrape and evaluation, rule files as
 * absolute paths (so the file can live in a temp dir), no Alertmanager.
 */
export function localPrometheusConfig(targets: Record<string, string>): PrometheusConfig {
  const config = loadPrometheusConfig();
  config.global = {
    ...config.global,
    scrape_interval: "1s",
    evaluation_interval: "1s",
    scrape_timeout: "1s",
  };
  config.rule_files = (config.rule_files ?? []).map((file) => resolve(PROMETHEUS_DIR, file));
  delete config.alerting;
  for (const scrape of config.scrape_configs ?? []) {
    const target = targets[scrape.job_name];
    if (target === undefined) throw new Error(`no local target given for scrape job ${scrape.job_name}`);
    scrape.static_configs = [{ targets: [target] }];
  }
  return config;
}

export interface RunningPrometheus {
  url: string;
  child: Child;
  stop(): Promise<void>;
}

/** Starts the real `prometheus` binary on 127.0.0.1 with `configYaml`; resolves once ready. */
export async function startPrometheus(
  configYaml: string,
  readyTimeoutMs = 30_000,
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "co2e-prometheus-"));
  const configPath = join(dir, "prometheus.yml");
  writeFileSync(configPath, configYaml);
  const port = await freePort();
  const child = startChild("prometheus", [
    `--config.file=${configPath}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ]);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      "Prometheus /-/ready",
      async () => {
        if (child.process.exitCode !== null) throw new Error(`prometheus exited:\n${child.output()}`);
        const response = await fetch(`${url}/-/ready`);
        await response.body?.cancel();
        return response.ok ? true : undefined;
      },
      readyTimeoutMs,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, child, stop };
}

export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}
interface PromResponse {
  status: "success" | "error";
  data?: { resultType: string; result: PromSeries[] | [number, string] };
  errorType?: string;
  error?: string;
}

/** Result of a Prometheus query: series (vector/matrix) or a scalar turned into one series. */
export interface QueryResult {
  series: PromSeries[];
  error?: string;
}

async function promApi(url: string, path: string, params: Record<string, string>): Promise<QueryResult> {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await response.json()) as PromResponse;
  if (body.status !== "success" || !body.data) {
    return { series: [], error: `${body.errorType ?? response.status}: ${body.error ?? "no data"}` };
  }
  const { resultType, result } = body.data;
  if (resultType === "scalar" || resultType === "string") {
    return { series: [{ metric: {}, value: result as [number, string] }] };
  }
  return { series: result as PromSeries[] };
}

export function promQuery(url: string, expr: string): Promise<QueryResult> {
  return promApi(url, "/api/v1/query", { query: expr });
}

export function promQueryRange(
  url: string,
  expr: string,
  startS: number,
  endS: number,
  stepS: number,
): Promise<QueryResult> {
  return promApi(url, "/api/v1/query_range", {
    query: expr,
    start: String(startS),
    end: String(endS),
    step: String(stepS),
  });
}

// ---------------------------------------------------------------------------------------------
// Grafana dashboards
// ---------------------------------------------------------------------------------------------

export interface DashboardTarget {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
  instant?: boolean;
  range?: boolean;
}
export interface DashboardPanel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: DashboardTarget[];
  fieldConfig?: { defaults?: { unit?: string } };
  panels?: DashboardPanel[];
}
export interface TemplateVariable {
  name: string;
  type: string;
  query?: unknown;
  datasource?: { type?: string; uid?: string };
}
export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating?: { list?: TemplateVariable[] };
}

/** Every dashboard JSON in grafana/dashboards, with its file name. */
export function loadDashboards(): Array<{ file: string; dashboard: Dashboard }> {
  return readdirSync(DASHBOARD_DIR)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => ({
      file,
      dashboard: JSON.parse(readFileSync(join(DASHBOARD_DIR, file), "utf8")) as Dashboard,
    }));
}

/** Panels in display order, rows' nested panels included; rows themselves are left out. */
export function queryPanels(dashboard: Dashboard): DashboardPanel[] {
  const out: DashboardPanel[] = [];
  const visit = (panels: DashboardPanel[]) => {
    for (const panel of panels) {
      if (panel.type === "row") visit(panel.panels ?? []);
      else out.push(panel);
    }
  };
  visit(dashboard.panels);
  return out;
}

/** Every panel and row id, nested ones included (ids must be unique across both). */
export function allPanelIds(dashboard: Dashboard): number[] {
  const ids: number[] = [];
  const visit = (panels: DashboardPanel[]) => {
    for (const panel of panels) {
      if (panel.id !== undefined) ids.push(panel.id);
      visit(panel.panels ?? []);
    }
  };
  visit(dashboard.panels);
  return ids;
}

/** The datasource uids declared by the provisioning files. */
export function provisionedDatasourceUids(): string[] {
  const uids: string[] = [];
  for (const file of readdirSync(DATASOURCE_DIR).filter((f) => /\.ya?ml$/.test(f))) {
    const doc = parseYaml(readFileSync(join(DATASOURCE_DIR, file), "utf8")) as {
      datasources?: Array<{ uid?: string }>;
    };
    for (const ds of doc.datasources ?? []) if (ds.uid) uids.push(ds.uid);
  }
  return uids;
}

/**
 * Replaces Grafana variables in a query with concrete values: `$name`, `${name}`, `${name:fmt}`
 * and `[[name]]`. Longer names first, so `$__rate_interval` is not read as `$__rate`.
 */
export function substituteVariables(expr: string, values: Record<string, string>): string {
  let out = expr;
  for (const name of Object.keys(values).sort((a, b) => b.length - a.length)) {
    const value = values[name]!;
    out = out
      .replaceAll(new RegExp(`\\$\\{${name}(?::[^}]*)?\\}`, "g"), value)
      .replaceAll(`[[${name}]]`, value)
      .replaceAll(new RegExp(`\\$${name}(?![A-Za-z0-9_])`, "g"), value);
  }
  return out;
}

/** The variables a query still contains after substitution (should be none). */
export function leftoverVariables(expr: string): string[] {
  return [...expr.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)|\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]/g)].map(
    (m) => m[1] ?? m[2]!,
  );
}
