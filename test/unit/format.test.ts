import { describe, expect, it } from "vitest";
import {
  formatBytes,
  formatDecimal,
  formatDuration,
  formatExact,
  formatGrams,
  formatIntensity,
  formatKwh,
  formatMass,
  formatMoney,
  formatPercent,
  formatSignificant,
} from "../../src/util/format.ts";

describe("formatSignificant", () => {
  it.each([
    [0.00000689425, 3, "0.00000689"],
    [0.123504, 6, "0.123504"],
    [60.146312, 6, "60.1463"],
    [4500, 6, "4,500"],
    [1_080_000, 3, "1,080,000"],
    [12_345, 3, "12,300"],
    [0, 3, "0"],
    [-0.5, 3, "-0.5"],
  ])("%d to %d digits → %s", (value, digits, text) => {
    expect(formatSignificant(value, digits)).toBe(text);
  });

  it("never writes an exponent, even for a very small or large value", () => {
    expect(formatSignificant(1.5e-9)).toBe("0.0000000015");
    expect(formatSignificant(2.5e12)).toBe("2,500,000,000,000");
  });

  it("drops the thousands separators for machine-read lines", () => {
    expect(formatSignificant(12_345.6, 4, { grouping: false })).toBe("12350");
  });
});

describe("formatDecimal and formatExact", () => {
  it("keeps at most the given decimals and drops trailing zeros", () => {
    expect(formatDecimal(120, 1)).toBe("120");
    expect(formatDecimal(223.349, 1)).toBe("223.3");
    expect(formatDecimal(1024.55, 1)).toBe("1,024.6");
    expect(formatDecimal(1.5, 3, { grouping: false })).toBe("1.5");
  });

  it("echoes an input exactly, without float noise or separators", () => {
    expect(formatExact(158.75)).toBe("158.75");
    expect(formatExact(0.1 + 0.2)).toBe("0.3");
    expect(formatExact(360_000)).toBe("360000");
  });
});

describe("units", () => {
  it("kWh keeps significant digits of tiny values", () => {
    expect(formatKwh(0.0284123)).toBe("0.0284 kWh");
    expect(formatKwh(0.00000142)).toBe("0.00000142 kWh");
    expect(formatKwh(1250.4)).toBe("1,250 kWh");
  });

  it("grams get thousands separators; mass scales to kg and t", () => {
    expect(formatGrams(4500)).toBe("4,500 g");
    expect(formatGrams(12_000, 6)).toBe("12,000 g");
    expect(formatMass(60.146)).toBe("60.1 g");
    expect(formatMass(4500)).toBe("4.5 kg");
    expect(formatMass(999.9)).toBe("1 kg");
    expect(formatMass(12_000_000)).toBe("12 t");
  });

  it("intensity and percentages to one decimal", () => {
    expect(formatIntensity(302)).toBe("302 gCO₂e/kWh");
    expect(formatIntensity(223.34)).toBe("223.3 gCO₂e/kWh");
    expect(formatPercent(29.94)).toBe("29.9 %");
  });

  it("money in cents, or 3 significant digits below a cent", () => {
    expect(formatMoney(0.6, "USD")).toBe("0.60 USD");
    expect(formatMoney(1234.567, "EUR")).toBe("1,234.57 EUR");
    expect(formatMoney(0.00301234, "USD")).toBe("0.00301 USD");
    expect(formatMoney(0)).toBe("0.00");
  });

  it("bytes in binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(310 * 1024 * 1024)).toBe("310 MiB");
    expect(formatBytes(4.7 * 1024 ** 3)).toBe("4.7 GiB");
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0 s"],
    [0.126, "0.126 s"],
    [42.12, "42.1 s"],
    [59.6, "1 min"],
    [90, "1 min 30 s"],
    [2449, "40 min 49 s"],
    [3599, "1 h"],
    [3 * 3600, "3 h"],
    [4320, "1 h 12 min"],
    [86_399, "1 d"],
    [100 * 3600, "4 d 4 h"],
    [-90, "-1 min 30 s"],
  ])("%d s → %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
