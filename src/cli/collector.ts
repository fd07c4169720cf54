/**
 * `co2e collector [--config FILE] [--listen HOST:PORT] [--metrics-listen HOST:PORT] [--forward URL]`:
 * runs the OTLP/HTTP gateway until SIGTERM/SIGINT, then stops accepting, finishes in-flight
 * requests, flushes the forward queue and exits (0 when every acknowledged span was forwarded,
 * 1 when the shutdown timeout left some behind).
 */
import { loadConfig } from "../config.ts";
import { startGateway } from "../gateway/server.ts";
import { parseFlagsOrHelp } from "./args.ts";

export const COLLECTOR_HELP = `Usage: co2e collector [options]

OTLP/HTTP gateway: receives spans (POST /v1/traces, protobuf or JSON), adds carbon.* attributes
to job spans (those with job.name), forwards every span to --forward, serves /metrics.

Options:
  --config FILE            YAML config (default: CO2E_CONFIG or config/default.yaml)
  --listen HOST:PORT       OTLP/HTTP listener (default 127.0.0.1:4318; port 0 = any free port)
  --metrics-listen HOST:PORT  Prometheus /metrics listener (default 127.0.0.1:9464)
  --forward URL            downstream OTLP/HTTP traces endpoint, e.g. http://otel:4318/v1/traces
                           (without it spans are counted and dropped after enrichment)
  -h, --help               show this help

See config/collector.yaml for limits, queue sizes and the bearer token.
`;

export async function run(argv: string[]): Promise<number> {
  const values = parseFlagsOrHelp(
    argv,
    {
      config: { type: "string" },
      listen: { type: "string" },
      "metrics-listen": { type: "string" },
      forward: { type: "string" },
    },
    COLLECTOR_HELP,
  );
  if (!values) return 0;
  const config = loadConfig({
    file: values.config as string | undefined,
    overrides: {
      gateway: {
        listen: values.listen as string | undefined,
        metricsListen: values["metrics-listen"] as string | undefined,
        forwardUrl: values.forward as string | undefined,
      },
    },
  });
  const gateway = await startGateway(config);
  const forward = gateway.forwardUrl
    ? `forwarding to ${gateway.forwardUrl}`
    : "no downstream (spans dropped after enrichment)";
  process.stdout.write(
    `co2e collector listening on ${gateway.url} (OTLP/HTTP), metrics on ${gateway.metricsUrl}, ${forward}\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  process.stderr.write(`co2e collector: ${signal}: draining\n`);
  const clean = await gateway.close();
  const s = gateway.stats();
  process.stderr.write(
    `co2e collector: stopped; received ${s.receivedSpans} spans, forwarded ${s.forwardedSpans}, dropped ${s.droppedSpans}\n`,
  );
  return clean ? 0 : 1;
}
