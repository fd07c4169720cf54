/**
 * `co2e collector [--config FILE] [--listen HOST:PORT] [--metrics-listen HOST:PORT] [--forward URL]
 * [--forward-protocol http/protobuf|grpc]`:
 * runs the OTLP/HTTP gateway until SIGTERM/SIGINT, then stops accepting, finishes in-flight
 * requests, flushes the forward queue and exits (0 when every acknowledged span was forwarded,
 * 1 when the shutdown timeout left some behind, or when a listener cannot be opened).
 */
import { FORWARD_PROTOCOLS, type ForwardProtocol, grpcForwardUrlProblem, loadConfig } from "../config.ts";
import { startGateway } from "../gateway/server.ts";
import { parseHostPort } from "../util/host-port.ts";
import { parseFlagsOrHelp, usageError } from "./args.ts";
import { EXIT } from "./exit-codes.ts";

export const COLLECTOR_HELP = `Usage: co2e collector [options]

OTLP/HTTP gateway: receives spans (POST /v1/traces, protobuf or JSON), adds carbon.* attributes
to job spans (those with job.name), forwards every span to --forward, serves /metrics.

Options:
  --config FILE            YAML config (default: CO2E_CONFIG or config/default.yaml)
  --listen HOST:PORT       OTLP/HTTP listener (default 127.0.0.1:4318; port 0 = any free port)
  --metrics-listen HOST:PORT  Prometheus /metrics listener (default 127.0.0.1:9464)
  --grpc-listen HOST:PORT  also receive OTLP/gRPC (TraceService/Export), e.g. 127.0.0.1:4317
                           (default: off, or gateway.grpcListen from the config)
  --forward URL            downstream OTLP/HTTP traces endpoint, e.g. http://otel:4318/v1/traces
                           (without it spans are counted and dropped after enrichment)
  --forward-protocol P     http/protobuf (default) or grpc: with grpc, --forward is
                           http://HOST:PORT (https:// for TLS), no path, e.g. http://otel:4317
  -h, --help               show this help

See config/collector.yaml for limits, queue sizes and the bearer token.
`;

/**
 * Checks the flag values before they are merged into the config, so that a mistake is reported
 * as the flag the user typed (exit 2), not as a key of a config file they did not edit.
 */
function checkFlags(values: Record<string, unknown>): void {
  for (const flag of ["listen", "metrics-listen", "grpc-listen"]) {
    const value = values[flag];
    if (typeof value !== "string") continue;
    try {
      parseHostPort(value);
    } catch {
      throw usageError(`--${flag}: must be HOST:PORT, got "${value}"`);
    }
  }
  const forward = values.forward;
  if (typeof forward === "string") {
    let protocol = "";
    try {
      protocol = new URL(forward).protocol;
    } catch {}
    if (protocol !== "http:" && protocol !== "https:")
      throw usageError(
        `--forward: must be an http:// or https:// URL such as http://otel-collector:4318/v1/traces, got "${forward}"`,
      );
  }
  const protocol = values["forward-protocol"];
  if (typeof protocol === "string" && !FORWARD_PROTOCOLS.includes(protocol as ForwardProtocol))
    throw usageError(`--forward-protocol: must be ${FORWARD_PROTOCOLS.join(" or ")}, got "${protocol}"`);
  const grpcProblem =
    protocol === "grpc" && typeof forward === "string" ? grpcForwardUrlProblem(forward) : undefined;
  if (grpcProblem) throw usageError(`--forward: ${grpcProblem}, got "${forward}"`);
}

export async function run(argv: string[]): Promise<number> {
  const values = parseFlagsOrHelp(
    argv,
    {
      config: { type: "string" },
      listen: { type: "string" },
      "metrics-listen": { type: "string" },
      "grpc-listen": { type: "string" },
      forward: { type: "string" },
      "forward-protocol": { type: "string" },
    },
    COLLECTOR_HELP,
  );
  if (!values) return 0;
  checkFlags(values);
  const config = loadConfig({
    file: values.config as string | undefined,
    overrides: {
      gateway: {
        listen: values.listen as string | undefined,
        metricsListen: values["metrics-listen"] as string | undefined,
        grpcListen: values["grpc-listen"] as string | undefined,
        forwardUrl: values.forward as string | undefined,
        forwardProtocol: values["forward-protocol"] as ForwardProtocol | undefined,
      },
    },
  });
  // A port that cannot be opened is CO2E_ERR_LISTEN: exit 1 through main's table.
  const gateway = await startGateway(config);
  const forward = gateway.forwardUrl
    ? `forwarding to ${gateway.forwardUrl}${config.gateway.forwardProtocol === "grpc" ? " (OTLP/gRPC)" : ""}`
    : "no downstream (spans dropped after enrichment)";
  const grpc = gateway.grpcAddress ? `; OTLP/gRPC on ${gateway.grpcAddress}` : "";
  process.stdout.write(
    `co2e collector listening on ${gateway.url} (OTLP/HTTP), metrics on ${gateway.metricsUrl}, ${forward}${grpc}\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  process.stderr.write(`co2e collector: ${signal}: draining\n`);
  const clean = await gateway.close();
  const s = gateway.stats();
  const lost = s.lostAtShutdownSpans ? `, lost at shutdown ${s.lostAtShutdownSpans}` : "";
  process.stderr.write(
    `co2e collector: stopped; received ${s.receivedSpans} spans, forwarded ${s.forwardedSpans}, ` +
      `dropped ${s.droppedSpans}${lost}\n`,
  );
  // 1 when an acknowledged span was not forwarded: a client was told 200 for it.
  return clean ? EXIT.ok : EXIT.failure;
}
