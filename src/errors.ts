/**
 * Errors with stable codes a user can grep for (after undici's `UND_ERR_*`). Every error the
 * project raises on purpose is a `Co2eError` with one of these codes; the code never changes
 * once released, the message may.
 */
export const ERROR_CODES = {
  /** A configuration value is invalid; the message names the key path. CLI exit 2. */
  config: "CO2E_ERR_CONFIG",
  /** A CLI argument is missing, unknown or malformed. CLI exit 2. */
  usage: "CO2E_ERR_USAGE",
  /** The zone is not in the static table (or the live provider does not know it). */
  unknownZone: "CO2E_ERR_UNKNOWN_ZONE",
  /** The cloud provider/region pair is not in the region → zone table. */
  unknownRegion: "CO2E_ERR_UNKNOWN_REGION",
  /** The live intensity provider failed (network, HTTP status, bad body, circuit open). */
  provider: "CO2E_ERR_PROVIDER",
  /** The provider rejected the token (401/403). */
  auth: "CO2E_ERR_AUTH",
  /** No forecast is available for this zone/token. CLI exit 3. */
  noForecast: "CO2E_ERR_NO_FORECAST",
  /** Model input out of range (negative seconds, zero cores…). */
  modelInput: "CO2E_ERR_MODEL_INPUT",
  /** An OTLP request body could not be decoded; the message names the byte offset. */
  otlpDecode: "CO2E_ERR_OTLP_DECODE",
  /**
   * A listener could not be opened (port in use, no permission, address not on this host). Not a
   * configuration error: the same config works once the port is free. CLI exit 1.
   */
  listen: "CO2E_ERR_LISTEN",
  /** `co2e run`: the command could not be started (not found, not executable). CLI exit 127. */
  spawn: "CO2E_ERR_SPAWN",
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export class Co2eError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "Co2eError";
    this.code = code;
  }
}

/**
 * An error as one line of text: `CODE: message` for an error with a code (ours, or Node's
 * `ECONNREFUSED`), the message for another Error, String() for anything else thrown.
 */
export function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" && code !== "" ? `${code}: ${message}` : message;
}

export function isCo2eError(value: unknown, code?: ErrorCode): value is Co2eError {
  return value instanceof Co2eError && (code === undefined || value.code === code);
}
