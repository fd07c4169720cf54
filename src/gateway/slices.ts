/**
 * Long synchronous work cut into slices so that one large request cannot hold the event loop
 * (and with it /healthz and every other request): a loop calls `slicer.due()` per item and, when
 * it says so, awaits `slicer.pause()`, which lets pending I/O run (setImmediate) before going on.
 */

/** Longest run of work between two pauses, ms. */
export const SLICE_MS = 5;

export class Slicer {
  readonly #sliceMs: number;
  #since = performance.now();
  /** Pauses taken (for tests and the benchmark). */
  pauses = 0;
  #calls = 0;

  constructor(sliceMs: number = SLICE_MS) {
    this.#sliceMs = sliceMs;
  }

  /** True when the current slice has run its time (the clock is read every 4th call). */
  due(): boolean {
    if ((++this.#calls & 3) !== 0) return false;
    return performance.now() - this.#since >= this.#sliceMs;
  }

  async pause(): Promise<void> {
    this.pauses++;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#since = performance.now();
  }
}

/**
 * Runs a generator to its end, pausing between slices; each `yield` marks a point where a pause
 * may happen. Without a slicer it runs in one go (synchronous callers, tests).
 */
export async function runSliced<T>(steps: Generator<void, T>, slicer: Slicer): Promise<T> {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    if (slicer.due()) await slicer.pause();
  }
}

export function runAtOnce<T>(steps: Generator<void, T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}
