import { afterEach } from "vitest";

export type Cleanup = () => Promise<unknown>;

/**
 * A stack of cleanups run after each test, last registered first. Registers the afterEach hook in
 * the calling test file: call it at the file's top level.
 */
export function useCleanups(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  return cleanups;
}
