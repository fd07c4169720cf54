/**
 * Reading Linux `/proc`: one process's CPU ticks, resident pages and I/O counters (for `co2e run`)
 * and the system's CPU count (for the machine CPU energy attribution).
 * Field positions are those of proc(5) (`/proc/PID/stat`, `/proc/PID/io`). Every reader returns
 * `undefined` for a process that vanished between listing and reading, which is normal.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** The parts of `/proc/PID/stat` the sampler uses. Times in clock ticks, rss in pages. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** `R`, `S`, `Z` (zombie: exited, not yet reaped)… */
  state: string;
  /** Own user + system time of every thread of the process, ticks. */
  ownTicks: number;
  /** User + system time of the children this process has waited for (cutime + cstime), ticks. */
  childTicks: number;
  /** Start time after boot, ticks: with pid it identifies a process across pid reuse. */
  startTicks: number;
  rssPages: number;
}

/**
 * `/proc/PID/io`. `readBytes`/`writeBytes` are what reached the storage layer (proc(5):
 * "bytes which this process really did cause to be fetched from/sent to the storage layer");
 * `readChars`/`writeChars` (rchar/wchar) count every byte passed to read/write-like syscalls,
 * including pipes, terminals, sockets and page-cache hits.
 */
export interface ProcIo {
  readChars: number;
  writeChars: number;
  readBytes: number;
  writeBytes: number;
}

/**
 * Parses a `/proc/PID/stat` line. The command name (field 2) is in parentheses and may itself
 * hold spaces and parentheses, so the remaining fields are split after the LAST `)`.
 */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  const open = text.indexOf("(");
  if (close < 0 || open < 0) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // rest[0] is field 3 (state); field n is rest[n - 3].
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const field = (n: number): number => Number(rest[n - 3]);
  const stat: ProcStat = {
    pid,
    ppid: field(4),
    state: rest[0] ?? "?",
    ownTicks: field(14) + field(15),
    childTicks: field(16) + field(17),
    startTicks: field(22),
    rssPages: field(24),
  };
  const numbers = [stat.pid, stat.ppid, stat.ownTicks, stat.childTicks, stat.startTicks, stat.rssPages];
  return numbers.every(Number.isFinite) ? stat : undefined;
}

export function parseIo(text: string): ProcIo | undefined {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) values.set(line.slice(0, colon).trim(), Number(line.slice(colon + 1)));
  }
  const io: ProcIo = {
    readChars: values.get("rchar") ?? Number.NaN,
    writeChars: values.get("wchar") ?? Number.NaN,
    readBytes: values.get("read_bytes") ?? Number.NaN,
    writeBytes: values.get("write_bytes") ?? Number.NaN,
  };
  return Object.values(io).every(Number.isFinite) ? io : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

export function readStat(pid: number | "self"): ProcStat | undefined {
  const text = readText(`/proc/${pid}/stat`);
  return text === undefined ? undefined : parseStat(text);
}

/** Needs the same user (ptrace read access); undefined when not permitted or gone. */
export function readIo(pid: number | "self"): ProcIo | undefined {
  const text = readText(`/proc/${pid}/io`);
  return text === undefined ? undefined : parseIo(text);
}

/** Pids of every process (thread-group leaders; threads are not listed in `/proc`). */
export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) pids.push(Number(name));
  }
  return pids;
}

export function procAvailable(): boolean {
  return readStat("self") !== undefined;
}

export interface SystemUnits {
  /** USER_HZ, the unit of the stat times. */
  ticksPerSecond: number;
  pageSizeBytes: number;
}

function getconf(name: string): number | undefined {
  try {
    const value = Number(execFileSync("getconf", [name], { encoding: "utf8", timeout: 2000 }).trim());
    return Number.isInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

let units: SystemUnits | undefined;

/**
 * Clock ticks per second and page size, asked of `getconf` once. Without getconf: 100 ticks/s
 * (USER_HZ is 100 on every mainstream Linux architecture; the kernel keeps it fixed for
 * userspace whatever CONFIG_HZ is) and 4096-byte pages.
 */
export function systemUnits(): SystemUnits {
  units ??= { ticksPerSecond: getconf("CLK_TCK") ?? 100, pageSizeBytes: getconf("PAGESIZE") ?? 4096 };
  return units;
}
