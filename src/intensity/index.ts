/**
 * Picks the intensity provider from config: Electricity Maps when `intensity.provider` is
 * `electricitymaps`, or `auto` with ELECTRICITYMAPS_API_TOKEN set; else the static table.
 * `electricitymaps` without a token cannot work (every request would be refused, or worse, be
 * reported as a network failure): it gets the static table with `fallbackReason: "no-token"` on
 * every value and one warning, and no request is ever sent.
 *
 * The base URL comes from `config.intensity.baseUrl` only: `loadConfig` already maps
 * ELECTRICITYMAPS_BASE_URL onto it, so reading the variable again here would give two answers
 * (a Config built some other way keeps its own baseUrl). The environment is read for the token
 * only, which never goes into a config.
 */
import type { Config } from "../config.ts";
import { ElectricityMapsClient } from "./electricitymaps.ts";
import { LiveIntensityProvider } from "./live.ts";
import { StaticIntensityProvider, type StaticYear } from "./static.ts";
import type { IntensityObserver, IntensityProvider, IntensityValue, TimeWindow } from "./types.ts";

export interface CreateIntensityProviderOptions {
  /** Where ELECTRICITYMAPS_API_TOKEN is read (and nothing else). @default process.env */
  env?: NodeJS.ProcessEnv;
  observer?: IntensityObserver;
  /** Warnings (token refused, unknown zone). @default stderr */
  logger?: (msg: string) => void;
  /**
   * Also fetch the forecast on each refresh so `cachedRows` includes future hours (one more
   * request per zone per TTL; stops for a zone whose plan answers 401/404). @default false
   */
  forecast?: boolean;
}

/** Why live data was not used when `electricitymaps` is forced without a token. */
export const NO_TOKEN_FALLBACK_REASON = "no-token";

/**
 * The static table, telling the observer (if any) what it serves so the intensity gauge shows it
 * too, and marking each value with a fallback reason when live data was asked for but impossible.
 */
class ObservedStaticProvider implements IntensityProvider {
  readonly name = "static";
  readonly #inner: StaticIntensityProvider;
  readonly #observer: IntensityObserver | undefined;
  readonly #fallbackReason: string | undefined;

  constructor(inner: StaticIntensityProvider, observer?: IntensityObserver, fallbackReason?: string) {
    this.#inner = inner;
    this.#observer = observer;
    this.#fallbackReason = fallbackReason;
  }

  lookup(zone: string, window: TimeWindow): IntensityValue {
    const found = this.#inner.lookup(zone);
    const value = this.#fallbackReason ? { ...found, fallbackReason: this.#fallbackReason } : found;
    this.#observer?.onValue(value);
    void window;
    return value;
  }

  async get(zone: string, window: TimeWindow): Promise<IntensityValue> {
    return this.lookup(zone, window);
  }

  warm(): void {}

  close(): Promise<void> {
    return this.#inner.close();
  }
}

export function createIntensityProvider(
  config: Config,
  options: CreateIntensityProviderOptions = {},
): IntensityProvider {
  const env = options.env ?? process.env;
  const settings = config.intensity;
  const year = settings.staticYear as StaticYear;
  const token = env.ELECTRICITYMAPS_API_TOKEN?.trim() || undefined;
  const live =
    settings.provider === "electricitymaps" || (settings.provider === "auto" && token !== undefined);
  if (!live) {
    const inner = new StaticIntensityProvider({ year });
    return options.observer ? new ObservedStaticProvider(inner, options.observer) : inner;
  }
  if (!token) {
    (options.logger ?? ((msg: string) => process.stderr.write(`otel-co2e: ${msg}\n`)))(
      `intensity.provider is electricitymaps but ELECTRICITYMAPS_API_TOKEN is not set: no request is sent; static values are used (fallback reason ${NO_TOKEN_FALLBACK_REASON})`,
    );
    return new ObservedStaticProvider(
      new StaticIntensityProvider({ year }),
      options.observer,
      NO_TOKEN_FALLBACK_REASON,
    );
  }
  const client = new ElectricityMapsClient({
    baseUrl: settings.baseUrl,
    token,
    emissionFactorType: settings.emissionFactorType,
    timeoutMs: settings.timeoutMs,
    retries: settings.retries,
    observer: options.observer,
    logger: options.logger,
  });
  return new LiveIntensityProvider({
    client,
    staticYear: year,
    cacheTtlMs: settings.cacheTtlSeconds * 1000,
    timeoutMs: settings.timeoutMs,
    breakerFailures: settings.breakerFailures,
    breakerResetMs: settings.breakerResetSeconds * 1000,
    forecast: options.forecast ?? false,
    observer: options.observer,
  });
}
