/**
 * Number formatting for everything the CLI and the demo print, so one figure reads the same in
 * `co2e estimate`, `co2e run`, `co2e intensity`, `co2e window` and the demo's job lines.
 *
 * Rules: significant digits (never an exponent, so a tiny kWh stays readable as 0.00000689),
 * thousands separators for humans (`4,500 g`) and none in key=value lines meant for grep and
 * parsers, trailing zeros dropped, input echoes (flags, config values) shown exactly.
 * en-US separators whatever the locale: the output is compared in tests and pasted into issues.
 */

export interface NumberStyle {
  /** Thousands separators (`4,500`). @default true */
  grouping?: boolean;
}

const formatters = new Map<string, Intl.NumberFormat>();

/** Intl.NumberFormat is costly to build; the demo formats a few numbers per job span. */
function formatter(key: string, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.NumberFormat("en-US", options);
    formatters.set(key, f);
  }
  return f;
}

/** `digits` significant digits: 0.000123457, 60.1, 4,500, 1,080,000. */
export function formatSignificant(value: number, digits = 3, style: NumberStyle = {}): string {
  const grouping = style.grouping ?? true;
  return formatter(`s${digits}${grouping}`, {
    maximumSignificantDigits: digits,
    useGrouping: grouping,
  }).format(value);
}

/** At most `maxDecimals` decimals, trailing zeros dropped: 302, 223.3, 1,024.5. */
export function formatDecimal(value: number, maxDecimals = 1, style: NumberStyle = {}): string {
  const grouping = style.grouping ?? true;
  return formatter(`d${maxDecimals}${grouping}`, {
    maximumFractionDigits: maxDecimals,
    useGrouping: grouping,
  }).format(value);
}

/**
 * A value as the user gave it or the config holds it (158.75, 3600, 0.375): no grouping, float
 * noise past 12 significant digits removed, so it can be pasted back into a flag or a file.
 */
export function formatExact(value: number): string {
  return String(Number(value.toPrecision(12)));
}

/** Energy: `0.0284 kWh`, `0.00000689 kWh`, `1,250 kWh`. */
export function formatKwh(kwh: number, digits = 3): string {
  return `${formatSignificant(kwh, digits)} kWh`;
}

/** Emissions in grams with separators: `60.1 g`, `4,500 g`. */
export function formatGrams(grams: number, digits = 3): string {
  return `${formatSignificant(grams, digits)} g`;
}

/** Emissions in the unit that keeps the number short: `60.1 g`, `4.5 kg`, `12 t`. */
export function formatMass(grams: number, digits = 3): string {
  // The unit is chosen after rounding, so 999.9 g reads "1 kg", not "1,000 g".
  const abs = Math.abs(Number(grams.toPrecision(digits)));
  if (abs >= 1e6) return `${formatSignificant(grams / 1e6, digits)} t`;
  if (abs >= 1e3) return `${formatSignificant(grams / 1e3, digits)} kg`;
  return formatGrams(grams, digits);
}

/** Grid intensity: `302 gCO₂e/kWh`, `223.3 gCO₂e/kWh` (one decimal is the data's precision). */
export function formatIntensity(gramsPerKwh: number): string {
  return `${formatDecimal(gramsPerKwh, 1)} gCO₂e/kWh`;
}

/** A share as a percentage: `29.9 %`, `30 %`. */
export function formatPercent(percent: number): string {
  return `${formatDecimal(percent, 1)} %`;
}

/** Money: cents (`0.60 USD`), or 3 significant digits below a cent (`0.00123 USD`). */
export function formatMoney(amount: number, currency?: string): string {
  const text =
    amount === 0 || Math.abs(amount) >= 0.01
      ? formatter("money", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(amount)
      : formatSignificant(amount, 3);
  return currency ? `${text} ${currency}` : text;
}

/**
 * Durations as people read them: `0.25 s`, `42.1 s`, `40 min 49 s`, `3 h`, `1 h 12 min`,
 * `4 d 2 h`. Below a minute: 3 significant digits; above, the two largest units, rounded.
 */
export function formatDuration(seconds: number): string {
  if (seconds < 0) return `-${formatDuration(-seconds)}`;
  if (seconds < 59.5) return `${formatSignificant(seconds, 3)} s`;
  const pair = (big: number, bigUnit: string, small: number, smallUnit: string): string =>
    small === 0 ? `${big} ${bigUnit}` : `${big} ${bigUnit} ${small} ${smallUnit}`;
  if (seconds < 3570) {
    const s = Math.round(seconds);
    return pair(Math.floor(s / 60), "min", s % 60, "s");
  }
  if (seconds < 86_370) {
    const m = Math.round(seconds / 60);
    return pair(Math.floor(m / 60), "h", m % 60, "min");
  }
  const h = Math.round(seconds / 3600);
  return pair(Math.floor(h / 24), "d", h % 24, "h");
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/** Binary units, at most one decimal: `512 B`, `4.7 GiB`, `310 MiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${formatDecimal(value, 1)} ${BYTE_UNITS[unit]}`;
}

/**
 * Rows as left-aligned columns two spaces apart, one line per row; the last column is not padded
 * and no line ends in spaces (`co2e zones`, the estimate's factor table).
 */
export function formatColumns(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return "";
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]?.length ?? 0)));
  return rows
    .map((r) =>
      r
        .map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
