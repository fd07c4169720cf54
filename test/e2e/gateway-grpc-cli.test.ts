/**
 * `co2e collector --grpc-listen` through the real CLI: the startup line names the gRPC address,
 * an Export call over it is enriched and forwarded, a bad value is reported as the flag (exit 2),
 * and a taken port is a "cannot listen" failure (exit 1).
 */
import { createServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { TRACE_EXPORT_PATH } from "../../src/gateway/grpc-receiver.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { runCli } from "../helpers/cli.ts";
import { makeExportRequest, spawnCollector, startOtlpSink } from "../helpers/otlp-sink.ts";

const cleanups = useCleanups();

describe("co2e collector --grpc-listen", () => {
  it("serves TraceService/Export beside OTLP/HTTP", async () => {
    const sink = await startOtlpSink();
    cleanups.push(() => sink.close());
    const gw = await spawnCollector(
      "zone: DE\ngateway:\n  listen: 127.0.0.1:0\n  metricsListen: 127.0.0.1:0\n  intensityWaitMs: 50\n",
      ["--grpc-listen", "127.0.0.1:0", "--forward", sink.url],
    );
    cleanups.push(async () => {
      if (gw.exitCode() === undefined) {
        gw.kill("SIGKILL");
        await gw.exited;
      }
    });
    expect(gw.grpcAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const client = new grpc.Client(gw.grpcAddress!, grpc.credentials.createInsecure());
    cleanups.push(async () => client.close());
    const id = (b: Buffer) => b;
    const code = await new Promise<grpc.status>((resolve) =>
      client.makeUnaryRequest(
        TRACE_EXPORT_PATH,
        id,
        id,
        Buffer.from(makeExportRequest({ spans: 10, jobEvery: 5 })),
        new grpc.Metadata(),
        (error) => resolve(error ? error.code : grpc.status.OK),
      ),
    );
    expect(code).toBe(grpc.status.OK);
    await sink.waitForSpans(10);
    expect(sink.spans.filter((s) => s.attributes["carbon.co2e.grams"] !== undefined)).toHaveLength(2);
    gw.kill("SIGTERM");
    expect(await gw.exited).toBe(0);
  });

  it("reports a bad value as the flag, exit 2", async () => {
    const r = await runCli(["collector", "--grpc-listen", "nope"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('co2e collector: --grpc-listen: must be HOST:PORT, got "nope"');
  });

  it("a taken port: cannot listen, exit 1", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as { port: number }).port;
    const r = await runCli([
      "collector",
      "--listen",
      "127.0.0.1:0",
      "--metrics-listen",
      "127.0.0.1:0",
      "--grpc-listen",
      `127.0.0.1:${port}`,
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`co2e collector: cannot listen on 127.0.0.1:${port}`);
  });
});
