import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  createGpuSampler,
  findExecutable,
  PowerIntegrator,
  parsePowerLine,
} from "../../src/gpu/nvidia-smi.ts";

const FAKE = fileURLToPath(new URL("../helpers/fake-nvidia-smi", import.meta.url));
const savedEnv = { ...process.env };

afterEach(() => {
  process.env = { ...savedEnv };
});

describe("parsePowerLine", () => {
  it("reads index and watts, and marks [N/A] readings as unknown", () => {
    expect(parsePowerLine("0, 71.23")).toEqual({ index: 0, watts: 71.23 });
    expect(parsePowerLine("3, [N/A]")).toEqual({ index: 3, watts: undefined });
    expect(parsePowerLine("1, [Not Supported]")).toEqual({ index: 1, watts: undefined });
    expect(parsePowerLine("")).toBeUndefined();
    expect(parsePowerLine("NVIDIA-SMI has failed")).toBeUndefined();
    expect(parsePowerLine(", 50")).toBeUndefined();
  });
});

describe("PowerIntegrator", () => {
  it("integrates each GPU with the trapezoidal rule and sums the GPUs", () => {
    const p = new PowerIntegrator(1000);
    p.add(0, 0, 100);
    p.add(0, 1, 50);
    p.add(1000, 0, 200); // (100 + 200) / 2 × 1 s = 150 J
    p.add(1000, 1, 50); // 50 J
    expect(p.joules(1000)).toBeCloseTo(200, 9);
    // Until the next reading, the last ones are held: 250 W × 0.5 s.
    expect(p.joules(1500)).toBeCloseTo(200 + 125, 9);
    p.add(2000, 0, 100); // 150 J
    // GPU 1's last reading (t = 1000) is held for at most one interval (1 s): 50 J.
    expect(p.joules(2000)).toBeCloseTo(150 + 50 + 150 + 50, 9);
    expect(p.joules(9000)).toBeCloseTo(150 + 50 + 150 + 50 + 100, 9);
    expect(p.gpuCount).toBe(2);
  });

  it("does not integrate across an [N/A] reading", () => {
    const p = new PowerIntegrator(1000);
    p.add(0, 0, 100);
    p.add(1000, 0, undefined);
    p.add(2000, 0, 100);
    p.add(3000, 0, 100);
    expect(p.joules(3000)).toBeCloseTo(100, 9);
  });
});

describe("createGpuSampler", () => {
  it("is undefined when nvidia-smi is absent", async () => {
    expect(await createGpuSampler({ command: "co2e-no-nvidia-smi-here" })).toBeUndefined();
    expect(findExecutable("co2e-no-nvidia-smi-here")).toBeUndefined();
  });

  it("is undefined when nvidia-smi fails (no driver)", async () => {
    process.env.FAKE_NVIDIA_SMI_FAIL = "1";
    expect(await createGpuSampler({ command: FAKE, intervalMs: 50 })).toBeUndefined();
  });

  it("is undefined when every reading is [N/A]", async () => {
    process.env.FAKE_NVIDIA_SMI_WATTS = "[N/A]";
    expect(await createGpuSampler({ command: FAKE, intervalMs: 50, startTimeoutMs: 600 })).toBeUndefined();
  });

  it("integrates known wattages from nvidia-smi on PATH into known joules", async () => {
    const bin = mkdtempSync(join(tmpdir(), "co2e-smi-"));
    try {
      symlinkSync(FAKE, join(bin, "nvidia-smi"));
      process.env.PATH = `${bin}${delimiter}${process.env.PATH}`;
      process.env.FAKE_NVIDIA_SMI_WATTS = "100,[N/A],50";
      const sampler = await createGpuSampler({ intervalMs: 50 });
      expect(sampler).toBeDefined();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 800));
      const joules = sampler!.totalJoules();
      const seconds = (performance.now() - t0) / 1000;
      sampler!.stop();
      // 150 W from the first reading on (which came just before t0).
      expect(joules).toBeGreaterThan(150 * seconds * 0.9);
      expect(joules).toBeLessThan(150 * (seconds + 0.1) * 1.1);
      // GPU 1 only ever said [N/A]: not a measured GPU.
      expect(sampler!.gpuCount).toBe(2);
      // Frozen after stop().
      const after = sampler!.totalJoules();
      await new Promise((r) => setTimeout(r, 200));
      expect(sampler!.totalJoules()).toBe(after);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it("counts only GPUs that reported watts", async () => {
    process.env.FAKE_NVIDIA_SMI_WATTS = "[N/A],80,[Not Supported]";
    const sampler = await createGpuSampler({ command: FAKE, intervalMs: 50 });
    expect(sampler).toBeDefined();
    await new Promise((r) => setTimeout(r, 200));
    sampler!.stop();
    expect(sampler!.gpuCount).toBe(1);
  });

  it("tells the child's pid on spawn and on exit", async () => {
    process.env.FAKE_NVIDIA_SMI_FAIL = "1";
    const events: string[] = [];
    const sampler = await createGpuSampler({
      command: FAKE,
      intervalMs: 50,
      onChildSpawn: (pid) => events.push(`spawn ${pid}`),
      onChildExit: (pid) => events.push(`exit ${pid}`),
    });
    expect(sampler).toBeUndefined();
    expect(events).toHaveLength(2);
    expect(events[1]).toBe(events[0]!.replace("spawn", "exit"));
  });

  it("an abort before the first reading kills a slow nvidia-smi at once", async () => {
    process.env.FAKE_NVIDIA_SMI_DELAY_S = "4";
    const abort = new AbortController();
    let pid: number | undefined;
    const t0 = performance.now();
    const pending = createGpuSampler({
      command: FAKE,
      intervalMs: 50,
      signal: abort.signal,
      onChildSpawn: (p) => {
        pid = p;
      },
    });
    expect(pid).toBeDefined();
    setTimeout(() => abort.abort(), 100);
    expect(await pending).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(1000);
    // Killed, not left to its 4 s start: gone (reaped) well before then.
    for (let i = 0; i < 40 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 25));
    if (existsSync("/proc/self")) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(await createGpuSampler({ command: FAKE, signal: AbortSignal.abort() })).toBeUndefined();
  });
});
