/**
 * Linux powercap RAPL reader: cumulative CPU package energy, joules, since the reader started.
 *
 * The kernel exposes each RAPL zone under `/sys/class/powercap/intel-rapl:N` (the name is the
 * same on AMD, whose RAPL MSRs the same driver reads). `energy_uj` is a counter in µJ that wraps
 * to 0 after `max_energy_range_uj`; `name` says what the zone covers. Only top-level zones whose
 * name starts with `package` are summed: subzones (`intel-rapl:N:M`: core, uncore, dram) lie
 * inside their package, and a top-level `psys` zone (platform, on some laptops) covers the
 * packages too, so either would count energy twice.
 *
 * Permissions: since Linux 5.10 (the 2020 fix for the PLATYPUS side channel, CVE-2020-8694)
 * `energy_uj` is readable by root only on most distributions; without read access
 * `createRaplReader` returns undefined and the caller falls back to the tdp model.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const DEFAULT_POWERCAP_ROOT = "/sys/class/powercap";

const MICROJOULES_PER_JOULE = 1e6;
const PACKAGE_ZONE = /^intel-rapl:\d+$/;

/**
 * Energy between two readings of one wrapping counter, µJ. A reading lower than the previous one
 * means the counter passed `maxRangeUj` and restarted at 0 (one wrap: at 200 W a 262 kJ range
 * lasts ≈ 22 min, far longer than any sampling interval).
 */
export function counterDeltaUj(previousUj: number, currentUj: number, maxRangeUj: number): number {
  if (currentUj >= previousUj) return currentUj - previousUj;
  return maxRangeUj - previousUj + currentUj;
}

/** Running total of one wrapping counter: feed readings in order, get µJ since the first. */
export class WrappingCounter {
  readonly #maxRangeUj: number;
  #lastUj: number;
  #totalUj = 0;

  constructor(firstUj: number, maxRangeUj: number) {
    this.#lastUj = firstUj;
    this.#maxRangeUj = maxRangeUj;
  }

  update(currentUj: number): number {
    this.#totalUj += counterDeltaUj(this.#lastUj, currentUj, this.#maxRangeUj);
    this.#lastUj = currentUj;
    return this.#totalUj;
  }

  get totalUj(): number {
    return this.#totalUj;
  }
}

export interface RaplReader {
  /** Directories of the package zones summed, e.g. `/sys/class/powercap/intel-rapl:0`. */
  readonly domains: readonly string[];
  /**
   * Package energy since the reader was created, joules (all packages summed). Read at least
   * once per wrap period (tens of minutes) to keep wraps counted. undefined when a counter
   * stopped being readable.
   */
  totalJoules(): number | undefined;
}

export interface RaplOptions {
  /** @default "/sys/class/powercap" */
  root?: string;
}

function readNumber(path: string): number | undefined {
  try {
    const text = readFileSync(path, "utf8").trim();
    if (!/^\d+$/.test(text)) return undefined;
    const value = Number(text);
    return Number.isSafeInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function readName(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, "name"), "utf8").trim();
  } catch {
    return undefined;
  }
}

interface Domain {
  dir: string;
  counter: WrappingCounter;
}

class PowercapRaplReader implements RaplReader {
  readonly #domains: Domain[];
  readonly domains: readonly string[];

  constructor(domains: Domain[]) {
    this.#domains = domains;
    this.domains = domains.map((d) => d.dir);
  }

  totalJoules(): number | undefined {
    let totalUj = 0;
    for (const d of this.#domains) {
      const uj = readNumber(join(d.dir, "energy_uj"));
      if (uj === undefined) return undefined;
      totalUj += d.counter.update(uj);
    }
    return totalUj / MICROJOULES_PER_JOULE;
  }
}

/**
 * A reader over every readable package zone under `root`, or undefined when there is none
 * (not Linux, no RAPL, a VM without it, or `energy_uj` root-only).
 */
export function createRaplReader(options: RaplOptions = {}): RaplReader | undefined {
  const root = options.root ?? DEFAULT_POWERCAP_ROOT;
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return undefined;
  }
  const domains: Domain[] = [];
  for (const name of names.filter((n) => PACKAGE_ZONE.test(n)).sort()) {
    const dir = join(root, name);
    const zoneName = readName(dir);
    // A zone without a `name` file is taken as a package (old kernels); psys and others are not.
    if (zoneName !== undefined && !zoneName.startsWith("package")) continue;
    const firstUj = readNumber(join(dir, "energy_uj"));
    const maxRangeUj = readNumber(join(dir, "max_energy_range_uj"));
    if (firstUj === undefined || maxRangeUj === undefined || maxRangeUj <= 0) continue;
    domains.push({ dir, counter: new WrappingCounter(firstUj, maxRangeUj) });
  }
  return domains.length > 0 ? new PowercapRaplReader(domains) : undefined;
}
