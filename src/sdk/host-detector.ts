/**
 * The OTel host detector with `host.id` read synchronously where the machine id is a file (Linux:
 * /etc/machine-id, else /var/lib/dbus/machine-id, the same files the OTel detector reads
 * asynchronously). An async resource attribute makes every `span.resource.attributes` read before
 * it settles log "Accessing resource attributes before async attributes settled"; the carbon
 * processor reads the resource when a job starts, and with OTEL_TRACES_EXPORTER=none nothing
 * ever waits for it to settle. Elsewhere the OTel detector's answer is used as it is.
 */
import { readFileSync } from "node:fs";
import { type DetectedResource, hostDetector, type ResourceDetector } from "@opentelemetry/resources";

const MACHINE_ID_FILES = ["/etc/machine-id", "/var/lib/dbus/machine-id"];

function machineIdSync(): string | undefined {
  if (process.platform !== "linux") return undefined;
  for (const file of MACHINE_ID_FILES) {
    try {
      const id = readFileSync(file, "utf8").trim();
      if (id !== "") return id;
    } catch {
      // next file; none readable → the OTel detector's own answer
    }
  }
  return undefined;
}

export const syncHostDetector: ResourceDetector = {
  detect(config): DetectedResource {
    const detected = hostDetector.detect(config);
    const id = machineIdSync();
    if (id === undefined) return detected;
    return { ...detected, attributes: { ...detected.attributes, "host.id": id } };
  },
};
