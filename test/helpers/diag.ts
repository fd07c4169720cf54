/**
 * Captures what the OpenTelemetry diag logger is given (where the SDK and the carbon processor
 * report), written once for the tests that assert on it.
 *
 *   const diagLog = captureDiag(DiagLogLevel.WARN);
 *   … expect(diagLog.messages.filter((m) => m.includes("maxJobSeconds"))).toHaveLength(1);
 *   diagLog.stop();
 */
import { type DiagLogger, DiagLogLevel, diag } from "@opentelemetry/api";

export interface DiagCapture {
  /** Every message at `level` or more severe, its arguments joined by spaces, in order. */
  readonly messages: string[];
  /** Disables the diag logger again. */
  stop(): void;
}

export function captureDiag(level: DiagLogLevel = DiagLogLevel.WARN, messages: string[] = []): DiagCapture {
  const push = (...args: unknown[]) => {
    messages.push(args.map(String).join(" "));
  };
  const logger: DiagLogger = { error: push, warn: push, info: push, debug: push, verbose: push };
  diag.setLogger(logger, level);
  return { messages, stop: () => diag.disable() };
}
