/** The shared helpers in src/util: HOST:PORT, Retry-After, bounded waits, capped body reads. */
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Co2eError, ERROR_CODES, errorText } from "../../src/errors.ts";
import { formatHost, HOST_PORT_PATTERN, httpOrigin, parseHostPort } from "../../src/util/host-port.ts";
import { finiteNumber } from "../../src/util/number.ts";
import { BodyTooLargeError, readBodyLimited } from "../../src/util/read-body.ts";
import { parseRetryAfterMs } from "../../src/util/retry-after.ts";
import { settleWithin } from "../../src/util/timeout.ts";

describe("hostPort", () => {
  it("parses host names, IPv4 and bracketed IPv6 with a port", () => {
    expect(parseHostPort("127.0.0.1:4318")).toEqual({ host: "127.0.0.1", port: 4318 });
    expect(parseHostPort("collector.internal:0")).toEqual({ host: "collector.internal", port: 0 });
    expect(parseHostPort("[::1]:9464")).toEqual({ host: "::1", port: 9464 });
  });

  it("refuses what is not HOST:PORT, and ports above 65535", () => {
    for (const bad of ["4318", "host:", ":4318", "::1:4318", "host:65536", "host:123456", "a b:1", "[::1]"]) {
      expect(() => parseHostPort(bad), bad).toThrow(/expected HOST:PORT/);
    }
    expect(HOST_PORT_PATTERN.test("host:65536")).toBe(true); // the range is checked by parseHostPort
    expect(HOST_PORT_PATTERN.test("::1:80")).toBe(false);
  });

  it("brackets IPv6 literals (once) when building URLs", () => {
    expect(formatHost("::1")).toBe("[::1]");
    expect(formatHost("[::1]")).toBe("[::1]");
    expect(formatHost("0.0.0.0")).toBe("0.0.0.0");
    expect(httpOrigin("::1", 80)).toBe("http://[::1]:80");
    expect(httpOrigin("localhost", 9464)).toBe("http://localhost:9464");
  });
});

describe("parseRetryAfterMs", () => {
  const now = Date.parse("2026-11-23T12:00:00Z");

  it("reads delay-seconds, fractional ones too", () => {
    expect(parseRetryAfterMs("2", now)).toBe(2000);
    expect(parseRetryAfterMs(" 0 ", now)).toBe(0);
    expect(parseRetryAfterMs("1.5", now)).toBe(1500);
    expect(parseRetryAfterMs(["3", "9"], now)).toBe(3000);
  });

  it("reads an HTTP-date relative to now; a past date is 0", () => {
    expect(parseRetryAfterMs("Mon, 23 Nov 2026 12:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfterMs(new Date(now - 60_000).toUTCString(), now)).toBe(0);
  });

  it("caps the wait at maxMs", () => {
    expect(parseRetryAfterMs("86400", now, 5000)).toBe(5000);
    expect(parseRetryAfterMs("Tue, 24 Nov 2026 12:00:00 GMT", now, 5000)).toBe(5000);
    expect(parseRetryAfterMs("1", now, 5000)).toBe(1000);
  });

  it("is undefined when absent or unreadable (never a number Date.parse guessed)", () => {
    for (const bad of [undefined, "", "  ", "soon", "-1", "1e3", "+5", "1.", ".5"]) {
      expect(parseRetryAfterMs(bad, now), String(bad)).toBeUndefined();
    }
    expect(parseRetryAfterMs([], now)).toBeUndefined();
  });
});

describe("settleWithin", () => {
  it("gives the value when the promise settles in time", async () => {
    expect(await settleWithin(Promise.resolve(7), 1000)).toBe(7);
  });

  it("gives undefined on rejection, on timeout, and at once for ms ≤ 0", async () => {
    expect(await settleWithin(Promise.reject(new Error("x")), 1000)).toBeUndefined();
    const started = performance.now();
    expect(await settleWithin(new Promise(() => {}), 30)).toBeUndefined();
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(25);
    expect(waited).toBeLessThan(1000);
    expect(await settleWithin(new Promise((r) => setTimeout(() => r(1), 5)), 0)).toBeUndefined();
    // A rejection after a zero-wait is not an unhandled rejection.
    expect(await settleWithin(Promise.reject(new Error("late")), 0)).toBeUndefined();
  });
});

describe("readBodyLimited", () => {
  const chunks = (...sizes: number[]) => Readable.from(sizes.map((n) => Buffer.alloc(n, 1)));

  it("returns the whole body under the cap", async () => {
    const body = await readBodyLimited(chunks(10, 20, 30), 60);
    expect(body.length).toBe(60);
    expect(await readBodyLimited(Readable.from(["ab", "c"]), 10)).toEqual(Buffer.from("abc"));
  });

  it("throws BodyTooLargeError once past the cap, without reading the rest", async () => {
    let pulled = 0;
    async function* endless() {
      for (;;) {
        pulled++;
        yield new Uint8Array(100);
      }
    }
    const error = await readBodyLimited(endless(), 250).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyTooLargeError);
    expect((error as BodyTooLargeError).receivedBytes).toBe(300);
    expect(pulled).toBe(3);
  });

  it("drains up to drainUpToBytes before refusing, then stops", async () => {
    const stream = chunks(100, 100, 100, 100);
    await expect(readBodyLimited(stream, 150, { drainUpToBytes: 1000 })).rejects.toMatchObject({
      receivedBytes: 400,
    });
    let pulled = 0;
    async function* endless() {
      for (;;) {
        pulled++;
        yield new Uint8Array(100);
      }
    }
    await expect(readBodyLimited(endless(), 150, { drainUpToBytes: 500 })).rejects.toBeInstanceOf(
      BodyTooLargeError,
    );
    expect(pulled).toBe(6);
  });

  it("passes stream errors through", async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error("peer closed"));
      },
    });
    await expect(readBodyLimited(failing, 10)).rejects.toThrow("peer closed");
  });
});

describe("finiteNumber and errorText", () => {
  it("finiteNumber: finite numbers and numeric strings, nothing else", () => {
    expect(finiteNumber(3.5)).toBe(3.5);
    expect(finiteNumber(" 42 ")).toBe(42);
    for (const bad of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      "",
      "  ",
      "1e999",
      "abc",
      true,
      [1],
      undefined,
      null,
    ]) {
      expect(finiteNumber(bad)).toBeUndefined();
    }
  });

  it("errorText: CODE: message, the message, or String()", () => {
    expect(errorText(new Co2eError(ERROR_CODES.unknownZone, "unknown zone"))).toBe(
      "CO2E_ERR_UNKNOWN_ZONE: unknown zone",
    );
    expect(errorText(new Error("plain"))).toBe("plain");
    expect(errorText("thrown string")).toBe("thrown string");
    expect(errorText(undefined)).toBe("undefined");
  });
});
