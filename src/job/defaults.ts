/**
 * The sampler's defaults, owned here once: the config schema (`sampler.*`) and the JobMeter
 * constructor both read them. No imports, so the config module can use it without pulling in the
 * meter.
 */

/** How overlapping jobs share a thread's CPU (docs/jobs.md "Overlapping jobs"). */
export const ATTRIBUTION_MODES = ["event-loop", "equal"] as const;
export type AttributionMode = (typeof ATTRIBUTION_MODES)[number];

export const SAMPLER_DEFAULTS = {
  /** Sampling interval while jobs run, ms. */
  intervalMs: 1000,
  /** A job still running after this long is finished by the sampler, s (24 h). */
  maxJobSeconds: 24 * 60 * 60,
  /** Split of each interval's CPU among the jobs active in it. */
  attribution: "event-loop" as AttributionMode,
} as const;
