/**
 * A resource's attributes as they are now, without the SDK's diag error "Accessing resource
 * attributes before async attributes settled". A service's own NodeSDK detects some attributes
 * asynchronously (host.id); a job span or a /metrics scrape before they settle would make the SDK
 * log that line on every read of `resource.attributes`. While any are pending, the settled ones are
 * taken from the raw list the way the SDK's getter takes them (promises skipped, the first value of
 * a key kept); once settled, the SDK's own memoized object.
 */
import type { Attributes, AttributeValue } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import { isPromiseLike } from "./promise-like.ts";

export function resourceAttributesNow(resource: Resource): Attributes {
  if (!resource.asyncAttributesPending) return resource.attributes;
  const out: Attributes = {};
  for (const [key, value] of resource.getRawAttributes()) {
    if (key.length === 0 || Object.hasOwn(out, key) || isPromiseLike(value)) continue;
    if (value !== undefined) out[key] = value as AttributeValue;
  }
  return out;
}
