/**
 * Reusable memory for the rewritten ResourceSpans the gateway forwards. Each one is a new buffer
 * of about the request's size that stays queued until the downstream accepts it, so it outlives
 * V8's young generation: its memory is then only given back by a full mark-compact, and V8 starts
 * one each time such external memory has grown by tens of megabytes. With a downstream that is
 * what the gateway spent most of its garbage-collection time on (a mark-compact every ~0.2 s at
 * ~700 requests/s, measured with --trace-gc on bench/gateway-forward.bench.ts's payload; none
 * without a downstream). Buffers given back here after a send are handed out again instead.
 *
 * Only buffers of at least MIN_POOLED_BYTES are pooled, in size classes CLASS_BYTES apart, so a
 * pooled buffer is at most CLASS_BYTES (25 % of the smallest) larger than the bytes it holds and
 * the forward queue's byte bound stays a memory bound within that. Free buffers are kept up to
 * MAX_FREE_BYTES; past it a returned buffer is left to the garbage collector.
 */

/** Smaller outputs are plain allocations (they are cheap, and a class would be mostly slack). */
export const MIN_POOLED_BYTES = 64 * 1024;
/** Larger outputs are plain allocations (rare: requests of many megabytes). */
export const MAX_POOLED_BYTES = 4 * 1024 * 1024;
const CLASS_BYTES = 16 * 1024;
/** Free buffers kept for reuse, bytes. */
const MAX_FREE_BYTES = 32 * 1024 * 1024;

const free = new Map<number, Uint8Array[]>();
let freeBytes = 0;

function classOf(size: number): number {
  return Math.ceil(size / CLASS_BYTES) * CLASS_BYTES;
}

/**
 * A buffer of at least `size` bytes (its length is the size class): from the free buffers when
 * one fits, else new. Outside the pooled sizes, exactly `size` bytes of new memory.
 */
export function acquireBuffer(size: number): Uint8Array {
  if (size < MIN_POOLED_BYTES || size > MAX_POOLED_BYTES) return new Uint8Array(size);
  const bytes = classOf(size);
  const list = free.get(bytes);
  const reused = list?.pop();
  if (reused) {
    freeBytes -= reused.length;
    return reused;
  }
  return new Uint8Array(bytes);
}

/** True when `buffer` is of a pooled size class (acquireBuffer may have handed it out). */
export function isPoolable(buffer: Uint8Array): boolean {
  return (
    buffer.byteOffset === 0 &&
    buffer.length === buffer.buffer.byteLength &&
    buffer.length >= MIN_POOLED_BYTES &&
    buffer.length <= MAX_POOLED_BYTES &&
    buffer.length % CLASS_BYTES === 0
  );
}

/**
 * Gives a buffer from acquireBuffer back. The caller must hold no other reference to it that is
 * still used. The forwarder gives a batch's buffers back once the downstream answered it: an
 * HTTP server answers after reading the body, so the socket has written all of it. (A server
 * that answers before reading the whole body gets the rest of it from memory that may already
 * hold another batch; it has answered that request, so what it reads after is not part of it.)
 */
export function releaseBuffer(buffer: Uint8Array): void {
  if (!isPoolable(buffer) || freeBytes + buffer.length > MAX_FREE_BYTES) return;
  let list = free.get(buffer.length);
  if (!list) {
    list = [];
    free.set(buffer.length, list);
  }
  list.push(buffer);
  freeBytes += buffer.length;
}

/** Bytes held in free buffers (tests). */
export function freeBufferBytes(): number {
  return freeBytes;
}
