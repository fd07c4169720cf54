/**
 * Shutdown of a real `bin/co2e.js collector` process with acknowledged spans it could not forward
 * yet: it keeps retrying until the shutdown deadline itself, exits 1 and says how many spans were
 * lost when the downstream never answers, and forwards everything (exit 0) when the downstream
 * comes back before the deadline.
 */
import { describe, expect, it } from "vitest";
import { useCleanups } from "../helpers/cleanups.ts";
import {
  freePort,
  makeExportRequest,
  type SpawnedCollector,
  spawnCollector,
  startOtlpSink,
} from "../helpers/otlp-sink.ts";

const cleanups = useCleanups();

async function collector(forwardUrl: string, shutdownTimeoutMs: number): Promise<SpawnedCollector> {
  const c = await spawnCollector(
    `gateway:\n  listen: 127.0.0.1:0\n  metricsListen: 127.0.0.1:0\n  intensityWaitMs: 50\n` +
      `  shutdownTimeoutMs: ${shutdownTimeoutMs}\n`,
    ["--forward", forwardUrl],
  );
  cleanups.push(async () => {
    if (c.exitCode() === undefined) {
      c.kill("SIGKILL");
      await c.exited;
    }
  });
  return c;
}

/** Posts two spans (one a job span) and expects the collector to acknowledge them. */
async function postTwoSpans(c: SpawnedCollector): Promise<void> {
  const res = await fetch(`${c.url}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/x-protobuf" },
    body: makeExportRequest({ spans: 2, jobEvery: 2, seed: 7 }),
  });
  expect(res.status).toBe(200);
}

describe("co2e collector shutdown with spans not yet forwarded", () => {
  it("retries until the deadline, then exits 1 and logs the acknowledged spans it lost", async () => {
    const port = await freePort(); // nothing listens: every attempt is refused
    const shutdownTimeoutMs = 2000;
    const c = await collector(`http://127.0.0.1:${port}/v1/traces`, shutdownTimeoutMs);
    await postTwoSpans(c);
    const signalledAt = Date.now();
    c.kill("SIGTERM");
    const code = await c.exited;
    const elapsedMs = Date.now() - signalledAt;
    expect(code, c.stderr()).toBe(1);
    expect(c.stderr()).toMatch(
      /shutdown deadline \(2000 ms\) reached: 2 acknowledged span\(s\) were not forwarded to http:\/\/127\.0\.0\.1:\d+\/v1\/traces and are lost \(last attempt: [^)]*ECONNREFUSED/,
    );
    expect(c.stderr()).toMatch(/stopped; received 2 spans, forwarded 0, dropped 2, lost at shutdown 2/);
    // It kept trying until (about) the deadline, not giving up when the next backoff looked long.
    expect(elapsedMs).toBeGreaterThanOrEqual(shutdownTimeoutMs - 400);
  });

  it("forwards everything and exits 0 when the downstream comes back just before the deadline", async () => {
    const port = await freePort();
    const shutdownTimeoutMs = 3000;
    const c = await collector(`http://127.0.0.1:${port}/v1/traces`, shutdownTimeoutMs);
    await postTwoSpans(c);
    c.kill("SIGTERM");
    // Back 2.2 s into the 3 s deadline: only an attempt close to the deadline reaches it.
    await new Promise((resolve) => setTimeout(resolve, 2200));
    expect(c.exitCode(), c.stderr()).toBeUndefined();
    const down = await startOtlpSink({ port });
    cleanups.push(() => down.close());
    const code = await c.exited;
    expect(code, c.stderr()).toBe(0);
    expect(down.spans).toHaveLength(2);
    expect(c.stderr()).toMatch(/stopped; received 2 spans, forwarded 2, dropped 0\n/);
    expect(c.stderr()).not.toMatch(/lost/);
  });
});
