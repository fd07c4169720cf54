/**
 * A downstream for benchmarks, run as its own process: accepts OTLP/HTTP protobuf on 127.0.0.1
 * (port 0) and counts spans by walking only the outer messages (ExportTraceServiceRequest →
 * ResourceSpans → ScopeSpans → spans), so it costs far less than the sender it measures.
 * Prints `PORT` on stdout; `GET /count` answers `{"spans":N,"requests":N}`.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

function varint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (;;) {
    const b = buf[pos++]!;
    value += (b & 0x7f) * mul;
    if (b < 0x80) return [value, pos];
    mul *= 128;
  }
}

/** Number of length-delimited `field` entries in buf[start, end), each handed to `inner`. */
function walk(
  buf: Buffer,
  start: number,
  end: number,
  field: number,
  inner?: (s: number, e: number) => number,
): number {
  let count = 0;
  let pos = start;
  while (pos < end) {
    const [tag, p] = varint(buf, pos);
    const wire = tag & 7;
    if (wire === 2) {
      const [len, q] = varint(buf, p);
      if (tag >>> 3 === field) count += inner ? inner(q, q + len) : 1;
      pos = q + len;
    } else if (wire === 0) pos = varint(buf, p)[1];
    else if (wire === 1) pos = p + 8;
    else if (wire === 5) pos = p + 4;
    else throw new Error(`wire type ${wire}`);
  }
  return count;
}

export function countSpans(buf: Buffer): number {
  return walk(buf, 0, buf.length, 1, (s, e) => walk(buf, s, e, 2, (s2, e2) => walk(buf, s2, e2, 2)));
}

let spans = 0;
let requests = 0;
const server = createServer((req, res) => {
  if (req.method === "GET") {
    res.end(JSON.stringify({ spans, requests }));
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    requests++;
    spans += countSpans(Buffer.concat(chunks));
    res.writeHead(200, { "content-type": "application/x-protobuf", "content-length": 0 });
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => process.exit(0));

// With --grpc, also OTLP/gRPC TraceService/Export on another port, printed as `grpc PORT`: plain
// node:http2 (gRPC over HTTP/2: a 5-byte prefix per message, grpc-status in the trailers), with
// 16 MiB flow-control windows so that the sink's window, not the sender, is never the limit.
if (process.argv.includes("--grpc")) {
  const { createServer: createH2 } = await import("node:http2");
  const WINDOW = 16 * 1024 * 1024;
  const h2 = createH2({ settings: { initialWindowSize: WINDOW } });
  h2.on("session", (session) => session.on("connect", () => session.setLocalWindowSize(WINDOW)));
  h2.on("session", (session) => {
    if (!session.connecting) session.setLocalWindowSize(WINDOW);
  });
  h2.on("stream", (stream) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const body = Buffer.concat(chunks);
      requests++;
      // One uncompressed message: flag byte 0, then a big-endian uint32 length.
      spans += countSpans(body.subarray(5, 5 + body.readUInt32BE(1)));
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  });
  h2.listen(0, "127.0.0.1", () => {
    process.stdout.write(`grpc ${(h2.address() as AddressInfo).port}\n`);
  });
}
