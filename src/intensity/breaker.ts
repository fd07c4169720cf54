/**
 * Circuit breaker for the live intensity provider. After `failureThreshold` consecutive failed
 * fetches it opens: no request leaves for `resetMs`, every caller gets the static value at once.
 * Then it lets exactly one probe through (half-open); the probe's success closes it, its failure
 * opens it again for another `resetMs`. Why: when the API is down, hammering it from every zone
 * only adds latency to our own fetches and load to theirs.
 */
export type BreakerState = "closed" | "open" | "half-open";

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. @default 5 */
  failureThreshold?: number;
  /** How long the breaker stays open before one probe is allowed, ms. @default 30000 */
  resetMs?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

export class CircuitBreaker {
  readonly #threshold: number;
  readonly #resetMs: number;
  readonly #now: () => number;
  #state: BreakerState = "closed";
  #failures = 0;
  #openedAtMs = 0;
  #probeInFlight = false;

  constructor(options: CircuitBreakerOptions = {}) {
    this.#threshold = options.failureThreshold ?? 5;
    this.#resetMs = options.resetMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /** Current state; an open breaker whose reset time has passed reports `half-open`. */
  get state(): BreakerState {
    if (this.#state === "open" && this.#now() >= this.#openedAtMs + this.#resetMs) return "half-open";
    return this.#state;
  }

  /** When the next request may leave (epoch ms); now when closed. */
  get nextAttemptAtMs(): number {
    return this.#state === "closed" ? this.#now() : this.#openedAtMs + this.#resetMs;
  }

  /**
   * Asks to send one request. true → send it and report `success()` or `failure()` afterwards
   * (a half-open breaker hands out a single probe until that report arrives).
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === "closed") return true;
    if (state === "open" || this.#probeInFlight) return false;
    this.#state = "half-open";
    this.#probeInFlight = true;
    return true;
  }

  success(): void {
    this.#state = "closed";
    this.#failures = 0;
    this.#probeInFlight = false;
  }

  failure(): void {
    this.#probeInFlight = false;
    if (this.#state === "half-open") {
      this.#open();
      return;
    }
    this.#failures += 1;
    if (this.#failures >= this.#threshold) this.#open();
  }

  /** A request that ended without telling us about the API's health (e.g. 404, aborted). */
  release(): void {
    if (this.#probeInFlight) {
      this.#probeInFlight = false;
      // The probe proved nothing either way: stay half-open so the next request probes again.
    }
  }

  #open(): void {
    this.#state = "open";
    this.#openedAtMs = this.#now();
    this.#failures = 0;
  }
}
