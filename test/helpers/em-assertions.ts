/**
 * Assertions on what the Electricity Maps emulator saw, shared by the provider and span-level
 * cache tests.
 */
import { expect } from "vitest";
import type { Emulator } from "./em-emulator.ts";

/**
 * The cache held: for each zone, at least two requests (it did expire) and at most one per TTL
 * over `elapsedMs` (+ the first), each at least a TTL after the one before (5 ms of timer slack).
 */
export function expectOneRequestPerZonePerTtl(
  em: Emulator,
  zones: readonly string[],
  ttlMs: number,
  elapsedMs: number,
): void {
  for (const zone of zones) {
    const times = em.requests.filter((r) => r.zone === zone).map((r) => r.atMs);
    expect(times.length, zone).toBeGreaterThanOrEqual(2);
    expect(times.length, zone).toBeLessThanOrEqual(Math.ceil(elapsedMs / ttlMs) + 1);
    for (let i = 1; i < times.length; i++)
      expect(times[i]! - times[i - 1]!, zone).toBeGreaterThanOrEqual(ttlMs - 5);
  }
}
