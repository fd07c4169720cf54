/**
 * Samples a whole process tree from `/proc`: CPU time of every descendant (including those that
 * exited), resident memory, storage I/O.
 *
 * Why the CPU figure is complete without counting anything twice (docs/run-and-window.md):
 * - A live process's `/proc/PID/stat` holds its own time (utime + stime) and, in cutime + cstime,
 *   the whole time of every child it has waited for. When a child is reaped its total moves from
 *   its own row into its parent's cutime: the sum over live processes of own + children's time
 *   is therefore the tree's total so far, each tick counted once.
 * - The root command is reaped by co2e itself, so its final total (with everything it reaped) is
 *   the growth of co2e's own cutime + cstime between spawn and exit (`selfChildBaseline`).
 * - A process whose parent died is re-parented outside the tree (init or a subreaper): its time
 *   will never reach any cutime we read. We remember every tree process by pid + start time, so
 *   such an orphan keeps being counted by its own row, and by its last seen value once it is gone.
 *   That includes a zombie whose parent never waited for it and exited: it is reaped by init or a
 *   subreaper, its (final) time is in no cutime of ours.
 * - co2e's other children (nvidia-smi) also land in co2e's cutime when Node reaps them: the
 *   root's share is taken from the last reading of co2e's cutime known to precede the root's reap
 *   (see `#refreshBeforeRoot`), and an excluded child reaped after that reading is subtracted.
 * The same holds for the I/O counters: the kernel adds a reaped child's I/O to its parent's.
 */
import { listPids, type ProcIo, type ProcStat, readIo, readStat, systemUnits } from "../power/procfs.ts";

interface Tracked {
  pid: number;
  startTicks: number;
  /** Last seen parent pid. */
  ppid: number;
  alive: boolean;
  /** Last seen state (`Z`: exited, waiting to be reaped). */
  state: string;
  /** Index of the last scan that saw it. */
  lastScan: number;
  ownTicks: number;
  childTicks: number;
  /**
   * Set at the scan where it vanished, when its parent was seen alive at that scan and the one
   * before: how much that parent's cutime grew beyond this process's last row (its reaping moved
   * its final total there, plus whatever else the parent reaped meanwhile), ticks.
   */
  reapSlackTicks?: number;
  io?: ProcIo;
}

/**
 * Storage I/O of the tree (`read_bytes`/`write_bytes`), bytes. rchar/wchar are not reported: co2e's
 * own reads of `/proc` and of the nvidia-smi pipe would land in them through its own counters.
 */
export interface StorageIo {
  readBytes: number;
  writeBytes: number;
}

export interface TreeTotals {
  cpuSeconds: number;
  /** Absent when some tree process's `/proc/PID/io` was unreadable (another user's setuid binary). */
  io?: StorageIo;
  /** Processes of the tree seen so far (including exited ones). */
  processesSeen: number;
}

export interface MemoryStats {
  /** Time-weighted mean of the tree's summed RSS over the samples, bytes. */
  avgBytes: number;
  peakBytes: number;
  samples: number;
}

/** A child of co2e that is not the command's (nvidia-smi). */
interface Excluded {
  pid: number;
  startTicks: number;
  /** Own + reaped children's ticks and I/O at the last reading while it was alive. */
  ticks: number;
  io: ProcIo;
  /** Reaped already when co2e's cutime was last read before the root's reap: in that reading. */
  inBeforeRoot: boolean;
}

const ZERO_IO: ProcIo = { readChars: 0, writeChars: 0, readBytes: 0, writeBytes: 0 };

function addIo(a: ProcIo, b: ProcIo, sign = 1): ProcIo {
  return {
    readChars: a.readChars + sign * b.readChars,
    writeChars: a.writeChars + sign * b.writeChars,
    readBytes: a.readBytes + sign * b.readBytes,
    writeBytes: a.writeBytes + sign * b.writeBytes,
  };
}

export class ProcessTreeSampler {
  readonly #selfPid = process.pid;
  readonly #ticksPerSecond: number;
  readonly #pageSizeBytes: number;
  /** Every process of the tree ever seen, by `pid:startTicks` (pids get reused). */
  readonly #tracked = new Map<string, Tracked>();
  /**
   * co2e's cutime + cstime and I/O at the last moment the root was known not to be reaped yet
   * (first: just before the spawn). Whatever co2e reaped until then is not the command's.
   */
  #selfChildBeforeRoot: number;
  #selfIoBeforeRoot: ProcIo | undefined;
  #selfChildDelta = 0;
  #selfIoDelta: ProcIo = ZERO_IO;
  #ioComplete = true;
  #root = -1;
  #rootStartTicks: number | undefined;
  #finished = false;
  #scan = 0;
  readonly #excluded = new Map<number, Excluded>();
  readonly #memory: { tMs: number; bytes: number }[] = [];

  /**
   * Create right BEFORE spawning the command: the baseline of co2e's reaped-children time is
   * taken here. Then `attach(pid)`. Other children co2e reaps meanwhile must be declared with
   * `excludeSelfChild` (and `selfChildExited` from their `exit` event).
   */
  constructor() {
    const units = systemUnits();
    this.#ticksPerSecond = units.ticksPerSecond;
    this.#pageSizeBytes = units.pageSizeBytes;
    this.#selfChildBeforeRoot = readStat("self")?.childTicks ?? 0;
    this.#selfIoBeforeRoot = readIo("self");
  }

  attach(rootPid: number): void {
    this.#root = rootPid;
    // Right after the spawn, before co2e can have reaped it (Node reaps between JS callbacks).
    this.#rootStartTicks = readStat(rootPid)?.startTicks;
  }

  /**
   * A child of co2e that is not the command (nvidia-smi): its time, which lands in co2e's
   * cutime once Node reaps it, is kept out of the command's. Call right after its spawn.
   */
  excludeSelfChild(pid: number): void {
    const stat = readStat(pid);
    if (!stat) return;
    const e: Excluded = { pid, startTicks: stat.startTicks, ticks: 0, io: ZERO_IO, inBeforeRoot: false };
    this.#excluded.set(pid, e);
    this.#readExcluded(e);
  }

  /**
   * From the excluded child's `exit` event (Node has just reaped it): if the root is still
   * unreaped, co2e's cutime read now holds the child's exact final time, so nothing is guessed.
   */
  selfChildExited(_pid: number): void {
    if (!this.#finished) this.#refreshBeforeRoot();
  }

  /** Is the excluded child still there (running or zombie: not reaped)? Updates its counters. */
  #readExcluded(e: Excluded): boolean {
    const stat = readStat(e.pid);
    if (stat?.startTicks !== e.startTicks) return false;
    e.ticks = Math.max(e.ticks, stat.ownTicks + stat.childTicks);
    const io = readIo(e.pid);
    if (io) e.io = io;
    return true;
  }

  /**
   * Reads co2e's cutime and I/O if the root has not been reaped yet (its `/proc` entry, zombie or
   * not, still exists). Reaping happens on co2e's own thread between callbacks, so both readings
   * here see the same state. Excluded children already gone are inside this reading.
   */
  #refreshBeforeRoot(): void {
    if (this.#rootStartTicks === undefined) return;
    const self = readStat("self");
    const io = readIo("self");
    if (!self || readStat(this.#root)?.startTicks !== this.#rootStartTicks) return;
    this.#selfChildBeforeRoot = self.childTicks;
    if (io) this.#selfIoBeforeRoot = io;
    for (const e of this.#excluded.values()) if (!this.#readExcluded(e)) e.inBeforeRoot = true;
  }

  /** One scan of `/proc` at `tMs` (epoch ms): a few ms for a few hundred processes. */
  sample(tMs: number = Date.now()): void {
    if (this.#root < 0) return;
    if (!this.#finished) this.#refreshBeforeRoot();
    const scan = ++this.#scan;
    const stats = new Map<number, ProcStat>();
    const children = new Map<number, number[]>();
    for (const pid of listPids()) {
      const stat = readStat(pid);
      if (!stat) continue;
      stats.set(pid, stat);
      const siblings = children.get(stat.ppid);
      if (siblings) siblings.push(pid);
      else children.set(stat.ppid, [pid]);
    }
    // Roots of the walk: the command and every tracked process still alive (orphans included).
    const queue: number[] = [this.#root];
    for (const t of this.#tracked.values()) {
      if (stats.get(t.pid)?.startTicks === t.startTicks) queue.push(t.pid);
    }
    const childTicksBefore = new Map<Tracked, number>();
    for (const t of this.#tracked.values()) if (t.alive) childTicksBefore.set(t, t.childTicks);
    const seen = new Set<string>();
    let rssPages = 0;
    for (let i = 0; i < queue.length; i++) {
      const pid = queue[i]!;
      const stat = stats.get(pid);
      if (!stat || pid === this.#selfPid) continue;
      const key = `${pid}:${stat.startTicks}`;
      if (seen.has(key)) continue;
      seen.add(key);
      let t = this.#tracked.get(key);
      if (!t) {
        t = {
          pid,
          startTicks: stat.startTicks,
          ppid: stat.ppid,
          alive: true,
          state: stat.state,
          lastScan: scan,
          ownTicks: 0,
          childTicks: 0,
        };
        this.#tracked.set(key, t);
      }
      t.ppid = stat.ppid;
      t.state = stat.state;
      t.lastScan = scan;
      // Counters only grow; max() guards against a torn read.
      t.ownTicks = Math.max(t.ownTicks, stat.ownTicks);
      t.childTicks = Math.max(t.childTicks, stat.childTicks);
      const io = readIo(pid);
      if (io) t.io = io;
      else if (stat.state !== "Z" && readStat(pid)?.startTicks === stat.startTicks) this.#ioComplete = false;
      if (stat.state !== "Z") rssPages += stat.rssPages;
      for (const child of children.get(pid) ?? []) queue.push(child);
    }
    const seenByPid = new Map<number, Tracked>();
    for (const [key, t] of this.#tracked) if (seen.has(key)) seenByPid.set(t.pid, t);
    for (const [key, t] of this.#tracked) {
      const alive = seen.has(key);
      if (t.alive && !alive) {
        const parent = seenByPid.get(t.ppid);
        const before = parent && childTicksBefore.get(parent);
        if (parent && before !== undefined)
          t.reapSlackTicks = parent.childTicks - before - (t.ownTicks + t.childTicks);
      }
      t.alive = alive;
    }
    this.#memory.push({ tMs, bytes: rssPages * this.#pageSizeBytes });
  }

  /**
   * Call once the root has been reaped (its `exit` event): takes co2e's own cutime/cstime growth,
   * which now holds the root's whole total, and scans once more for processes left behind.
   */
  finish(tMs: number = Date.now()): void {
    if (this.#finished) return;
    const self = readStat("self");
    const selfIo = readIo("self");
    // Excluded children reaped since the last reading before the root's reap are in these
    // readings too: take them out with their last seen values (a zombie's are final).
    let excludedTicks = 0;
    let excludedIo = ZERO_IO;
    for (const e of this.#excluded.values()) {
      if (e.inBeforeRoot || this.#readExcluded(e)) continue;
      excludedTicks += e.ticks;
      excludedIo = addIo(excludedIo, e.io);
    }
    if (self) this.#selfChildDelta = Math.max(0, self.childTicks - this.#selfChildBeforeRoot - excludedTicks);
    if (selfIo && this.#selfIoBeforeRoot) {
      const io = addIo(addIo(selfIo, this.#selfIoBeforeRoot, -1), excludedIo, -1);
      this.#selfIoDelta = {
        readChars: Math.max(0, io.readChars),
        writeChars: Math.max(0, io.writeChars),
        readBytes: Math.max(0, io.readBytes),
        writeBytes: Math.max(0, io.writeBytes),
      };
    }
    this.#finished = true;
    this.sample(tMs);
  }

  /**
   * Tree totals so far: co2e's reaped-child growth + every live tree process's own and reaped
   * children's time + the last seen time of exited processes whose parent was outside the tree
   * (orphans re-parented to init: nobody in the tree reaped them). An exited process whose parent
   * was in the tree (or co2e) is not counted: its time is in that parent's cutime — unless it was
   * last seen as a zombie its parent never waited for (`#orphanedZombie`).
   */
  totals(): TreeTotals {
    const treePids = new Set<number>([this.#selfPid]);
    for (const t of this.#tracked.values()) treePids.add(t.pid);
    let ticks = this.#selfChildDelta;
    let io: ProcIo = this.#selfIoDelta;
    for (const t of this.#tracked.values()) {
      if (!t.alive && treePids.has(t.ppid) && !this.#orphanedZombie(t)) continue;
      ticks += t.ownTicks + t.childTicks;
      if (t.io) io = addIo(io, t.io);
    }
    const result: TreeTotals = {
      cpuSeconds: ticks / this.#ticksPerSecond,
      processesSeen: this.#tracked.size,
    };
    if (this.#ioComplete && this.#selfIoBeforeRoot)
      result.io = { readBytes: io.readBytes, writeBytes: io.writeBytes };
    return result;
  }

  /**
   * An exited process last seen as a zombie whose parent exited without being seen alive after
   * it: did the parent reap it first (its time then reached the tree through the parent's cutime)
   * or die without waiting (it was re-parented and reaped by init or a subreaper, e.g.
   * `sh -c 'work & exec sleep 9'`)? A parent seen alive after the zombie vanished reaped it.
   * Otherwise, had the parent reaped it, the parent's final total — which reached its own
   * reaper's cutime — would exceed the parent's last row by at least the zombie's (final) time.
   * For the root that total is co2e's reading; deeper, the growth of the grandparent's cutime
   * over the interval the parent vanished in (`reapSlackTicks`). Growth too small: nobody in the
   * tree reaped the zombie, count it. Without either figure (parent and grandparent gone in the
   * same interval) it is counted as orphaned too.
   */
  #orphanedZombie(t: Tracked): boolean {
    if (t.alive || t.state !== "Z" || t.ppid === this.#selfPid) return false;
    const parent = this.#parentAt(t);
    if (!parent || parent.alive || parent.lastScan > t.lastScan) return false;
    // Ancestors that vanished in the same interval pass the parent's total up: the first one with
    // a known final total bounds them all (each one's unseen growth only adds to the slack).
    let slackTicks: number | undefined;
    for (
      let a: Tracked | undefined = parent;
      a && !a.alive && a.lastScan === parent.lastScan;
      a = this.#parentAt(a)
    ) {
      if (a.pid === this.#root && a.startTicks === this.#rootStartTicks) {
        if (!this.#finished) return false;
        slackTicks = this.#selfChildDelta - (a.ownTicks + a.childTicks);
        break;
      }
      if (a.reapSlackTicks !== undefined) {
        slackTicks = a.reapSlackTicks;
        break;
      }
    }
    return slackTicks === undefined || slackTicks < t.ownTicks + t.childTicks;
  }

  /** The tracked parent of `t` as of `t`'s last scan. */
  #parentAt(t: Tracked): Tracked | undefined {
    let parent: Tracked | undefined;
    for (const p of this.#tracked.values()) {
      if (p.pid === t.ppid && p.lastScan >= t.lastScan && (!parent || p.lastScan > parent.lastScan))
        parent = p;
    }
    return parent;
  }

  memory(): MemoryStats | undefined {
    const m = this.#memory.filter((s) => s.bytes > 0);
    if (m.length === 0) return undefined;
    const peakBytes = Math.max(...m.map((s) => s.bytes));
    if (m.length === 1) return { avgBytes: m[0]!.bytes, peakBytes, samples: 1 };
    let area = 0;
    for (let i = 1; i < m.length; i++)
      area += ((m[i - 1]!.bytes + m[i]!.bytes) / 2) * (m[i]!.tMs - m[i - 1]!.tMs);
    const span = m.at(-1)!.tMs - m[0]!.tMs;
    return { avgBytes: span > 0 ? area / span : peakBytes, peakBytes, samples: m.length };
  }
}
