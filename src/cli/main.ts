/**
 * `co2e` entry point: picks the subcommand and loads only its module, so `co2e estimate` does not
 * pay for the OTel SDK. Every subcommand module exports `run(argv): Promise<number>` (exit code).
 * Exit codes: 0 ok, 1 failure, 2 usage or config error, 3 no forecast, 127 command not found (run).
 */
import { isCo2eError } from "../errors.ts";

interface Subcommand {
  summary: string;
  load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  estimate: {
    summary: "compute kWh and gCO₂e from figures, showing every factor and its source",
    load: () => import("./estimate.ts"),
  },
  intensity: {
    summary: "grid carbon intensity for a zone or cloud region (live or static)",
    load: () => import("./intensity.ts"),
  },
  zones: {
    summary: "list the zones of the static table and the cloud region → zone table",
    load: () => import("./zones.ts"),
  },
  run: {
    summary: "run a command and measure its process tree's energy and emissions",
    load: () => import("./run.ts"),
  },
  window: {
    summary: "find the greenest start time for a job from the intensity forecast",
    load: () => import("./window.ts"),
  },
  collector: {
    summary: "OTLP/HTTP gateway that enriches job spans and serves /metrics",
    load: () => import("./collector.ts"),
  },
};

export const HELP = `co2e — energy and CO₂e per job, on OpenTelemetry

Usage: co2e <command> [options]

Commands:
${Object.entries(SUBCOMMANDS)
  .map(([name, s]) => `  ${name.padEnd(10)} ${s.summary}`)
  .join("\n")}

Run \`co2e <command> --help\` for a command's options.
Exit codes: 0 ok, 1 failure, 2 usage or config error, 3 no forecast, 127 command not found.
`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v") {
    const { readFileSync } = await import("node:fs");
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    process.stderr.write(`co2e: unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  try {
    const mod = await sub.load();
    return await mod.run(rest);
  } catch (error) {
    if (isCo2eError(error)) {
      process.stderr.write(`co2e ${name}: ${error.message} [${error.code}]\n`);
      return error.code === "CO2E_ERR_CONFIG" || error.code === "CO2E_ERR_USAGE" ? 2 : 1;
    }
    process.stderr.write(
      `co2e ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 1;
  }
}
