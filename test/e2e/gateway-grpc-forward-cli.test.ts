/**
 * `co2e collector --forward-protocol grpc` through the real CLI: two collector processes, the
 * first forwarding over OTLP/gRPC into the second's --grpc-listen, which forwards over OTLP/HTTP
 * to a sink; job spans arrive enriched once and both processes drain and exit 0 on SIGTERM. Bad
 * values are reported as the flag or the config key (exit 2), and --help lists the flag.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as sc from "../../src/semconv.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { runCli } from "../helpers/cli.ts";
import {
  makeExportRequest,
  type SpawnedCollector,
  spawnCollector,
  startOtlpSink,
} from "../helpers/otlp-sink.ts";

const cleanups = useCleanups();
const CONFIG =
  "zone: DE\ngateway:\n  listen: 127.0.0.1:0\n  metricsListen: 127.0.0.1:0\n  intensityWaitMs: 50\n";

function reap(gw: SpawnedCollector): void {
  cleanups.push(async () => {
    if (gw.exitCode() === undefined) {
      gw.kill("SIGKILL");
      await gw.exited;
    }
  });
}

describe("co2e collector --forward-protocol grpc", () => {
  it("gateway → gateway over gRPC: enriched once, drained on SIGTERM, exit 0", async () => {
    const sink = await startOtlpSink();
    cleanups.push(() => sink.close());
    const second = await spawnCollector(CONFIG, ["--grpc-listen", "127.0.0.1:0", "--forward", sink.url]);
    reap(second);
    const first = await spawnCollector(CONFIG, [
      "--forward",
      `http://${second.grpcAddress}`,
      "--forward-protocol",
      "grpc",
    ]);
    reap(first);
    expect(first.stderr()).toContain(`forwarding to http://${second.grpcAddress} (OTLP/gRPC)`);
    const res = await fetch(`${first.url}/v1/traces`, {
      method: "POST",
      body: makeExportRequest({ spans: 20, jobEvery: 5 }),
      headers: { "content-type": "application/x-protobuf" },
    });
    expect(res.status).toBe(200);
    // SIGTERM at once: the first gateway's drain must still deliver what it acknowledged.
    first.kill("SIGTERM");
    expect(await first.exited, first.stderr()).toBe(0);
    expect(first.stderr()).toContain("forwarded 20, dropped 0");
    await sink.waitForSpans(20);
    const jobs = sink.spans.filter((s) => s.attributes[sc.ATTR_JOB_NAME]);
    expect(jobs).toHaveLength(4);
    for (const job of jobs) {
      expect(job.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeGreaterThan(0);
      expect(job.attributes[sc.ATTR_CARBON_METRICS_RECORDED]).toBe(true);
    }
    second.kill("SIGTERM");
    expect(await second.exited, second.stderr()).toBe(0);
  });

  it("a bad --forward-protocol is reported as the flag, exit 2", async () => {
    const r = await runCli(["collector", "--forward-protocol", "bogus"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(
      'co2e collector: --forward-protocol: must be http/protobuf or grpc, got "bogus"',
    );
  });

  it("with grpc, a --forward URL with a path is reported as the flag, exit 2", async () => {
    const r = await runCli([
      "collector",
      "--forward-protocol",
      "grpc",
      "--forward",
      "http://127.0.0.1:4317/v1/traces",
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("co2e collector: --forward: with forwardProtocol grpc takes no path");
    expect(r.stderr).toContain("use http://127.0.0.1:4317");
  });

  it("a bad gateway.forwardProtocol in the config file names the key, exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "co2e-fwdproto-"));
    const file = join(dir, "collector.yaml");
    writeFileSync(file, "gateway:\n  forwardProtocol: http/json\n");
    const r = await runCli(["collector", "--config", file]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/gateway\.forwardProtocol: .*got "http\/json"/);
  });

  it("--help lists the flag", async () => {
    const r = await runCli(["collector", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--forward-protocol P\s+http\/protobuf \(default\) or grpc/);
  });
});
