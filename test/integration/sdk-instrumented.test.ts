// The preset beside the real http instrumentation, in a child process (the instrumentation patches
// node:http for the whole process): the service's own requests become server spans, scrapes of the
// preset's /metrics do not.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const NODE = join(root, "node_modules/.bin/node");

const SCRIPT = (index: string, instrumentation: string) => `
import { createRequire } from "node:module";
import { HttpInstrumentation } from ${JSON.stringify(instrumentation)};
import { startCarbonSdk } from ${JSON.stringify(index)};

const sdk = startCarbonSdk({
  serviceName: "instrumented",
  traceExporters: ["console"],
  instrumentations: [new HttpInstrumentation()],
  gpu: false,
});
await sdk.ready;
// The instrumentation patches http when it is required (ESM imports of node:http are not hooked).
const http = createRequire(import.meta.url)("node:http");
const own = http.createServer((_req, res) => res.end("hello"));
await new Promise((resolve) => own.listen(0, "127.0.0.1", resolve));
await (await fetch(\`http://127.0.0.1:\${own.address().port}/hello\`)).text();
for (let i = 0; i < 3; i++) await (await fetch(sdk.metricsUrl)).text();
own.close();
await sdk.shutdown();
`;

describe("startCarbonSdk with the http instrumentation", () => {
  it("traces the service's requests but not the scrapes of /metrics", () => {
    const dir = mkdtempSync(join(tmpdir(), "co2e-instrumented-"));
    try {
      const file = join(dir, "service.mjs");
      const instrumentation = join(root, "node_modules/@opentelemetry/instrumentation-http/dist/index.mjs");
      writeFileSync(file, SCRIPT(join(root, "src/index.ts"), instrumentation));
      const result = spawnSync(NODE, [file], {
        encoding: "utf8",
        timeout: 30_000,
        env: {
          ...process.env,
          OTEL_EXPORTER_PROMETHEUS_PORT: "0",
          OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
        },
      });
      expect(result.status, result.stderr).toBe(0);
      const paths = [...result.stdout.matchAll(/'url\.path': '([^']*)'/g)].map((m) => m[1]);
      expect(paths).toEqual(["/hello"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
