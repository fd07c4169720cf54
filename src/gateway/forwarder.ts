/**
 * Sends enriched spans to the downstream OTLP/HTTP endpoint (protobuf), in batches of about
 * `forwardBatchSpans`, with a few requests in flight. The queue is bounded in spans and bytes and
 * a request's capacity is reserved before it is acknowledged, so the gateway answers 503 instead
 * of accepting spans it would have to drop: an acknowledged span stays queued (in memory) until
 * the downstream accepts it. 5xx, 429 and network errors are retried with exponential backoff and
 * full jitter (util/retry.ts), honouring Retry-After; other 4xx answers are permanent and the batch
 * is counted as dropped.
 *
 * At shutdown (`flush(deadline)`) a failing batch keeps being retried until the deadline itself:
 * backoff waits are cut so that the last attempt starts shortly before it, and spans still unsent
 * when it passes are counted as lost at shutdown (`lostAtShutdownSpans`), so the caller can say
 * how many acknowledged spans were not forwarded and exit non-zero.
 */
import { Agent, request } from "undici";
import { retryDelayMs } from "../util/retry.ts";
import { parseRetryAfterMs } from "../util/retry-after.ts";
import { settleWithin } from "../util/timeout.ts";
import { type ForwardTransport, RetryableError } from "./forward-transport.ts";
import { type ForwardItem, frameRequest, releaseForwardItems } from "./otlp-encode.ts";

export interface ForwarderOptions {
  /** Downstream URL; a bare origin gets /v1/traces (see forwardTracesUrl). */
  url: string;
  batchSpans: number;
  queueSpans: number;
  queueBytes: number;
  /** Batches in flight at once. */
  concurrency: number;
  timeoutMs: number;
  log: (msg: string) => void;
  /** Backoff bounds, ms. @default 100 / 5000 */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Sends batches another way than OTLP/HTTP (grpc-forwarder.ts); `url` is then not used. */
  transport?: ForwardTransport;
}

export interface ForwarderStats {
  /** Spans the downstream accepted. */
  forwardedSpans: number;
  /** Spans the downstream refused permanently (4xx other than 429), or left at shutdown. */
  droppedSpans: number;
  /**
   * Acknowledged spans still unsent when the shutdown deadline passed (also in droppedSpans).
   * Non-zero means the gateway broke its promise to those clients: the CLI exits 1.
   */
  lostAtShutdownSpans: number;
  /** Attempts that were retried. */
  retries: number;
}

export interface SpanSink {
  /** Reserves room for a request's spans; false = full (answer 503). */
  tryReserve(spans: number, bytes: number): boolean;
  /**
   * Hands reserved spans over (`items` may hold fewer spans than reserved: rejected ones). The
   * items' real size replaces the reservation; it is at most the reservation when that was made
   * with forwardBytesEstimate (see pipeline.ts).
   */
  commit(reservedSpans: number, reservedBytes: number, items: ForwardItem[]): void;
  /** Gives back a reservation that will not be committed. */
  release(spans: number, bytes: number): void;
  /** Spans accepted but not yet forwarded. */
  readonly pendingSpans: number;
  /** Bytes counted against the queue's byte bound: queued, in flight and reserved. */
  readonly pendingBytes: number;
  /** Highest pendingBytes so far. */
  readonly peakPendingBytes: number;
  readonly full: boolean;
  readonly stats: ForwarderStats;
  /**
   * Waits until everything is forwarded or the deadline passes; true when every acknowledged span
   * was forwarded (nothing left, none lost at shutdown).
   */
  flush(deadlineMs: number): Promise<boolean>;
  /** Stops sending; spans still queued or in flight are counted as lost at shutdown. */
  close(): Promise<void>;
}

/**
 * At shutdown the last retry of a batch starts this long before the deadline, so that a quick
 * answer (a connection refused, a downstream that just came back) still lands in time.
 */
const FINAL_ATTEMPT_LEAD_MS = 200;

/** The OTLP/HTTP traces path a bare endpoint gets (OTLP/HTTP spec, "OTLP/HTTP Request"). */
export const OTLP_TRACES_PATH = "/v1/traces";

/**
 * The URL batches are POSTed to. Like the Collector's `otlphttp` exporter with `endpoint:`, a URL
 * whose path is empty or "/" gets `/v1/traces`; any other path is used as given (a proxy may
 * mount the receiver elsewhere). Without this, `--forward http://host:4318` posts to "/", the
 * receiver answers 404, and a 404 is a permanent refusal: every batch would be dropped.
 */
export function forwardTracesUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.pathname === "" || parsed.pathname === "/") parsed.pathname = OTLP_TRACES_PATH;
  return parsed.toString();
}

export class Forwarder implements SpanSink {
  readonly stats: ForwarderStats = { forwardedSpans: 0, droppedSpans: 0, lostAtShutdownSpans: 0, retries: 0 };
  readonly #options: Required<Omit<ForwarderOptions, "transport">>;
  readonly #queue: ForwardItem[] = [];
  readonly #agent: Agent;
  readonly #transport: ForwardTransport | undefined;
  #queuedSpans = 0;
  #reservedSpans = 0;
  #reservedBytes = 0;
  #queuedBytes = 0;
  /** Spans and bytes in batches being sent (still counted against the bounds). */
  #inflightSpans = 0;
  #inflightBytes = 0;
  #peakPendingBytes = 0;
  #active = 0;
  #closing = false;
  #deadlineMs = Number.POSITIVE_INFINITY;
  #idleWaiters: (() => void)[] = [];
  /** Aborts requests in flight at close(). */
  readonly #abort = new AbortController();
  /** Wakes batches waiting out a backoff (when the deadline is set, and at close). */
  readonly #sleepers = new Set<() => void>();
  /** close() waiting for the batches in flight to end. */
  #inactiveWaiters: (() => void)[] = [];
  /** Why the last attempt failed, for the shutdown message. */
  #lastError = "";

  /** The URL actually posted to. */
  get url(): string {
    return this.#options.url;
  }

  constructor(options: ForwarderOptions) {
    const { transport, ...rest } = options;
    this.#transport = transport;
    const url = transport ? transport.target : forwardTracesUrl(options.url);
    this.#options = { minBackoffMs: 100, maxBackoffMs: 5000, ...rest, url };
    this.#agent = new Agent({ connections: options.concurrency, keepAliveTimeout: 30_000 });
  }

  /** Why the most recent failed attempt failed ("" when none failed). */
  get lastError(): string {
    return this.#lastError;
  }

  get pendingSpans(): number {
    return this.#queuedSpans + this.#inflightSpans + this.#reservedSpans;
  }

  get pendingBytes(): number {
    return this.#queuedBytes + this.#inflightBytes + this.#reservedBytes;
  }

  get peakPendingBytes(): number {
    return this.#peakPendingBytes;
  }

  get full(): boolean {
    return this.pendingSpans >= this.#options.queueSpans || this.pendingBytes >= this.#options.queueBytes;
  }

  tryReserve(spans: number, bytes: number): boolean {
    if (this.#closing) return false;
    if (this.pendingSpans + spans > this.#options.queueSpans) return false;
    if (this.pendingBytes + bytes > this.#options.queueBytes) return false;
    this.#reservedSpans += spans;
    this.#reservedBytes += bytes;
    this.#notePeak();
    return true;
  }

  #notePeak(): void {
    const bytes = this.pendingBytes;
    if (bytes > this.#peakPendingBytes) this.#peakPendingBytes = bytes;
  }

  release(spans: number, bytes: number): void {
    this.#reservedSpans -= spans;
    this.#reservedBytes -= bytes;
    this.#notifyIdle();
  }

  commit(reservedSpans: number, reservedBytes: number, items: ForwardItem[]): void {
    this.#reservedSpans -= reservedSpans;
    this.#reservedBytes -= reservedBytes;
    for (const item of items) {
      this.#queue.push(item);
      this.#queuedSpans += item.spanCount;
      this.#queuedBytes += item.bytes.length;
    }
    // Only an item larger than its estimate (a huge carbon.error text) can raise the peak here.
    this.#notePeak();
    this.#pump();
    this.#notifyIdle();
  }

  #takeBatch(): ForwardItem[] {
    const batch: ForwardItem[] = [];
    let spans = 0;
    while (
      this.#queue.length &&
      (batch.length === 0 || spans + this.#queue[0]!.spanCount <= this.#options.batchSpans)
    ) {
      const item = this.#queue.shift()!;
      batch.push(item);
      spans += item.spanCount;
    }
    return batch;
  }

  #pump(): void {
    while (this.#active < this.#options.concurrency && this.#queue.length) {
      const batch = this.#takeBatch();
      let spans = 0;
      let bytes = 0;
      for (const item of batch) {
        spans += item.spanCount;
        bytes += item.bytes.length;
      }
      this.#queuedSpans -= spans;
      this.#queuedBytes -= bytes;
      this.#inflightSpans += spans;
      this.#inflightBytes += bytes;
      this.#active++;
      void this.#send(frameRequest(batch), spans, batch).finally(() => {
        this.#active--;
        this.#inflightSpans -= spans;
        this.#inflightBytes -= bytes;
        this.#pump();
        this.#notifyIdle();
        if (this.#active === 0) for (const w of this.#inactiveWaiters.splice(0)) w();
      });
    }
  }

  /** Waits `ms`, or less when woken (deadline set, close). */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.#sleepers.add(done);
    });
  }

  #wakeSleepers(): void {
    for (const wake of [...this.#sleepers]) wake();
  }

  /** Counts a batch that will not be sent because the shutdown deadline passed or close() came. */
  #lose(spans: number): void {
    this.stats.droppedSpans += spans;
    this.stats.lostAtShutdownSpans += spans;
  }

  /**
   * Sends one batch until it is accepted, refused for good, or shutdown ends it: once a deadline
   * is set, waits are cut so that the last attempt starts FINAL_ATTEMPT_LEAD_MS before it. Once
   * answered (accepted or refused), nothing reads `body` any more and the items' buffers are
   * given back for reuse (a batch that ends otherwise leaves them to the garbage collector).
   */
  async #send(body: Uint8Array, spans: number, items: ForwardItem[]): Promise<void> {
    let lastChance = false;
    for (let attempt = 0; ; attempt++) {
      if (this.#closing) return this.#lose(spans);
      let waitMs: number | undefined;
      try {
        if (this.#transport) {
          const refused = await this.#transport.send(body, this.#abort.signal);
          if (refused === undefined) {
            this.stats.forwardedSpans += spans;
            // Accepted: the downstream read the whole message. (A refusal may come before that,
            // so its buffers are left to the garbage collector.)
            releaseForwardItems(items);
          } else {
            this.stats.droppedSpans += spans;
            this.#options.log(`downstream refused a batch of ${spans} spans with ${refused}; dropped`);
          }
          return;
        }
        const res = await request(this.#options.url, {
          method: "POST",
          dispatcher: this.#agent,
          headers: { "content-type": "application/x-protobuf" },
          body,
          headersTimeout: this.#options.timeoutMs,
          bodyTimeout: this.#options.timeoutMs,
          signal: this.#abort.signal,
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          this.stats.forwardedSpans += spans;
          releaseForwardItems(items);
          return;
        }
        if (res.statusCode !== 429 && res.statusCode < 500) {
          this.stats.droppedSpans += spans;
          this.#options.log(
            `downstream refused a batch of ${spans} spans with HTTP ${res.statusCode}; dropped`,
          );
          releaseForwardItems(items);
          return;
        }
        this.#lastError = `HTTP ${res.statusCode}`;
        waitMs = parseRetryAfterMs(res.headers["retry-after"], Date.now(), this.#options.maxBackoffMs);
      } catch (error) {
        if (this.#closing) return this.#lose(spans);
        this.#lastError = errorText(error);
        if (error instanceof RetryableError) waitMs = error.retryAfterMs;
        if (attempt === 0) this.#options.log(`forwarding failed (${this.#lastError}); retrying`);
      }
      let delay = Math.min(
        this.#options.maxBackoffMs,
        retryDelayMs(
          attempt,
          { baseMs: this.#options.minBackoffMs, maxMs: this.#options.maxBackoffMs },
          waitMs,
        ),
      );
      if (Number.isFinite(this.#deadlineMs)) {
        const remainingMs = this.#deadlineMs - Date.now();
        // The attempt just made was the one right before the deadline: nothing later fits.
        if (lastChance || remainingMs <= 0) return this.#lose(spans);
        if (delay >= remainingMs - FINAL_ATTEMPT_LEAD_MS) {
          delay = Math.max(0, remainingMs - FINAL_ATTEMPT_LEAD_MS);
          lastChance = true;
        }
      }
      this.stats.retries++;
      await this.#sleep(delay);
    }
  }

  #notifyIdle(): void {
    if (this.pendingSpans === 0 && this.#active === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  async flush(deadlineMs: number): Promise<boolean> {
    this.#deadlineMs = deadlineMs;
    // Batches waiting out a long backoff try again now, then back off within the deadline.
    this.#wakeSleepers();
    this.#pump();
    if (this.pendingSpans !== 0 || this.#active !== 0) {
      const idle = new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      await settleWithin(idle, Math.max(0, deadlineMs - Date.now()));
    }
    return this.pendingSpans === 0 && this.#active === 0 && this.stats.lostAtShutdownSpans === 0;
  }

  async close(): Promise<void> {
    this.#closing = true;
    const left = this.#queuedSpans;
    if (left) {
      this.#lose(left);
      this.#queue.length = 0;
      this.#queuedSpans = 0;
      this.#queuedBytes = 0;
    }
    // Batches in flight or backing off end now and count themselves as lost.
    this.#abort.abort(new Error("gateway shutting down"));
    this.#wakeSleepers();
    if (this.#active > 0) await new Promise<void>((resolve) => this.#inactiveWaiters.push(resolve));
    // Everything in flight was aborted above; destroy() does not wait for a DNS lookup or connect.
    await this.#agent.destroy().catch(() => {});
    await this.#transport?.close();
  }
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // undici wraps socket errors: "fetch failed"-style messages carry the reason in `cause`.
  const cause = (error as Error & { cause?: unknown }).cause;
  const code = (error as NodeJS.ErrnoException).code;
  const text = error.message || code || error.name;
  return cause instanceof Error && cause.message && !text.includes(cause.message)
    ? `${text}: ${cause.message}`
    : text;
}

/** No downstream configured: spans are counted and dropped after enrichment. */
export class DroppingSink implements SpanSink {
  readonly stats: ForwarderStats = { forwardedSpans: 0, droppedSpans: 0, lostAtShutdownSpans: 0, retries: 0 };
  readonly pendingSpans = 0;
  readonly pendingBytes = 0;
  readonly peakPendingBytes = 0;
  readonly full = false;

  tryReserve(): boolean {
    return true;
  }

  commit(_reservedSpans: number, _reservedBytes: number, items: ForwardItem[]): void {
    for (const item of items) this.stats.droppedSpans += item.spanCount;
    releaseForwardItems(items);
  }

  release(): void {}

  flush(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
