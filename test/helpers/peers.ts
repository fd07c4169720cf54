/**
 * The real peers that .ci/peers.sh builds and caches (a Python venv with the OpenTelemetry SDK, an
 * OpenTelemetry Collector binary), and child-process helpers to run them. A test that needs one
 * that is absent skips loudly: `peerMissing` returns the reason and warns once on the console.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const PEERS_DIR = process.env.CO2E_PEERS_DIR ?? join(homedir(), ".cache", "otel-co2e");
export const PYTHON = join(PEERS_DIR, "venv", "bin", "python");
export const OTELCOL = join(PEERS_DIR, "otelcol");
export const TRAIN_JOB = new URL("../peers/python/train_job.py", import.meta.url).pathname;

/**
 * Undefined when `path` exists, or in CI (where .ci/run builds the peers, so a missing one must
 * fail the tests, not skip them); else the skip reason, also printed with console.warn.
 */
export function peerMissing(what: string, path: string): string | undefined {
  if (existsSync(path)) return undefined;
  const reason = `${what} not found at ${path}: run \`bash .ci/peers.sh\` to build it (CI does)`;
  if (process.env.CI === "true") {
    console.warn(`\n!!! ${reason}; in CI the peer tests run anyway and FAIL\n`);
    return undefined;
  }
  console.warn(`\n!!! SKIPPING peer tests: ${reason}\n`);
  return reason;
}

/** The environment without any OTEL_* variable of the test runner's own. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OTEL_")) env[k] = v;
  return { ...env, ...extra };
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a child to completion, killing it after `timeoutMs`. */
export function runChild(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Otelcol {
  child: ChildProcess;
  logs(): string;
  /** SIGTERM, then waits for the exit (the Collector drains its queue first). */
  stop(): Promise<void>;
}

/**
 * Starts the Collector with `configs` (files or `yaml:` snippets, merged in order; items starting
 * with `--` are passed as flags, e.g. `--set=…`) and waits until
 * its health_check endpoint answers 200.
 */
export async function startOtelcol(
  configs: string[],
  env: NodeJS.ProcessEnv,
  healthUrl: string,
): Promise<Otelcol> {
  const child = spawn(
    OTELCOL,
    configs.flatMap((c) => (c.startsWith("--") ? [c] : ["--config", c])),
    {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let logs = "";
  child.stdout!.on("data", (d: Buffer) => {
    logs += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    logs += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`otelcol exited ${child.exitCode}:\n${logs}`);
    const ok = await fetch(healthUrl).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`otelcol not healthy after 20 s:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    logs: () => logs,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
