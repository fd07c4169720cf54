/**
 * The main thread's side of json-worker.ts: one worker, started on the first JSON request, jobs
 * answered in order. Its old generation is bounded (JSON_WORKER_HEAP_MB); a body that needs more
 * ends the worker, the request gets 413 and the next JSON request starts a new one.
 */
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Co2eError, ERROR_CODES } from "../errors.ts";
import { HttpError } from "./http-answer.ts";
import type { JsonAnswer, JsonJob } from "./json-worker.ts";
import type { RequestLimits } from "./limits.ts";
import type { JsonRequest } from "./otlp-json.ts";

/**
 * Heap bound of the worker's old generation, MiB. The costliest body the default limits accept (an
 * 8 MiB body of 8,000 spans × 255 empty attribute values, two million objects) needs more than
 * 384 MiB and less than this.
 */
export const JSON_WORKER_HEAP_MB = 1024;

/** The worker module next to this one: `.ts` when run from the sources, `.js` when built. */
const WORKER_URL = new URL(`./json-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

interface Pending {
  resolve(result: JsonRequest): void;
  reject(error: unknown): void;
}

export class JsonPool {
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  #start(): Worker {
    const worker = new Worker(WORKER_URL, {
      resourceLimits: { maxOldGenerationSizeMb: JSON_WORKER_HEAP_MB },
    });
    worker.unref();
    worker.on("message", (answer: JsonAnswer) => {
      const pending = this.#pending.get(answer.id);
      if (!pending) return;
      this.#pending.delete(answer.id);
      if ("bytes" in answer) {
        pending.resolve({
          bytes: answer.bytes,
          rejectedSpans: answer.rejectedSpans,
          rejectReasons: answer.rejectReasons,
        });
      } else if (answer.status) pending.reject(new HttpError(answer.status, answer.error));
      else if (answer.code === ERROR_CODES.otlpDecode)
        pending.reject(new Co2eError(ERROR_CODES.otlpDecode, answer.error));
      else pending.reject(new Error(answer.error));
    });
    const fail = (error: unknown) => {
      if (this.#worker === worker) this.#worker = undefined;
      const outOfMemory = (error as { code?: string } | undefined)?.code === "ERR_WORKER_OUT_OF_MEMORY";
      for (const pending of this.#pending.values()) {
        pending.reject(
          outOfMemory
            ? new HttpError(413, `JSON body needs more than the converter's ${JSON_WORKER_HEAP_MB} MiB heap`)
            : error instanceof Error
              ? error
              : new Error(`JSON converter stopped (${String(error)})`),
        );
      }
      this.#pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`JSON converter exited with code ${code}`)));
    return worker;
  }

  /** Converts a JSON body; rejects with HttpError (limits, memory) or a CO2E_ERR_OTLP_DECODE error. */
  convert(body: Uint8Array, limits: RequestLimits): Promise<JsonRequest> {
    this.#worker ??= this.#start();
    const worker = this.#worker;
    const id = this.#nextId++;
    const copy = new Uint8Array(body); // the body may share its buffer (Buffer pool): transfer a copy
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const job: JsonJob = { id, body: copy, limits };
      worker.postMessage(job, [copy.buffer]);
    });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }
}
