/**
 * Runs the real `co2e` binary (bin/co2e.js) in a child process under the project's Node 24, the
 * way a user would, and collects what it printed. Shared by the end-to-end CLI tests.
 *
 *   const r = await runCli(["intensity", "--zone", "DE", "--json"], { env: { ELECTRICITYMAPS_API_TOKEN: "t" } });
 *   expect(r.code, r.stderr).toBe(0);
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Node 24 of the project: the system node may be older and cannot strip types. */
export const NODE = join(ROOT, "node_modules/.bin/node");
export const CLI = join(ROOT, "bin/co2e.js");

/**
 * Variables of the caller's environment that would change what co2e does (a token, a config, an
 * OTLP endpoint): a test that wants one sets it explicitly.
 */
const CALLER_PREFIXES = ["ELECTRICITYMAPS_", "CO2E_", "OTEL_"];

export interface CliResult {
  /** The exit code; -1 when the process died of a signal (e.g. killed at the timeout). */
  code: number;
  stdout: string;
  stderr: string;
  /** True when the helper killed the process at `timeoutMs`. */
  timedOut: boolean;
}

export interface RunCliOptions {
  /**
   * Set on top of the base environment; `undefined` removes a variable. The base is the caller's
   * environment without ELECTRICITYMAPS_*, CO2E_* and OTEL_* variables.
   */
  env?: NodeJS.ProcessEnv;
  /** Start from PATH and HOME only instead of the caller's environment. @default false */
  bareEnv?: boolean;
  /** SIGKILL after this long. @default 20_000 */
  timeoutMs?: number;
  /** @default the project root */
  cwd?: string;
  /** Called once the child exists, e.g. to send it a signal when it prints something. */
  onSpawn?: (child: ChildProcess) => void;
}

function childEnv(options: RunCliOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = options.bareEnv
    ? {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        // Only Node's compile cache (a speed-up, no effect on behaviour), when the runner set one.
        ...(process.env.NODE_COMPILE_CACHE ? { NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE } : {}),
      }
    : Object.fromEntries(
        Object.entries(process.env).filter(([key]) => !CALLER_PREFIXES.some((p) => key.startsWith(p))),
      );
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** `co2e <args…>`; resolves when the process has exited and its output is complete. */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: childEnv(options),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    // Decoded as a stream: a multi-byte character (₂, ≥) split across chunks stays whole.
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 20_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, timedOut });
    });
    options.onSpawn?.(child);
  });
}
