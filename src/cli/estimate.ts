/**
 * `co2e estimate`: the calculator a person checks numbers with. Flags and help in
 * estimate/options.ts, the calculation and its factor table in estimate/compute.ts (CPU model
 * choice in estimate/cpu.ts), the human report in estimate/render.ts. Errors propagate to
 * main.ts, which maps their codes to exit statuses (input errors: 2).
 */
import { parseFlagsOrHelp } from "./args.ts";
import { estimateFromFlags } from "./estimate/compute.ts";
import { ESTIMATE_HELP, ESTIMATE_OPTIONS } from "./estimate/options.ts";
import { formatEstimate } from "./estimate/render.ts";

export { estimateFromFlags } from "./estimate/compute.ts";
export { ESTIMATE_HELP, ESTIMATE_OPTIONS } from "./estimate/options.ts";
export { formatEstimate } from "./estimate/render.ts";
export type { EstimateFactor, EstimateFlagValues, EstimateResult } from "./estimate/types.ts";

export async function run(argv: string[]): Promise<number> {
  const values = parseFlagsOrHelp(argv, ESTIMATE_OPTIONS, ESTIMATE_HELP);
  if (!values) return 0;
  const result = estimateFromFlags(values);
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatEstimate(result));
  return 0;
}
