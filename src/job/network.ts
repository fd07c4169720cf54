/**
 * Network bytes per job: sockets used inside a job's async context are credited to it.
 *
 * A socket is "claimed" by a job when, inside the job's AsyncLocalStorage context,
 * - `net.connect` creates it (`net.client.socket`: plain net, http, https, undici/fetch connects),
 * - an `http`/`https` request is assigned it, new or pooled (`http.client.request.start`, then the
 *   request's `socket` event),
 * - undici (the `undici` package and Node's built-in `fetch`) writes a request created in the job
 *   onto it, new or pooled (`undici:request:create` → `undici:client:sendHeaders`).
 * From the claim on, the growth of `socket.bytesWritten` / `socket.bytesRead` is credited to that
 * job, until the job ends, the socket closes, or another job claims the socket (keep-alive reuse).
 * What is NOT counted: sockets accepted by a server (inbound requests), sockets used outside any
 * job, UDP, HTTP/2 sessions reused across jobs (counted for the job that opened them), and bytes
 * moved by child processes or other threads. Counts are the TCP payload bytes Node wrote and read:
 * for TLS that is the encrypted stream; TCP/IP headers are not included.
 */
import { subscribe } from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { jobContext } from "./context.ts";

/** The network side of one running job. */
export interface JobNetwork {
  readonly closed: boolean;
  /** Stops counting; sockets still open are credited up to now. */
  close(): { bytesSent: number; bytesReceived: number };
}

interface Claim {
  owner: NetworkAccount;
  baseWritten: number;
  baseRead: number;
}

function bytesWritten(socket: Socket): number {
  const n = socket.bytesWritten;
  return typeof n === "number" && Number.isFinite(n) ? n : 0;
}

function bytesRead(socket: Socket): number {
  const n = socket.bytesRead;
  return typeof n === "number" && Number.isFinite(n) ? n : 0;
}

class NetworkAccount implements JobNetwork {
  closed = false;
  bytesSent = 0;
  bytesReceived = 0;
  /** Created on the first claim: most jobs open no socket. */
  sockets: Set<Socket> | undefined;
  readonly #tracker: NetworkTracker;

  constructor(tracker: NetworkTracker) {
    this.#tracker = tracker;
  }

  close(): { bytesSent: number; bytesReceived: number } {
    if (!this.closed) {
      this.closed = true;
      if (this.sockets) for (const socket of this.sockets) this.#tracker.release(socket);
      this.sockets = undefined;
    }
    return { bytesSent: this.bytesSent, bytesReceived: this.bytesReceived };
  }
}

function isSocket(value: unknown): value is Socket {
  return typeof value === "object" && value !== null && typeof (value as Socket).once === "function";
}

export class NetworkTracker {
  readonly #claims = new WeakMap<Socket, Claim>();
  /** Sockets we listen on for `close` (once each). */
  readonly #watched = new WeakSet<Socket>();
  /** undici requests created inside a job, until they are written to a socket. */
  readonly #undiciRequests = new WeakMap<object, NetworkAccount>();
  #subscribed = false;

  /** A new account for a starting job; subscribes to the channels on first use. */
  open(): JobNetwork {
    this.subscribe();
    return new NetworkAccount(this);
  }

  /** Subscribes to the channels once (before the first job runs, so its sockets are seen). */
  subscribe(): void {
    if (!this.#subscribed) this.#subscribe();
  }

  /** Credits the socket's bytes since the claim to its owner and forgets the claim. */
  release(socket: Socket): void {
    const claim = this.#claims.get(socket);
    if (!claim) return;
    this.#claims.delete(socket);
    claim.owner.bytesSent += Math.max(0, bytesWritten(socket) - claim.baseWritten);
    claim.owner.bytesReceived += Math.max(0, bytesRead(socket) - claim.baseRead);
    claim.owner.sockets?.delete(socket);
  }

  claim(socket: Socket, owner: NetworkAccount): void {
    if (owner.closed) return;
    const existing = this.#claims.get(socket);
    if (existing?.owner === owner) return;
    if (existing) this.release(socket);
    this.#claims.set(socket, { owner, baseWritten: bytesWritten(socket), baseRead: bytesRead(socket) });
    owner.sockets ??= new Set();
    owner.sockets.add(socket);
    if (!this.#watched.has(socket)) {
      this.#watched.add(socket);
      socket.once("close", () => this.release(socket));
    }
  }

  #current(): NetworkAccount | undefined {
    const network = jobContext.getStore()?.network;
    return network instanceof NetworkAccount && !network.closed ? network : undefined;
  }

  #subscribe(): void {
    this.#subscribed = true;
    // Subscribers run synchronously in the publisher's async context, so getStore() sees the job.
    subscribe("net.client.socket", (message) => {
      const owner = this.#current();
      const socket = (message as { socket?: unknown }).socket;
      if (owner && isSocket(socket)) this.claim(socket, owner);
    });
    subscribe("http.client.request.start", (message) => {
      const owner = this.#current();
      const request = (message as { request?: { socket?: unknown; once?: unknown } }).request;
      if (!owner || !request) return;
      if (isSocket(request.socket)) this.claim(request.socket, owner);
      else if (typeof request.once === "function") {
        (request as { once(event: "socket", cb: (s: Socket) => void): void }).once("socket", (s) => {
          if (isSocket(s)) this.claim(s, owner);
        });
      }
    });
    subscribe("undici:request:create", (message) => {
      const owner = this.#current();
      const request = (message as { request?: object }).request;
      if (owner && request) this.#undiciRequests.set(request, owner);
    });
    subscribe("undici:client:sendHeaders", (message) => {
      const { request, socket } = message as { request?: object; socket?: unknown };
      const owner = (request && this.#undiciRequests.get(request)) ?? this.#current();
      if (owner && isSocket(socket)) this.claim(socket, owner);
    });
  }
}
