/** `co2e estimate`'s flags (node:util parseArgs) and its help text. */
import type { ParseArgsOptionsConfig } from "node:util";
import { STATIC_YEARS } from "../../intensity/static.ts";
import { ZONE_FLAG_OPTIONS } from "../zone.ts";

export const ESTIMATE_OPTIONS = {
  "energy-kwh": { type: "string" },
  "cpu-seconds": { type: "string" },
  cores: { type: "string" },
  "cpu-util": { type: "string" },
  "cpu-model": { type: "string" },
  "tdp-watts": { type: "string" },
  duration: { type: "string" },
  "memory-gb": { type: "string" },
  "gpu-watts": { type: "string" },
  "gpu-util": { type: "string" },
  "network-gb": { type: "string" },
  pue: { type: "string" },
  intensity: { type: "string" },
  ...ZONE_FLAG_OPTIONS,
  year: { type: "string" },
  "embodied-kg": { type: "string" },
  "lifespan-years": { type: "string" },
  "reserved-share": { type: "string" },
  "functional-units": { type: "string" },
  "carbon-price": { type: "string" },
  "runs-per-year": { type: "string" },
  json: { type: "boolean" },
  config: { type: "string" },
} as const satisfies ParseArgsOptionsConfig;

export const ESTIMATE_HELP = `co2e estimate — kWh and gCO₂e from figures, with every factor and its source

Energy, either given directly:
  --energy-kwh N          total energy of the job, kWh (PUE applied only if --pue is given)
or from components (any mix):
  --cpu-seconds N         CPU time used (user + system), s     with --cores N (logical cores)
  --cpu-util F            average share of the whole CPU (1.0047 = 100.47 %), needs --duration
  --tdp-watts N           CPU package TDP, W (default: config model.cpu)
  --cpu-model tdp|linear  CPU model (default: config model.cpu.model; a config \`rapl\` cannot
                          measure here, so tdp at its fallbackTdpWatts)
  --duration D            wall time: 2449s, 40m49s, 0.68h, 100h (needed by util, memory, GPU)
  --memory-gb N           average resident memory, GB (GiB)
  --gpu-watts N           average GPU board power, W            [--gpu-util F multiplies it]
  --network-gb N          data transferred, GB (decimal)
  --pue N                 power usage effectiveness ≥ 1 (default: config model.pue)

Intensity (one of; default: config zone / cloud, static yearly table):
  --intensity G           gCO₂e/kWh
  --zone Z                Electricity Maps zone (DE, US-MIDA-PJM) or Ember code (DEU, WORLD)
  --cloud aws|gcp|azure --region R    cloud region, mapped to a zone
  --year Y                static table year, ${STATIC_YEARS[0]}–${STATIC_YEARS.at(-1)} (default: config)

Extras:
  --embodied-kg N --lifespan-years N [--reserved-share F]   embodied carbon (SCI M) over --duration
  --functional-units N    SCI per functional unit
  --carbon-price N        price per tonne CO₂e (currency from config, default USD)
  --runs-per-year N       also print the yearly total for a job run N times a year
  --json                  print one JSON object
  --config FILE           config file (default: CO2E_CONFIG or config/default.yaml)

Examples:
  co2e estimate --energy-kwh 25 --intensity 180
  co2e estimate --gpu-watts 300 --duration 100h --intensity 400 --carbon-price 50
  co2e estimate --cpu-util 1.0047 --tdp-watts 158.75 --duration 40m49s --memory-gb 5.015 \\
                --pue 1.125 --intensity 487 --runs-per-year 365.25
`;
