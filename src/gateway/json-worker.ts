/**
 * Worker thread that converts OTLP/JSON bodies to protobuf (otlp-json.ts). `JSON.parse` cannot be
 * cut into slices, and a body at the limits holds millions of small objects: here it holds neither
 * the gateway's event loop nor its heap (the worker's heap has its own bound, json-pool.ts).
 */
import { parentPort } from "node:worker_threads";
import { LimitError, type RequestLimits } from "./limits.ts";
import { jsonRequestSteps } from "./otlp-json.ts";
import { runAtOnce } from "./slices.ts";

export interface JsonJob {
  id: number;
  body: Uint8Array;
  limits: RequestLimits;
}

export type JsonAnswer =
  | { id: number; bytes: Uint8Array; rejectedSpans: number; rejectReasons: string[] }
  | { id: number; error: string; status?: 400 | 413; limit?: string; code?: string };

const port = parentPort;
if (port) {
  port.on("message", (job: JsonJob) => {
    try {
      const text = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.length).toString("utf8");
      const result = runAtOnce(jsonRequestSteps(text, job.limits));
      // A copy of its own, so the transfer detaches nothing else.
      const bytes = result.bytes.slice();
      const answer: JsonAnswer = {
        id: job.id,
        bytes,
        rejectedSpans: result.rejectedSpans,
        rejectReasons: result.rejectReasons,
      };
      port.postMessage(answer, [bytes.buffer]);
    } catch (error) {
      const answer: JsonAnswer =
        error instanceof LimitError
          ? { id: job.id, error: error.message, status: error.status, limit: error.limit }
          : {
              id: job.id,
              error: error instanceof Error ? error.message : String(error),
              code: (error as { code?: string }).code,
            };
      port.postMessage(answer);
    }
  });
}
