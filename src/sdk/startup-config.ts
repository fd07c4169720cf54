/**
 * The config a service starts with, checked once at start-up so that a mistake is said on the
 * console (diag goes nowhere without OTEL_LOG_LEVEL) and never stops the service: each variable
 * of ENV_OVERRIDES with a bad value is reported, naming the variable, and ignored (the config's
 * own value is used, as NodeSDK falls back to the default for a bad OTEL_* value); a zone or
 * cloud region the static table does not know is reported, naming where it came from, and dropped,
 * so jobs fall back to the resource's cloud region or WORLD (shown on every span as
 * carbon.zone_resolved_by) instead of each carrying carbon.error and missing from the metrics.
 * Only a config file that cannot be read or is invalid still throws: that is the caller's own
 * argument (or CO2E_CONFIG) and there is nothing sensible to fall back to.
 */
import { type Config, ENV_OVERRIDES, loadConfig, withEnvironment } from "../config.ts";
import { DEFAULT_ZONE, resolveZone } from "../intensity/zone.ts";

/** The OTel variables that configure the exporter, applied even to a Config built in code. */
export const OTEL_PROMETHEUS_ENV = [
  "OTEL_EXPORTER_PROMETHEUS_HOST",
  "OTEL_EXPORTER_PROMETHEUS_PORT",
] as const;

// Messages already shown: a service that starts the SDK again (tests, workers) is told once.
const reported = new Set<string>();

/** console.warn once per distinct message, prefixed `otel-co2e:`. */
export function warnOnce(message: string): void {
  if (reported.has(message)) return;
  reported.add(message);
  console.warn(`otel-co2e: ${message}`);
}

function valueAt(config: Config, path: readonly string[]): unknown {
  let node: unknown = config;
  for (const key of path) node = (node as Record<string, unknown> | undefined)?.[key];
  return node;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `config` with the zone and cloud checked against the static table; unknown ones are dropped. */
function withKnownZone(config: Config, zoneSource: string, warn: (message: string) => void): Config {
  const staticYear = config.intensity.staticYear;
  let checked = config;
  if (checked.zone !== undefined) {
    try {
      resolveZone({ config: { zone: checked.zone }, staticYear });
    } catch (error) {
      warn(
        `${zoneSource}: ${reason(error)}; ignored: jobs use the resource's cloud region or ${DEFAULT_ZONE} (see carbon.zone_resolved_by). \`co2e zones\` lists the known zones`,
      );
      const { zone: _dropped, ...rest } = checked;
      checked = rest as Config;
    }
  }
  if (checked.zone === undefined && checked.cloud !== undefined) {
    try {
      resolveZone({ config: { cloud: checked.cloud }, staticYear });
    } catch (error) {
      warn(
        `config cloud: ${reason(error)}; ignored: jobs use the resource's cloud region or ${DEFAULT_ZONE}`,
      );
      const { cloud: _dropped, ...rest } = checked;
      checked = rest as Config;
    }
  }
  return checked;
}

/**
 * The preset's config: a Config (OTEL_EXPORTER_PROMETHEUS_* applied on top), a YAML path, or
 * loadConfig()'s default (CO2E_CONFIG or config/default.yaml, every ENV_OVERRIDES variable).
 * Bad variables and unknown zones are warned about once and ignored; see the module comment.
 */
export interface ResolveCarbonConfigOptions {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Where problems are said. @default console.warn, once per message, prefixed `otel-co2e:` */
  warn?: (message: string) => void;
}

export function resolveCarbonConfig(
  config?: Config | string,
  options: ResolveCarbonConfigOptions = {},
): Config {
  const env = options.env ?? process.env;
  const warn = options.warn ?? warnOnce;
  const base =
    typeof config === "object"
      ? config
      : loadConfig({ file: config ?? (env.CO2E_CONFIG?.trim() || undefined), env: {} });
  const names: readonly string[] =
    typeof config === "object" ? OTEL_PROMETHEUS_ENV : Object.keys(ENV_OVERRIDES);
  const accepted: string[] = [];
  for (const name of names) {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") continue;
    try {
      withEnvironment(base, [name], env);
      accepted.push(name);
    } catch (error) {
      const path = ENV_OVERRIDES[name]?.path ?? [];
      const fallback = valueAt(base, path);
      warn(
        `${name}=${JSON.stringify(raw)} ignored (${reason(error)}); using ${fallback === undefined ? "the default" : JSON.stringify(fallback)}`,
      );
    }
  }
  let resolved = base;
  try {
    resolved = withEnvironment(base, accepted, env);
  } catch (error) {
    // Each variable is valid alone but not together: keep the config as the file has it.
    warn(`${accepted.join(", ")} ignored together: ${reason(error)}`);
  }
  const zoneSource = accepted.includes("CO2E_ZONE")
    ? `CO2E_ZONE=${JSON.stringify(env.CO2E_ZONE?.trim())}`
    : "config zone";
  return withKnownZone(resolved, zoneSource, warn);
}
