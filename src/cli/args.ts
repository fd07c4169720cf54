/**
 * Argument helpers shared by the subcommands: node:util's parseArgs (no dependency needed for
 * flag parsing) with errors turned into `CO2E_ERR_USAGE` naming the flag, plus typed value
 * parsers for numbers and durations.
 */
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { Co2eError, ERROR_CODES } from "../errors.ts";

export function usageError(message: string): Co2eError {
  return new Co2eError(ERROR_CODES.usage, message);
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

const NEGATIVE_NUMBER = /^-\d|^-\.\d/;

/**
 * `--energy-kwh -1` → `--energy-kwh=-1` for string-typed options: parseArgs refuses a value that
 * starts with `-` ("argument is ambiguous"), while the joined form reaches the flag's own range
 * check (`--energy-kwh: must be ≥ 0, got -1`). Only negative numbers are joined, so a forgotten
 * value followed by another flag (`--zone --json`) still reads as a missing value. Stops at `--`.
 */
export function joinNegativeValues(argv: readonly string[], options: ParseArgsOptionsConfig): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const name = optionName(arg, options);
    if (
      name !== undefined &&
      options[name]?.type === "string" &&
      next !== undefined &&
      NEGATIVE_NUMBER.test(next)
    ) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** The long name of `--name` or of a short `-n`, when it is an option (without `=value`). */
function optionName(arg: string, options: ParseArgsOptionsConfig): string | undefined {
  if (arg.startsWith("--")) {
    const name = arg.slice(2);
    return !name.includes("=") && name in options ? name : undefined;
  }
  if (/^-[^-]$/.test(arg)) {
    return Object.entries(options).find(([, o]) => o.short === arg.slice(1))?.[0];
  }
  return undefined;
}

/** Strict parse: an unknown flag or a missing value is a usage error that names it. */
export function parseFlags(
  argv: string[],
  options: ParseArgsOptionsConfig,
  opts: { allowPositionals?: boolean } = {},
): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: joinNegativeValues(argv, options),
      options,
      strict: true,
      allowPositionals: opts.allowPositionals ?? false,
      allowNegative: false,
    });
    return { values: values as ParsedArgs["values"], positionals };
  } catch (error) {
    const message = (error as Error).message
      .replace(/\. To specify a positional argument.*$/s, "")
      .replace(/^Unknown option/, "unknown option");
    throw usageError(message);
  }
}

/** `-h` / `--help`, which every subcommand accepts. */
const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const satisfies ParseArgsOptionsConfig;

/**
 * A subcommand's strict parse with `-h`/`--help` added: with --help it prints `help` to stdout and
 * returns undefined (the command then exits 0 without doing anything else), otherwise the values.
 */
export function parseFlagsOrHelp(
  argv: string[],
  options: ParseArgsOptionsConfig,
  help: string,
): ParsedArgs["values"] | undefined {
  const { values } = parseFlags(argv, { ...options, ...HELP_OPTION });
  if (values.help) {
    process.stdout.write(help);
    return undefined;
  }
  return values;
}

/** Parses `--name` as a finite number within bounds; undefined when the flag is absent. */
export function numberFlag(
  values: ParsedArgs["values"],
  name: string,
  bounds: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || raw.trim() === "") throw usageError(`--${name}: expects a number`);
  const value = Number(raw);
  if (!Number.isFinite(value)) throw usageError(`--${name}: expects a number, got "${raw}"`);
  if (bounds.integer && !Number.isInteger(value))
    throw usageError(`--${name}: expects a whole number, got "${raw}"`);
  if (bounds.min !== undefined && value < bounds.min)
    throw usageError(`--${name}: must be ≥ ${bounds.min}, got ${raw}`);
  if (bounds.max !== undefined && value > bounds.max)
    throw usageError(`--${name}: must be ≤ ${bounds.max}, got ${raw}`);
  return value;
}

const DURATION_UNITS_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Durations as people write them: `2449s`, `40m49s`, `0.68h`, `100h`, `1h30m`, `500ms`; a bare
 * number is seconds. Returns seconds.
 */
export function parseDurationSeconds(text: string, flag = "duration"): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(trimmed); match; match = part.exec(trimmed)) {
    total += Number(match[1]) * DURATION_UNITS_SECONDS[match[2]!]!;
    consumed = part.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw usageError(`--${flag}: expects a duration like 2449s, 40m49s, 0.68h or 100h, got "${text}"`);
  }
  return total;
}
