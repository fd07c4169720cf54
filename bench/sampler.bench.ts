/**
 * Sampler CPU cost with 1,000 concurrent jobs, as a share of one core: process CPU while 1,000 jobs
 * wait (the sampler ticking) minus process CPU over an equal idle wait with no job, both measured
 * in this run. Target: < 0.5 % of one core at the default 1 s interval. The 100 ms line
 * is for information: ten times the ticks.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { JobMeter } from "../src/job/meter.ts";

const JOBS = 1000;
const WAIT_MS = 4000;
const TARGET_SHARE_OF_CORE = 0.005;

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function idleCpu(waitMs: number): Promise<number> {
  const before = cpuSeconds();
  const t0 = performance.now();
  await sleep(waitMs);
  return (cpuSeconds() - before) / ((performance.now() - t0) / 1000);
}

async function withJobs(intervalMs: number): Promise<{ share: number; startEndMicros: number }> {
  const meter = new JobMeter({ intervalMs });
  const t0 = performance.now();
  const jobs = Array.from({ length: JOBS }, () => meter.start());
  const startMicros = ((performance.now() - t0) * 1000) / JOBS;
  const share = await idleCpu(WAIT_MS);
  const t1 = performance.now();
  for (const job of jobs) job.finish();
  const endMicros = ((performance.now() - t1) * 1000) / JOBS;
  if (meter.activeJobs !== 0) throw new Error("jobs still active");
  return { share, startEndMicros: startMicros + endMicros };
}

const baseline = await idleCpu(WAIT_MS);
const atDefault = await withJobs(1000);
const baseline2 = await idleCpu(WAIT_MS / 2);
const at100 = await withJobs(100);
const idle = Math.min(baseline, baseline2);
const costDefault = Math.max(0, atDefault.share - idle);
const cost100 = Math.max(0, at100.share - idle);
const pct = (x: number) => `${(x * 100).toFixed(3)} %`;
console.log(`idle process (no jobs): ${pct(idle)} of one core (baseline, measured twice)`);
console.log(
  `${JOBS} concurrent jobs, 1 s interval: ${pct(atDefault.share)} → sampler cost ${pct(costDefault)} of one core (target < ${pct(TARGET_SHARE_OF_CORE)})`,
);
console.log(`${JOBS} concurrent jobs, 100 ms interval: sampler cost ${pct(cost100)} of one core`);
console.log(
  `job start+finish in the meter with ${JOBS} active: ${atDefault.startEndMicros.toFixed(2)} µs/job`,
);
if (!(costDefault < TARGET_SHARE_OF_CORE)) {
  console.log("MISSED: sampler cost target");
  process.exitCode = 1;
}
