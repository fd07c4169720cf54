/**
 * One zone rule everywhere: for the same inputs, `co2e estimate --json`, `co2e intensity --json`,
 * `co2e run --json-out`, `co2e window --json`, a job span through the real OTel SDK with
 * CarbonSpanProcessor, and a span received by a real gateway (`startGateway`, OTLP/JSON) give the
 * same zone, the same `resolvedBy` and, for an unknown zone, the same message and code.
 *
 * Inputs are given the way each surface takes them: a zone as `--zone` on the command line is
 * `carbon.zone` on a span (`flag` vs `attribute`, the two words for "the job named it"); a config
 * is a YAML file (`--config` for the CLI, loadConfig for the processor and the gateway); CO2E_ZONE
 * is the environment of each; a cloud region on the resource is OTEL_RESOURCE_ATTRIBUTES for
 * `co2e run` and the span's resource for the processor and the gateway (estimate, intensity and
 * window have no resource and are left out of that row).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Attributes } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { startGateway } from "../../src/gateway/server.ts";
import { StaticIntensityProvider } from "../../src/intensity/static.ts";
import { CarbonSpanProcessor } from "../../src/processor/carbon-span-processor.ts";
import * as sc from "../../src/semconv.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { runCli } from "../helpers/cli.ts";
import { type Emulator, hourlyRows, startEmulator } from "../helpers/em-emulator.ts";
import { startOtlpSink } from "../helpers/otlp-sink.ts";

const HOUR_MS = 3_600_000;
const cleanups = useCleanups();

/** What a surface reports: the zone and how it was found, or the error it raised. */
type Outcome = { zone: string; resolvedBy: string } | { code: string; message: string };

interface Case {
  name: string;
  /** Config file content (YAML); absent: the shipped config/default.yaml. */
  configYaml?: string;
  env?: Record<string, string>;
  /** `--zone` on the command line, `carbon.zone` on a span. */
  zone?: string;
  /** `cloud.provider`/`cloud.region` on the resource (co2e run, spans, gateway only). */
  resourceCloud?: { provider: string; region: string };
  /** What the CLI commands report. */
  cli: Outcome;
  /** What a span says (processor and gateway); `cli` when absent. */
  span?: Outcome;
  /** co2e window's outcome where it must differ (WORLD has no forecast). */
  window?: Outcome;
}

const UNKNOWN = (zone: string, from: string): Outcome => ({
  code: "CO2E_ERR_UNKNOWN_ZONE",
  message: `unknown zone "${zone}" (from ${from}): not an Electricity Maps zone in the 2025 table nor an Ember country code; \`co2e zones\` lists the known zones`,
});

const CASES: Case[] = [
  {
    name: "the job names the zone",
    zone: "de",
    configYaml: "zone: FR\n",
    cli: { zone: "DE", resolvedBy: "flag" },
    span: { zone: "DE", resolvedBy: "attribute" },
  },
  { name: "config zone", configYaml: "zone: FR\n", cli: { zone: "FR", resolvedBy: "config" } },
  {
    name: "CO2E_ZONE over the config file",
    configYaml: "zone: FR\n",
    env: { CO2E_ZONE: "PL" },
    cli: { zone: "PL", resolvedBy: "config" },
  },
  {
    name: "config cloud aws eu-west-1",
    configYaml: "cloud:\n  provider: aws\n  region: eu-west-1\n",
    cli: { zone: "IE", resolvedBy: "config" },
  },
  {
    name: "resource cloud aws eu-west-1",
    resourceCloud: { provider: "aws", region: "eu-west-1" },
    cli: { zone: "IE", resolvedBy: "cloud-region" },
  },
  {
    name: "nothing names a zone",
    cli: { zone: "WORLD", resolvedBy: "default" },
    window: { code: "CO2E_ERR_USAGE", message: "needs a zone" },
  },
  {
    name: "unknown zone from the job",
    zone: "XX",
    cli: UNKNOWN("XX", "--zone"),
    span: UNKNOWN("XX", "span attribute carbon.zone"),
  },
  { name: "unknown zone from CO2E_ZONE", env: { CO2E_ZONE: "XX" }, cli: UNKNOWN("XX", "config zone") },
  {
    name: "unknown region in the config",
    configYaml: "cloud:\n  provider: aws\n  region: mars-north-1\n",
    cli: {
      code: "CO2E_ERR_UNKNOWN_REGION",
      message:
        'unknown aws region "mars-north-1" (from config cloud): not in the region → zone table; `co2e zones --cloud aws` lists them',
    },
  },
];

let dir: string;
let em: Emulator;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "co2e-zone-"));
  const hour0 = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  const forecast = hourlyRows([300, 200, 250, 260, 270, 280], hour0);
  em = await startEmulator({
    zones: Object.fromEntries(["DE", "FR", "PL", "IE"].map((z) => [z, { latest: 300, forecast }])),
  });
});

afterAll(async () => {
  await em?.close();
  rmSync(dir, { recursive: true, force: true });
});

let fileSeq = 0;
function configFile(c: Case): string | undefined {
  if (c.configYaml === undefined) return undefined;
  const file = join(dir, `config-${++fileSeq}.yaml`);
  writeFileSync(file, c.configYaml);
  return file;
}

/** `co2e <cmd> …: message [CODE]` on stderr → the outcome. */
function cliError(stderr: string, exitCode: number): Outcome {
  const m = /^co2e \w+: (.*) \[(CO2E_ERR_\w+)\]$/m.exec(stderr);
  if (!m) throw new Error(`exit ${exitCode} without a coded error: ${stderr}`);
  return { code: m[2]!, message: m[1]! };
}

/** `CODE: message` in carbon.error → the outcome. */
function spanError(text: string): Outcome {
  const m = /^(CO2E_ERR_\w+): (.*)$/s.exec(text);
  if (!m) throw new Error(`carbon.error without a code: ${text}`);
  return { code: m[1]!, message: m[2]! };
}

function spanOutcome(attributes: Attributes): Outcome {
  const error = attributes[sc.ATTR_CARBON_ERROR];
  if (typeof error === "string") return spanError(error);
  return {
    zone: String(attributes[sc.ATTR_CARBON_INTENSITY_ZONE]),
    resolvedBy: String(attributes[sc.ATTR_CARBON_ZONE_RESOLVED_BY]),
  };
}

async function cliOutcomes(c: Case): Promise<Record<string, Outcome>> {
  const file = configFile(c);
  const common = [...(c.zone ? ["--zone", c.zone] : []), ...(file ? ["--config", file] : [])];
  const env: NodeJS.ProcessEnv = { ...c.env };
  if (c.resourceCloud) {
    env.OTEL_RESOURCE_ATTRIBUTES = `cloud.provider=${c.resourceCloud.provider},cloud.region=${c.resourceCloud.region}`;
  }
  const out: Record<string, Outcome> = {};
  const jsonOut = join(dir, `run-${++fileSeq}.json`);
  const commands: Record<string, [string[], (stdout: string) => Outcome, NodeJS.ProcessEnv?]> = {
    run: [
      ["run", ...common, "--json-out", jsonOut, "--", "true"],
      () => {
        const intensity = JSON.parse(readFileSync(jsonOut, "utf8")).intensity;
        return { zone: intensity.zone, resolvedBy: intensity.resolvedBy };
      },
    ],
  };
  if (!c.resourceCloud) {
    commands.estimate = [
      ["estimate", "--energy-kwh", "1", "--json", ...common],
      (s) => {
        const { zone, resolvedBy } = JSON.parse(s).intensity;
        return { zone, resolvedBy };
      },
    ];
    commands.intensity = [
      ["intensity", "--json", ...common],
      (s) => {
        const { zone, resolvedBy } = JSON.parse(s);
        return { zone, resolvedBy };
      },
    ];
    commands.window = [
      ["window", "--duration", "1h", "--json", ...common],
      (s) => {
        const { zone, resolvedBy } = JSON.parse(s);
        return { zone, resolvedBy };
      },
      {
        ELECTRICITYMAPS_BASE_URL: em.url,
        ELECTRICITYMAPS_API_TOKEN: "emulator-token",
        CO2E_INTENSITY_PROVIDER: "auto",
      },
    ];
  }
  // One at a time: the machine is shared, and each is a Node start-up.
  for (const [name, [args, read, extraEnv]] of Object.entries(commands)) {
    const r = await runCli(args, { env: { ...env, ...extraEnv } });
    out[name] = r.code === 0 ? read(r.stdout) : cliError(r.stderr, r.code);
  }
  return out;
}

function inputs(c: Case): { file: string | undefined; resource: Attributes; attributes: Attributes } {
  const resource: Attributes = { "service.name": "zone-table" };
  if (c.resourceCloud) {
    resource["cloud.provider"] = c.resourceCloud.provider;
    resource["cloud.region"] = c.resourceCloud.region;
  }
  const attributes: Attributes = { [sc.ATTR_JOB_NAME]: "zone-job", [sc.ATTR_JOB_CPU_SECONDS]: 1 };
  if (c.zone) attributes[sc.ATTR_CARBON_ZONE] = c.zone;
  return { file: configFile(c), resource, attributes };
}

/** A job span through the real SDK and CarbonSpanProcessor. */
async function processorOutcome(c: Case): Promise<Outcome> {
  const { file, resource, attributes } = inputs(c);
  const config = loadConfig({ ...(file ? { file } : {}), env: { ...c.env } });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [
      new CarbonSpanProcessor({ config, provider: new StaticIntensityProvider(), logicalCores: 2 }),
      new SimpleSpanProcessor({ exporter }),
    ],
  });
  tracerProvider.getTracer("zone-table").startSpan("zone-job", { attributes }).end();
  await tracerProvider.forceFlush();
  const [span] = exporter.getFinishedSpans();
  await tracerProvider.shutdown();
  return spanOutcome(span!.attributes);
}

/** The same span as OTLP/JSON through a real gateway, read back from its forward sink. */
async function gatewayOutcome(c: Case): Promise<Outcome> {
  const { file, resource, attributes } = inputs(c);
  const sink = await startOtlpSink();
  cleanups.push(() => sink.close());
  const config = loadConfig({
    ...(file ? { file } : {}),
    env: { ...c.env },
    overrides: {
      intensity: { provider: "static" },
      gateway: {
        listen: "127.0.0.1:0",
        metricsListen: "127.0.0.1:0",
        forwardUrl: sink.url,
        intensityWaitMs: 50,
      },
    },
  });
  const gateway = await startGateway(config, { env: {}, log: () => {} });
  cleanups.push(() => gateway.close());
  const kv = (a: Attributes) =>
    Object.entries(a).map(([key, v]) => ({
      key,
      value: typeof v === "number" ? { doubleValue: v } : { stringValue: String(v) },
    }));
  const nowMs = Date.now();
  const body = {
    resourceSpans: [
      {
        resource: { attributes: kv(resource) },
        scopeSpans: [
          {
            spans: [
              {
                traceId: "0af7651916cd43dd8448eb211c80319c",
                spanId: "00f067aa0ba902b7",
                name: "zone-job",
                startTimeUnixNano: `${BigInt(nowMs - 1000) * 1_000_000n}`,
                endTimeUnixNano: `${BigInt(nowMs) * 1_000_000n}`,
                attributes: kv(attributes),
              },
            ],
          },
        ],
      },
    ],
  };
  const res = await fetch(`${gateway.url}/v1/traces`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  await sink.waitForSpans(1, 5_000);
  const attrs = sink.spans[0]!.attributes as Attributes;
  return spanOutcome(attrs);
}

describe("one zone rule: the same inputs give the same zone, resolvedBy and error everywhere", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const cli = await cliOutcomes(c);
    for (const [command, outcome] of Object.entries(cli)) {
      const expected = command === "window" && c.window ? c.window : c.cli;
      if ("message" in expected && command === "window" && c.window) {
        expect(outcome, command).toMatchObject({ code: expected.code });
        expect((outcome as { message: string }).message, command).toContain(expected.message);
      } else {
        expect(outcome, command).toEqual(expected);
      }
    }
    const span = c.span ?? c.cli;
    expect(await processorOutcome(c), "processor span").toEqual(span);
    expect(await gatewayOutcome(c), "gateway span").toEqual(span);
  });
});
