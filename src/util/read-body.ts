/**
 * Reading an HTTP body into memory with a byte cap that is enforced while reading: an
 * `IncomingMessage` (the gateway) or an undici response body (the Electricity Maps client) can
 * both be iterated as chunks. A sender that gives no Content-Length (the OTel JS exporter sends
 * chunked bodies) is cut off at the cap, not after buffering everything.
 */

export class BodyTooLargeError extends Error {
  readonly limitBytes: number;
  /** Bytes seen before reading stopped (at least limitBytes + 1). */
  readonly receivedBytes: number;

  constructor(limitBytes: number, receivedBytes: number) {
    super(`body exceeds the limit of ${limitBytes} bytes`);
    this.name = "BodyTooLargeError";
    this.limitBytes = limitBytes;
    this.receivedBytes = receivedBytes;
  }
}

export interface ReadBodyOptions {
  /**
   * After the cap is passed, keep reading (and discarding) until the body ends or this many bytes
   * in all were seen, so a server can still send its 413 on the same connection. Past it, reading
   * stops, which destroys the stream. @default 0 (stop at once)
   */
  drainUpToBytes?: number;
  /** Called with the size of every chunk as it arrives (the gateway's body-rate check). */
  onChunk?: (bytes: number) => void;
}

/**
 * The whole body, or a BodyTooLargeError once it passes `limitBytes`. Stream errors (the peer
 * closed early, a timeout) reject as they are.
 */
export async function readBodyLimited(
  body: AsyncIterable<Uint8Array | string>,
  limitBytes: number,
  options: ReadBodyOptions = {},
): Promise<Buffer> {
  const drainUpTo = options.drainUpToBytes ?? 0;
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const item of body) {
    const chunk = typeof item === "string" ? Buffer.from(item) : item;
    size += chunk.length;
    options.onChunk?.(chunk.length);
    if (!over && size > limitBytes) {
      over = true;
      chunks.length = 0;
    }
    if (over) {
      if (size > drainUpTo) break; // ends the iteration, which destroys the stream
      continue;
    }
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  if (over) throw new BodyTooLargeError(limitBytes, size);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}
