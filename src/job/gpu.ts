/**
 * Attaches measured GPU energy (src/gpu/nvidia-smi.ts: sampled board power, integrated) to a job
 * meter. No nvidia-smi → no sampler → jobs carry no `job.gpu.joules` attribute (absent, not zero).
 */
import { createGpuSampler, type GpuSamplerOptions } from "../gpu/nvidia-smi.ts";
import type { JobMeter } from "./meter.ts";

/** Starts the GPU sampler if nvidia-smi answers; attaches it to the meter until stopped. */
export async function attachGpuSampler(
  meter: JobMeter,
  options: GpuSamplerOptions = {},
): Promise<{ stop(): void } | undefined> {
  let sampler: Awaited<ReturnType<typeof createGpuSampler>>;
  try {
    sampler = await createGpuSampler(options);
  } catch {
    return undefined;
  }
  if (!sampler) return undefined;
  const gpu = sampler;
  meter.setGpu(gpu);
  return {
    stop(): void {
      meter.setGpu(undefined);
      gpu.stop();
    },
  };
}
