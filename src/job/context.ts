/**
 * The async context of the running job. `run()` of a job handle (and so `withJob`) enters it; the
 * innermost job wins. The meter reads it in its async_hooks `before` callback (event-loop CPU
 * accounting) and the network tracker when a socket is claimed.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { JobNetwork } from "./network.ts";

/** What a job leaves in its async context. */
export interface JobScope {
  readonly network: JobNetwork;
}

export const jobContext = new AsyncLocalStorage<JobScope>();
