import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseIo, parseStat, procAvailable, readStat, systemUnits } from "../../src/power/procfs.ts";
import { ProcessTreeSampler } from "../../src/run/tree-sampler.ts";
import { burnWallMs } from "../helpers/cpu-burn.ts";

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
    burnWallMs(300);
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

  it("keeps an excluded child of co2e (nvidia-smi) out, whenever Node reaps it", async () => {
    const spin = `${process.execPath} -e "const t=Date.now();while(Date.now()-t<400){}"`;
    const exitOf = (c: ReturnType<typeof spawn>) => new Promise((resolve) => c.on("exit", resolve));
    for (const tellExit of [true, false]) {
      const tree = new ProcessTreeSampler();
      const excluded = spawn("sh", ["-c", `exec ${spin}`], { stdio: "ignore" });
      tree.excludeSelfChild(excluded.pid!);
      const excludedExit = exitOf(excluded).then(() => tellExit && tree.selfChildExited(excluded.pid!));
      const root = spawn("sleep", ["0.9"], { stdio: "ignore" });
      tree.attach(root.pid!);
      const rootExit = exitOf(root);
      // Without the exit notice, the last scan before the root's reap predates the excluded
      // child's reap: it is then subtracted with its last seen time (most of it, here).
      const timer = setInterval(() => tree.sample(), 50);
      if (!tellExit) setTimeout(() => clearInterval(timer), 400);
      await excludedExit;
      await rootExit;
      clearInterval(timer);
      tree.finish();
      const cpuSeconds = tree.totals().cpuSeconds;
      expect(cpuSeconds, `tellExit=${tellExit}`).toBeLessThan(tellExit ? 0.03 : 0.25);
    }
  });
});

// A subreaper above co2e (like tini or `docker run --init`) reaps what co2e's command leaves
// behind; python3's ctypes gives the prctl. Without python3 these tests cannot build one.
const hasPython = spawnSync("python3", ["-c", "import ctypes"], { stdio: "ignore" }).status === 0;
if (!hasPython) console.warn("SKIP: python3 is not available; the subreaper (zombie) tests need it");
const skipReaper = skip || (!hasPython && process.env.CI !== "true");

describe.skipIf(skipReaper)("ProcessTreeSampler with zombies under a subreaper", () => {
  const RUNNER = fileURLToPath(new URL("../../src/run/runner.ts", import.meta.url));
  const NODE = process.execPath;

  /** `runCommand(sh -c script)` in a node child of a python subreaper; co2e's cpuSeconds. */
  function runUnderSubreaper(dir: string, script: string): number {
    writeFileSync(
      join(dir, "reaper.py"),
      [
        "import ctypes, subprocess, sys, os",
        "ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER",
        "p = subprocess.Popen(sys.argv[1:])",
        "while True:",
        "    try: os.wait()",
        "    except ChildProcessError: break",
        "sys.exit(p.returncode or 0)",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "measure.ts"),
      `import { runCommand } from ${JSON.stringify(RUNNER)};
       const r = await runCommand({ command: "sh", args: ["-c", process.argv[2]], gpu: false, intervalMs: 100 });
       console.log(JSON.stringify({ cpuSeconds: r.cpuSeconds }));`,
    );
    const out = execFileSync("python3", [join(dir, "reaper.py"), NODE, join(dir, "measure.ts"), script], {
      encoding: "utf8",
      timeout: 20_000,
    });
    return (JSON.parse(out.trim().split("\n").at(-1)!) as { cpuSeconds: number }).cpuSeconds;
  }

  function busyScript(dir: string): string {
    // Spins 0.6 s of wall time, then writes its own CPU seconds.
    writeFileSync(
      join(dir, "busy.cjs"),
      `const t = Date.now(); while (Date.now() - t < 600) {}
       const u = process.cpuUsage(); require("node:fs").writeFileSync(process.argv[2], String((u.user + u.system) / 1e6));`,
    );
    return join(dir, "busy.cjs");
  }

  it("counts a zombie its parent never waited for (reaped by the subreaper, in no cutime of ours)", () => {
    const dir = mkdtempSync(join(tmpdir(), "co2e-zombie-"));
    try {
      const out = join(dir, "self.txt");
      // sleep (the exec'd root) never waits: the busy child stays a zombie until the root exits,
      // then the subreaper reaps it.
      const cpu = runUnderSubreaper(dir, `"${NODE}" "${busyScript(dir)}" "${out}" & exec sleep 1.5`);
      const self = Number(readFileSync(out, "utf8"));
      expect(self).toBeGreaterThan(0.2);
      expect(cpu).toBeGreaterThanOrEqual(self * 0.85);
      expect(cpu).toBeLessThanOrEqual(self * 1.15 + 0.05);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("does not count twice a zombie its parent reaped just before exiting", () => {
    const dir = mkdtempSync(join(tmpdir(), "co2e-zombie-"));
    try {
      const out = join(dir, "self.txt");
      // python waits for the child only at the end: a zombie for ~0.9 s, then reaped, then python
      // and the sh above it exit within the same interval.
      const py = `import subprocess, time; p = subprocess.Popen([${JSON.stringify(NODE)}, ${JSON.stringify(busyScript(dir))}, ${JSON.stringify(out)}]); time.sleep(1.5); p.wait()`;
      const cpu = runUnderSubreaper(dir, `python3 -c '${py}'; true`);
      const self = Number(readFileSync(out, "utf8"));
      expect(self).toBeGreaterThan(0.2);
      expect(cpu).toBeGreaterThanOrEqual(self * 0.85);
      // python's own start-up adds a little; twice the child would be far above.
      expect(cpu).toBeLessThanOrEqual(self * 1.15 + 0.15);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
