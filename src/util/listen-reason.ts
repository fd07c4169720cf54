/** Why a listener could not be opened, in words a user can act on (else the error's message). */
const LISTEN_REASONS: Record<string, string> = {
  EADDRINUSE: "address already in use",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "address not available on this host",
  ENOTFOUND: "host name not found",
};

export function listenReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null | undefined)?.code;
  if (code && LISTEN_REASONS[code]) return LISTEN_REASONS[code];
  return error instanceof Error ? error.message : String(error);
}
