/**
 * The optional bearer token (`gateway.bearerTokenEnv`). The scheme name is case-insensitive
 * (RFC 7235 §2.1: `auth-scheme` is a case-insensitive token, followed by one or more spaces); the
 * token itself is compared in constant time.
 */
import { timingSafeEqual } from "node:crypto";
import { Co2eError, ERROR_CODES } from "../errors.ts";

/** Checks an `Authorization` header value; always true when no token is configured. */
export type Authorizer = (header: string | undefined) => boolean;

export function bearerAuthorizer(tokenEnv: string | undefined, env: NodeJS.ProcessEnv): Authorizer {
  if (!tokenEnv) return () => true;
  const value = env[tokenEnv]?.trim();
  if (!value) {
    throw new Co2eError(
      ERROR_CODES.config,
      `gateway.bearerTokenEnv names ${tokenEnv}, which is not set; set it or remove the key`,
    );
  }
  const token = Buffer.from(value);
  return (header) => {
    const match = /^bearer +(.*)$/is.exec(header ?? "");
    if (!match) return false;
    const given = Buffer.from(match[1]!.trimEnd());
    return given.length === token.length && timingSafeEqual(given, token);
  };
}
