/**
 * `HOST:PORT` listen addresses: one pattern for the config schema and the servers, and the one
 * way to put a host back into a URL (IPv6 literals need brackets there).
 */
import { Co2eError, ERROR_CODES } from "../errors.ts";

/** `host:port` or `[ipv6]:port`; group 1 = IPv6 literal, 2 = host name or IPv4, 3 = port. */
export const HOST_PORT_PATTERN = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/;

export interface HostPort {
  /** Without brackets, as `net.Server.listen` wants it. */
  host: string;
  port: number;
}

/** Throws a CO2E_ERR_CONFIG error for anything but `HOST:PORT` with a port ≤ 65535. */
export function parseHostPort(value: string): HostPort {
  const match = HOST_PORT_PATTERN.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new Co2eError(ERROR_CODES.config, `expected HOST:PORT, got "${value}"`);
  return { host: match[1] ?? match[2]!, port };
}

/** The host as it goes into a URL: an IPv6 literal gets brackets (once). */
export function formatHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** `http://host:port` for a bound listener. */
export function httpOrigin(host: string, port: number): string {
  return `http://${formatHost(host)}:${port}`;
}
