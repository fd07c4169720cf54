/** Waiting on a promise for a bounded time without ever rejecting. */

/**
 * Resolves with the promise's value, or with undefined when it rejects or has not settled after
 * `ms` (≤ 0: at once). The timer is cleared as soon as the promise settles, so it never keeps
 * the process alive beyond the race; the promise itself keeps running (its result may still
 * fill a cache).
 */
export function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  if (!(ms > 0)) {
    promise.catch(() => {});
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}
