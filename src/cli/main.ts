/**
 * `co2e` entry point: picks the subcommand and loads only its module, so `co2e estimate` does not
 * pay for the OTel SDK. Every subcommand module exports `run(argv): Promise<number>` (exit code).
 * A `Co2eError` a subcommand throws becomes its exit code here, through the one table in
 * exit-codes.ts, so the same error exits the same way in every command.
 */
import { ERROR_CODES, isCo2eError } from "../errors.ts";
import { EXIT, EXIT_CODES_HELP, exitCodeFor } from "./exit-codes.ts";

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

${EXIT_CODES_HELP}
`;

let pipeHandlersInstalled = false;

/**
 * `co2e zones | head`: the reader closes the pipe early and the next write fails with EPIPE,
 * which Node raises as an unhandled 'error' event (a stack trace, exit 1). A reader that has seen
 * enough is not an error: further output to that stream is dropped (the stream is destroyed
 * already) and the command finishes with the status it would have had — 0 for `zones`, the
 * command's own for `co2e run` — rather than SIGPIPE's 141, so `set -o pipefail` scripts that cut
 * the output short on purpose keep working. Other stream errors stay fatal as before.
 */
export function ignoreClosedPipes(): void {
  if (pipeHandlersInstalled) return;
  pipeHandlersInstalled = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") return;
      throw error;
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  ignoreClosedPipes();
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP);
    return name === undefined ? EXIT.input : EXIT.ok;
  }
  if (name === "--version" || name === "-v") {
    const { PACKAGE_VERSION } = await import("../version.ts");
    process.stdout.write(`${PACKAGE_VERSION ?? "unknown"}\n`);
    return EXIT.ok;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    process.stderr.write(`co2e: unknown command "${name}"\n\n${HELP}`);
    return EXIT.input;
  }
  try {
    const mod = await sub.load();
    return await mod.run(rest);
  } catch (error) {
    if (isCo2eError(error)) {
      process.stderr.write(`co2e ${name}: ${error.message} [${error.code}]\n`);
      if (error.code === ERROR_CODES.usage)
        process.stderr.write(`Run \`co2e ${name} --help\` for the options.\n`);
    } else {
      // Not an error we raise on purpose: a bug, printed with its stack.
      process.stderr.write(
        `co2e ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    }
    return exitCodeFor(error);
  }
}
