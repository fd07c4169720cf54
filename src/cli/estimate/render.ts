/** The human report of `co2e estimate`: the factor table, then the results. */

import { formatBandBasis } from "../../run/report.ts";
import { formatColumns, formatGrams, formatKwh, formatMoney, formatSignificant } from "../../util/format.ts";
import type { EstimateResult } from "./types.ts";

/**
 * Six significant digits: this is the calculator people check numbers with, so it shows more
 * than the run summary's three (seed 003's 0.1238 kWh must be recognisable).
 */
const DIGITS = 6;

function num(value: number): string {
  return formatSignificant(value, DIGITS);
}

export function formatEstimate(r: EstimateResult): string {
  const lines: string[] = [];
  lines.push(
    formatColumns([
      ["factor", "value", "unit", "source"],
      ...r.factors.map((f) => [f.name, f.value, f.unit, f.source]),
    ]),
  );
  lines.push("");
  const c = r.components;
  const parts =
    c.givenKwh !== undefined
      ? [`given ${num(c.givenKwh)}`]
      : [
          c.cpuKwh ? `cpu ${num(c.cpuKwh)}` : "",
          c.memoryKwh ? `memory ${num(c.memoryKwh)}` : "",
          c.gpuKwh ? `gpu ${num(c.gpuKwh)}` : "",
          c.networkKwh ? `network ${num(c.networkKwh)}` : "",
        ];
  if (c.overheadKwh) parts.push(`PUE overhead ${num(c.overheadKwh)}`);
  const results: string[][] = [];
  if (r.averagePowerKw !== undefined)
    results.push(["average power", `${num(r.averagePowerKw)} kW`, "IT × PUE over the duration"]);
  results.push(["energy", formatKwh(r.energyKwh, DIGITS), parts.filter(Boolean).join(" + ")]);
  // The same mass in kg and t when it is large enough for them to be the readable figure.
  const big = r.co2eGrams >= 1000 ? `= ${num(r.co2eKg)} kg = ${num(r.co2eTonnes)} t` : "";
  results.push(["CO₂e", formatGrams(r.co2eGrams, DIGITS), big || "operational, location-based"]);
  // Three digits: the bounds are coarse by nature.
  const band = `${formatGrams(r.range.low, 3)} – ${formatGrams(r.range.high, 3)}`;
  results.push(["range", band, formatBandBasis(r.provenance)]);
  if (r.marketGrams !== undefined)
    results.push(["CO₂e (market)", formatGrams(r.marketGrams, DIGITS), "contractual factor from config"]);
  if (r.embodiedGrams !== undefined)
    results.push([
      "embodied",
      formatGrams(r.embodiedGrams, DIGITS),
      "SCI M = TE × time share × resource share",
    ]);
  if (r.sciGramsPerUnit !== undefined)
    results.push(["SCI", `${num(r.sciGramsPerUnit)} g/unit`, "(E × I + M) ÷ R"]);
  if (r.carbonCost !== undefined)
    results.push(["carbon cost", formatMoney(r.carbonCost, r.currency), "tonnes × price"]);
  if (r.annualCo2eKg !== undefined)
    results.push(["per year", `${num(r.annualCo2eKg)} kg`, `${num(r.runsPerYear ?? 0)} runs`]);
  lines.push(formatColumns(results));
  return `${lines.join("\n")}\n`;
}
