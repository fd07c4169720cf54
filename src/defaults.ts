/**
 * Defaults written once. The config schema (`config.ts`) and the constructors that can also be
 * used without a config (`ElectricityMapsClient`, `LiveIntensityProvider`) read the same values
 * from here, so a default cannot drift between the file a user edits and the library call.
 * Units are in the key names, as in the config.
 */
export const DEFAULTS = {
  intensity: {
    /** `auto`: Electricity Maps when ELECTRICITYMAPS_API_TOKEN is set, else the static table. */
    provider: "auto",
    baseUrl: "https://api.electricitymaps.com/v3",
    emissionFactorType: "lifecycle",
    /** A zone is refreshed at most once per TTL. */
    cacheTtlSeconds: 300,
    /** Total budget of one call, retries included. */
    timeoutMs: 2000,
    /** Retries after the first attempt. */
    retries: 2,
    /** Consecutive failed refreshes that open the circuit breaker. */
    breakerFailures: 5,
    /** Time the breaker stays open before one probe. */
    breakerResetSeconds: 30,
    /** Year of the static Electricity Maps table (the latest shipped). */
    staticYear: 2025,
  },
} as const;

/** Cloud providers the region → zone table knows (config validates against it too). */
export const CLOUD_PROVIDERS = ["aws", "gcp", "azure"] as const;
export type CloudProvider = (typeof CLOUD_PROVIDERS)[number];

/** How overlapping jobs share a thread's CPU (docs/jobs.md "Overlapping jobs"). */
export const ATTRIBUTION_MODES = ["event-loop", "equal"] as const;
export type AttributionMode = (typeof ATTRIBUTION_MODES)[number];

/** The job sampler's defaults: the config schema (`sampler.*`) and the JobMeter both read them. */
export const SAMPLER_DEFAULTS = {
  /** Sampling interval while jobs run, ms. */
  intervalMs: 1000,
  /** A job still running after this long is finished by the sampler, s (24 h). */
  maxJobSeconds: 24 * 60 * 60,
  /** Split of each interval's CPU among the jobs active in it. */
  attribution: "event-loop" as AttributionMode,
} as const;
