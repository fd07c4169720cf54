/** A loopback HTTP server the network-bound demo job downloads from: GET /bytes?n=N → N bytes. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

const MAX_BYTES = 16 * 1024 * 1024;

export async function startDataServer(): Promise<{ url: string; close(): Promise<void> }> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const n = Math.min(MAX_BYTES, Math.max(0, Number(url.searchParams.get("n") ?? 0) || 0));
    if (url.pathname !== "/bytes") {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": n });
    let left = n;
    const write = (): void => {
      while (left > 0) {
        const piece = chunk.subarray(0, Math.min(left, chunk.length));
        left -= piece.length;
        if (!res.write(piece)) {
          res.once("drain", write);
          return;
        }
      }
      res.end();
    };
    write();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
