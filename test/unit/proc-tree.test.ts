import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parseIo, parseStat, procAvailable, readStat, systemUnits } from "../../src/run/procfs.ts";
import { ProcessTreeSampler } from "../../src/run/tree-sampler.ts";

const hasProc = procAvailable();
if (!hasProc) console.warn("SKIP: /proc is not available here; the tree sampler tests need Linux");
const skip = !hasProc && process.env.CI !== "true";

// pid 4242, comm "(we) ird )name" with spaces and parentheses; utime 150, stime 50, cutime 7,
// cstime 3, starttime 99999, rss 2560 pages.
const STAT =
  "4242 ((we) ird )name) S 17 4242 17 0 -1 4194560 100 0 0 0 150 50 7 3 20 0 1 0 99999 12345678 2560 " +
  "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

describe("parseStat", () => {
  it("splits after the last parenthesis, whatever the command name holds", () => {
    expect(parseStat(STAT)).toEqual({
      pid: 4242,
      ppid: 17,
      state: "S",
      ownTicks: 200,
      childTicks: 10,
      startTicks: 99999,
      rssPages: 2560,
    });
  });
  it("rejects a truncated line", () => {
    expect(parseStat("4242 (x) S 17")).toBeUndefined();
    expect(parseStat("garbage")).toBeUndefined();
  });
});

describe("parseIo", () => {
  it("reads rchar/wchar and read_bytes/write_bytes", () => {
    const text =
      "rchar: 6976\nwchar: 12\nsyscr: 10\nsyscw: 1\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n";
    expect(parseIo(text)).toEqual({ readChars: 6976, writeChars: 12, readBytes: 4096, writeBytes: 8192 });
    expect(parseIo("rchar: 1\n")).toBeUndefined();
  });
});

describe.skipIf(skip)("ProcessTreeSampler on real processes", () => {
  it("clock ticks from getconf agree with process.cpuUsage()", () => {
    const t = Date.now();
    while (Date.now() - t < 300) {}
    const ticks = readStat("self")!.ownTicks;
    const seconds = (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
    expect(ticks / systemUnits().ticksPerSecond).toBeCloseTo(seconds, 0);
  });

  it("counts a child and its reaped grandchildren once, with co2e's own cutime for the root", async () => {
    const tree = new ProcessTreeSampler();
    // Two busy node grandchildren of ~0.4 s each, run one after the other by sh.
    const busy = `${process.execPath} -e "const t=Date.now();while(Date.now()-t<400){}"`;
    const child = spawn("sh", ["-c", `${busy}; ${busy}`], { stdio: "ignore" });
    tree.attach(child.pid!);
    const timer = setInterval(() => tree.sample(), 50);
    await new Promise((resolve) => child.on("exit", resolve));
    clearInterval(timer);
    tree.finish();
    const totals = tree.totals();
    expect(totals.processesSeen).toBeGreaterThanOrEqual(2);
    // Each grandchild spins 0.4 s of wall time: on 2 shared cores it gets ≤ 0.4 CPU-s, and node
    // start-up adds some. Nothing may be counted twice: well below 2 × the total.
    expect(totals.cpuSeconds).toBeGreaterThan(0.3);
    expect(totals.cpuSeconds).toBeLessThan(1.3);
    const memory = tree.memory()!;
    expect(memory.peakBytes).toBeGreaterThan(5 * 1024 * 1024);
    expect(memory.avgBytes).toBeLessThanOrEqual(memory.peakBytes);
  });
});
