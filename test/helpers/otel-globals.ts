import { context, metrics, propagation, trace } from "@opentelemetry/api";

/** Drops the API globals a NodeSDK registered, so the next SDK a test starts is registered cleanly. */
export function disableOtelGlobals(): void {
  trace.disable();
  metrics.disable();
  context.disable();
  propagation.disable();
}
