/**
 * Bounds of the physically plausible, for figures that come from outside (a live provider, a
 * client's span attributes). A value outside them is treated as an error of whoever sent it, never
 * as a measurement: it is not modelled and never reaches a metric. The bounds are deliberately
 * generous (several times the largest real value) so that no real job or grid is ever refused;
 * their job is to stop absurd numbers (1e300 CPU seconds, −500 gCO₂e/kWh) from poisoning counters.
 */

/**
 * Largest grid intensity accepted from a provider, gCO₂e/kWh. About twice the lifecycle emissions
 * of pulverised-coal power, the dirtiest common source (IPCC AR5 WGIII Annex III, Table A.III.2:
 * 740–910 gCO₂eq/kWh); a grid mix cannot exceed its dirtiest plant. Any negative or non-finite
 * value is implausible too.
 */
export const MAX_PLAUSIBLE_GRAMS_PER_KWH = 2_000;

/**
 * Largest logical CPU count of one job's host: CPU seconds may be at most this × wall time. The
 * largest two-socket x86 servers of 2025 have 768 logical CPUs (2 × 192 cores × 2 threads, AMD
 * EPYC 9965); 1,024 leaves headroom.
 */
export const MAX_LOGICAL_CORES = 1_024;

/**
 * Largest average power of one job, W: joules (CPU or GPU) may be at most this × wall time. An
 * 8-GPU server draws about 14.3 kW at most (NVIDIA DGX B200 system specification); 100 kW is
 * seven of them.
 */
export const MAX_JOB_POWER_WATTS = 100_000;

/**
 * Largest network rate of one job, bytes/s, per direction: 100 GB/s is 800 Gbit/s, two 400 GbE
 * ports at line rate.
 */
export const MAX_NETWORK_BYTES_PER_SECOND = 100e9;

/**
 * Largest average resident memory of one job, bytes: 64 TiB, above the largest single-system
 * memory sold (HPE Superdome Flex: 48 TiB).
 */
export const MAX_MEMORY_BYTES = 64 * 2 ** 40;

/**
 * Slack on the wall time the rate bounds are multiplied by, seconds: the counters and the span's
 * timestamps come from different clocks (a client's CPU clock, its wall clock rounded to ms), so a
 * very short span may carry a little more than its duration allows.
 */
export const DURATION_SLACK_SECONDS = 1;

/** A live intensity is plausible: finite and within [0, MAX_PLAUSIBLE_GRAMS_PER_KWH]. */
export function isPlausibleIntensity(gramsPerKwh: number): boolean {
  return Number.isFinite(gramsPerKwh) && gramsPerKwh >= 0 && gramsPerKwh <= MAX_PLAUSIBLE_GRAMS_PER_KWH;
}
