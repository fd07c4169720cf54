/**
 * The parts startCarbonSdk assembles, for a service that runs its own NodeSDK: the checked config,
 * the intensity provider (static table, or Electricity Maps with a token), the CarbonSpanProcessor,
 * and the metric views. The preset is built from these same factories.
 *
 *   const carbon = createCarbonComponents();
 *   const sdk = new NodeSDK({ spanProcessors: [carbon.spanProcessor, …], views: carbon.views, … });
 *   sdk.start(); // the processor counts jobs on the global MeterProvider from the first job on
 */
import { diag, type MeterProvider, metrics } from "@opentelemetry/api";
import type { ViewOptions } from "@opentelemetry/sdk-metrics";
import type { Config } from "../config.ts";
import { createIntensityProvider } from "../intensity/index.ts";
import type {
  IntensityObserver,
  IntensityProvider,
  IntensityRequestOutcome,
  IntensityValue,
} from "../intensity/types.ts";
import { type CarbonMetrics, createCarbonMetrics } from "../metrics/carbon-metrics.ts";
import { CARBON_METER_NAME, carbonMetricViews } from "../metrics/views.ts";
import { CarbonSpanProcessor } from "../processor/carbon-span-processor.ts";
import { resolveCarbonConfig } from "./startup-config.ts";

/** Forwards provider events to the metrics once they exist (the provider is built first). */
class LateObserver implements IntensityObserver {
  metrics: CarbonMetrics | undefined;
  onRequest(provider: string, outcome: IntensityRequestOutcome): void {
    this.metrics?.intensityObserver.onRequest(provider, outcome);
  }
  onValue(value: IntensityValue): void {
    this.metrics?.intensityObserver.onValue(value);
  }
}

export interface CarbonIntensityProviderOptions {
  /** Told of every request and value (the intensity metrics use it). */
  observer?: IntensityObserver;
  /** Where ELECTRICITYMAPS_API_TOKEN is read. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * The intensity provider a config asks for: Electricity Maps when `intensity.provider` is
 * `electricitymaps`, or `auto` with ELECTRICITYMAPS_API_TOKEN set, with the static table behind
 * it; else the static table. Close it when done (createCarbonComponents' processor does).
 */
export function createCarbonIntensityProvider(
  config: Config,
  options: CarbonIntensityProviderOptions = {},
): IntensityProvider {
  return createIntensityProvider(config, {
    ...(options.observer ? { observer: options.observer } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
}

export interface CarbonComponentsOptions {
  /**
   * A parsed Config, or the path of a YAML file. @default loadConfig() (CO2E_CONFIG,
   * config/default.yaml, environment). Checked as startCarbonSdk checks it: a bad variable or an
   * unknown zone is reported on the console once and ignored, never thrown.
   */
  config?: Config | string;
  /** @default createCarbonIntensityProvider(config); closed with the processor either way. */
  intensityProvider?: IntensityProvider;
}

export interface CarbonComponents {
  readonly config: Config;
  readonly intensityProvider: IntensityProvider;
  /**
   * Put it first in NodeSDK's `spanProcessors` (before the exporters' processors, so they see the
   * carbon attributes). Its shutdown, which NodeSDK's shutdown calls, closes the intensity provider.
   */
  readonly spanProcessor: CarbonSpanProcessor;
  /** Cardinality views for the carbon instruments; pass them to NodeSDK's `views`. */
  readonly views: ViewOptions[];
  /**
   * Records the carbon metrics on `meterProvider` (@default the global one). Called by itself at
   * the first job span if not before, which is after NodeSDK.start() registered its provider;
   * call it yourself to use another provider. Later calls return the first metrics.
   */
  attachMetrics(meterProvider?: MeterProvider): CarbonMetrics;
}

/** CarbonSpanProcessor that attaches its metrics at the first job and closes its provider. */
class OwningCarbonSpanProcessor extends CarbonSpanProcessor {
  attach: (() => void) | undefined;
  closeProvider: (() => Promise<void>) | undefined;

  override onStart(...args: Parameters<CarbonSpanProcessor["onStart"]>): void {
    this.attach?.();
    super.onStart(...args);
  }

  override async shutdown(): Promise<void> {
    await super.shutdown();
    await this.closeProvider?.();
  }
}

/** Config, intensity provider, span processor and views, wired together; see the module comment. */
export function createCarbonComponents(options: CarbonComponentsOptions = {}): CarbonComponents {
  const config = resolveCarbonConfig(options.config);
  const observer = new LateObserver();
  const intensityProvider = options.intensityProvider ?? createCarbonIntensityProvider(config, { observer });
  const spanProcessor = new OwningCarbonSpanProcessor({ config, provider: intensityProvider });
  let closed: Promise<void> | undefined;
  spanProcessor.closeProvider = () => {
    closed ??= intensityProvider.close().catch(() => {});
    return closed;
  };
  let attached: CarbonMetrics | undefined;
  const attachMetrics = (meterProvider: MeterProvider = metrics.getMeterProvider()): CarbonMetrics => {
    if (attached) return attached;
    attached = createCarbonMetrics(meterProvider.getMeter(CARBON_METER_NAME), {
      jobNameLimit: config.metrics.jobNameLimit,
      fullHistograms: config.metrics.fullHistograms,
      warn: (msg) => diag.warn(msg),
    });
    observer.metrics = attached;
    spanProcessor.setMetrics(attached);
    spanProcessor.attach = undefined;
    return attached;
  };
  spanProcessor.attach = () => attachMetrics();
  return {
    config,
    intensityProvider,
    spanProcessor,
    views: carbonMetricViews(config.metrics.jobNameLimit),
    attachMetrics,
  };
}
