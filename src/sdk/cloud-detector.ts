import type { DetectedResource, ResourceDetector } from "@opentelemetry/resources";

/**
 * cloud.provider/cloud.region from variables the platform itself sets, so the zone follows the
 * deployment without configuration. Environment only: it never asks a metadata endpoint (no
 * network at start-up, nothing to time out). Only where the platform sets them unambiguously,
 * each pair documented by its vendor:
 * - AWS Lambda, ECS and Fargate: AWS_EXECUTION_ENV beside AWS_REGION (a developer's AWS_REGION
 *   alone does not count: it names where their API calls go, not where the code runs).
 * - Azure App Service and Azure Functions: REGION_NAME beside WEBSITE_SITE_NAME, both read-only
 *   variables of the platform (Microsoft Learn, "Environment variables and app settings in Azure
 *   App Service", App environment). REGION_NAME holds the display name ("West Europe"); we emit
 *   the API spelling ("westeurope") that `cloud.region` uses for Azure.
 * - Google Cloud Functions: FUNCTION_REGION beside FUNCTION_NAME, which Google documents only for
 *   the older runtimes (cloud.google.com/functions/docs/configuring/env-var, "Environment variables
 *   set automatically", older runtimes). Cloud Run and the current functions runtimes set no
 *   region variable (container runtime contract: PORT, K_SERVICE, K_REVISION, K_CONFIGURATION); the
 *   region is only on the metadata server, so there set
 *   OTEL_RESOURCE_ATTRIBUTES=cloud.provider=gcp,cloud.region=<region> or pass
 *   @opentelemetry/resource-detector-gcp.
 * OTEL_RESOURCE_ATTRIBUTES (the OTel env detector, run after this one) wins over all of these, and
 * official detectors (@opentelemetry/resource-detector-aws, -gcp, -azure) can be passed as
 * `resourceDetectors`.
 */
export function cloudFromEnv(env: NodeJS.ProcessEnv): { provider: string; region: string } | undefined {
  if (env.AWS_EXECUTION_ENV && env.AWS_REGION) return { provider: "aws", region: env.AWS_REGION };
  if (env.WEBSITE_SITE_NAME && env.REGION_NAME?.trim()) {
    return { provider: "azure", region: env.REGION_NAME.trim().toLowerCase().replace(/\s+/g, "") };
  }
  if (env.FUNCTION_NAME && env.FUNCTION_REGION) return { provider: "gcp", region: env.FUNCTION_REGION };
  return undefined;
}

export const cloudEnvDetector: ResourceDetector = {
  detect(): DetectedResource {
    const cloud = cloudFromEnv(process.env);
    if (!cloud) return {};
    return { attributes: { "cloud.provider": cloud.provider, "cloud.region": cloud.region } };
  },
};
