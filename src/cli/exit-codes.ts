/**
 * Exit statuses of `co2e` and the one table from error code to exit status, applied by main.ts
 * to whatever a subcommand throws. Subcommands throw; they do not pick exit codes for errors.
 */
import { ERROR_CODES, type ErrorCode, isCo2eError } from "../errors.ts";

/** Exit statuses of `co2e` (a command run by `co2e run` keeps its own). */
export const EXIT = {
  ok: 0,
  /** The provider, the network, a bug: retrying later may help. */
  failure: 1,
  /** Input the caller must fix: a flag, the config, a zone or region, a model input. */
  input: 2,
  /** `co2e window`: no forecast for the zone, token or plan. */
  noForecast: 3,
  /** `co2e run`: the command could not start. */
  commandNotFound: 127,
} as const;

/**
 * Every error code's exit status. A `Record` over all codes: a new code in src/errors.ts does
 * not compile until it is given one here.
 */
export const EXIT_CODE_BY_ERROR: Record<ErrorCode, number> = {
  [ERROR_CODES.usage]: EXIT.input,
  [ERROR_CODES.config]: EXIT.input,
  [ERROR_CODES.unknownZone]: EXIT.input,
  [ERROR_CODES.unknownRegion]: EXIT.input,
  [ERROR_CODES.modelInput]: EXIT.input,
  [ERROR_CODES.noForecast]: EXIT.noForecast,
  [ERROR_CODES.auth]: EXIT.failure,
  [ERROR_CODES.provider]: EXIT.failure,
  [ERROR_CODES.otlpDecode]: EXIT.failure,
  [ERROR_CODES.listen]: EXIT.failure,
  [ERROR_CODES.spawn]: EXIT.commandNotFound,
};

/** Exit status for anything a subcommand threw: its code's entry, else 1 (a bug). */
export function exitCodeFor(error: unknown): number {
  return isCo2eError(error) ? (EXIT_CODE_BY_ERROR[error.code] ?? EXIT.failure) : EXIT.failure;
}

/**
 * The exit-code table of `co2e --help`. docs/cli-estimate.md has the same table in Markdown;
 * test/e2e/cli-estimate.test.ts checks that both list the same codes under the same status, and
 * that every code of EXIT_CODE_BY_ERROR appears under its status.
 */
export const EXIT_CODES_HELP = `Exit codes:
  0    ok
  1    failure: intensity provider or network (CO2E_ERR_PROVIDER, CO2E_ERR_AUTH), an OTLP
       body that cannot be decoded (CO2E_ERR_OTLP_DECODE), a port that cannot be opened
       (CO2E_ERR_LISTEN), or a bug
  2    input to fix: usage (CO2E_ERR_USAGE), config (CO2E_ERR_CONFIG), unknown zone
       (CO2E_ERR_UNKNOWN_ZONE) or region (CO2E_ERR_UNKNOWN_REGION), model input
       (CO2E_ERR_MODEL_INPUT)
  3    no forecast (CO2E_ERR_NO_FORECAST; co2e window)
  127  co2e run: the command could not start (CO2E_ERR_SPAWN)
  co2e run otherwise exits with its command's code (128 + N when signal N killed it).`;
