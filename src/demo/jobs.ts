/** The demo's sample jobs: one CPU-bound, one memory-heavy, one network-bound. */
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { withJob } from "../job/job.ts";

export const DEMO_JOBS = {
  cpu: "demo.cpu.hash-chain",
  memory: "demo.memory.matrix",
  network: "demo.network.download",
} as const;

/** ≈100–200 ms of hashing on one core; the functional unit is one thousand hashes. */
export function cpuJob(hashes = 100_000): number {
  return withJob(
    DEMO_JOBS.cpu,
    () => {
      let digest = Buffer.from("otel-co2e");
      for (let i = 0; i < hashes; i++) digest = createHash("sha256").update(digest).digest();
      return digest[0] ?? 0;
    },
    { functionalUnits: hashes / 1000 },
  );
}

/** Holds a 64 MiB matrix for a moment; the functional unit is one matrix. */
export function memoryJob(bytes = 64 * 1024 * 1024, holdMs = 300): Promise<number> {
  return withJob(
    DEMO_JOBS.memory,
    async () => {
      const matrix = new Float64Array(bytes / 8);
      for (let i = 0; i < matrix.length; i += 512) matrix[i] = i;
      await sleep(holdMs);
      let sum = 0;
      for (let i = 0; i < matrix.length; i += 512) sum += matrix[i] ?? 0;
      return sum;
    },
    { functionalUnits: 1 },
  );
}

/** Downloads `requests` × `bytesEach` from the local data server; the functional unit is one request. */
export function networkJob(baseUrl: string, requests = 4, bytesEach = 512 * 1024): Promise<number> {
  return withJob(
    DEMO_JOBS.network,
    async () => {
      let total = 0;
      for (let i = 0; i < requests; i++) {
        const res = await fetch(`${baseUrl}/bytes?n=${bytesEach}`);
        total += (await res.arrayBuffer()).byteLength;
      }
      return total;
    },
    { functionalUnits: requests },
  );
}
