/**
 * `co2e collector` start-up mistakes through the real CLI: a bad flag value is reported as the
 * flag the user typed (exit 2), not as a key of a config file they did not edit, and a port that
 * is already taken is a plain "cannot listen" failure (exit 1), not a config error.
 */
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
});

/** Occupies a loopback port for the test and returns it. */
async function takenPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

describe("co2e collector flags", () => {
  it.each([
    [["--listen", "nope"], '--listen: must be HOST:PORT, got "nope"'],
    [["--metrics-listen", "127.0.0.1:99999"], '--metrics-listen: must be HOST:PORT, got "127.0.0.1:99999"'],
    [["--forward", "notaurl"], "--forward: must be an http:// or https:// URL"],
  ])("%j is reported as the flag, exit 2", async (args, message) => {
    const r = await runCli(["collector", ...args]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`co2e collector: ${message}`);
    expect(r.stderr).toContain("[CO2E_ERR_USAGE]");
    expect(r.stderr).not.toMatch(/invalid config|gateway\.(listen|metricsListen|forwardUrl)|default\.yaml/);
  });

  it.each([
    ["--listen", ["--metrics-listen", "127.0.0.1:0"]],
    ["--metrics-listen", ["--listen", "127.0.0.1:0"]],
  ])("a port already in use for %s: 'cannot listen … address already in use', exit 1", async (flag, rest) => {
    const port = await takenPort();
    const r = await runCli(["collector", flag, `127.0.0.1:${port}`, ...rest], { timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`co2e collector: cannot listen on 127.0.0.1:${port}: address already in use`);
    expect(r.stderr).not.toContain("CO2E_ERR_CONFIG");
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace: not a bug
  });
});
