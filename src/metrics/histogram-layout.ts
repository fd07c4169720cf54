/**
 * Which labels and buckets the two job histograms carry.
 *
 * Their buckets are only read by the boards' quantile panels, which aggregate
 * `sum by (le, job_name)`: a bucket series per job × service multiplies the scrape by the number
 * of services without serving a panel. So by default the histograms are per job_name only, and
 * every ratio per (job_name, service_name) is computed from counters (co2e_job_runs_total,
 * co2e_job_carbon_grams_total, co2e_job_energy_joules_total). Jobs matching
 * `metrics.fullHistograms` get service_name back on their histograms.
 */

/** `1, 3` steps per decade from `from` to `to` (powers of ten), both included. */
function oneThreeSteps(fromExp: number, toExp: number): number[] {
  const out: number[] = [];
  for (let e = fromExp; e <= toExp; e++) {
    out.push(Number(`1e${e}`));
    if (e < toExp) out.push(Number(`3e${e}`));
  }
  return out;
}

/**
 * gCO₂e per run: 1 µg to 10 kg in 1-3 steps (21 bounds). A 10 ms span at a few watts and
 * ~400 g/kWh is ~1e-5 g; a request-sized job a few mg; a GPU training run of 30 kWh at
 * 400 g/kWh is 12 kg (beyond it: +Inf). Two bounds per decade put a quantile estimate within a
 * factor of ~3 of the true value.
 */
export const CARBON_PER_RUN_BUCKETS_GRAMS: readonly number[] = oneThreeSteps(-6, 4);

/**
 * Job duration, s: 1 ms to 1 day in 1-3 steps (17 bounds; the last, 1e5 s, is just above the
 * default sampler.maxJobSeconds of 86,400 s).
 */
export const DURATION_BUCKETS_SECONDS: readonly number[] = oneThreeSteps(-3, 5);

/**
 * job_name patterns → a predicate. `*` matches any run of characters (also none), everything
 * else matches itself, case-sensitively: `nightly-*`, `*-etl`, `report`. `*` alone matches
 * every job (the layout before per-job histograms). Answers are cached per job_name; there are
 * at most metrics.jobNameLimit + 1 distinct values.
 */
export function jobNameMatcher(patterns: readonly string[]): (jobName: string) => boolean {
  if (patterns.length === 0) return () => false;
  const regexps = patterns.map((p) => new RegExp(`^${p.split("*").map(escapeRegExp).join(".*")}$`, "s"));
  const cache = new Map<string, boolean>();
  return (jobName) => {
    let hit = cache.get(jobName);
    if (hit === undefined) {
      hit = regexps.some((r) => r.test(jobName));
      cache.set(jobName, hit);
    }
    return hit;
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
