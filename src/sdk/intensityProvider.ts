/**
 * The intensity provider for the preset. Uses src/intensity's createIntensityProvider (Electricity
 * Maps when a token is set, else the static table).
 */
import type { Config } from "../config.ts";
import { createIntensityProvider } from "../intensity/index.ts";
import type { IntensityObserver, IntensityProvider } from "../intensity/types.ts";

export function presetIntensityProvider(config: Config, observer: IntensityObserver): IntensityProvider {
  return createIntensityProvider(config, { observer });
}
