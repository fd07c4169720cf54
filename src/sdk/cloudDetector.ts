import type { DetectedResource, ResourceDetector } from "@opentelemetry/resources";

/**
 * cloud.provider/cloud.region from variables the platform itself sets, so the zone follows the
 * deployment without configuration. Only where the platform sets them unambiguously: AWS Lambda,
 * ECS and Fargate set AWS_EXECUTION_ENV beside AWS_REGION (a developer's AWS_REGION alone does not
 * count: it names where their API calls go, not where the code runs). Official detectors
 * (@opentelemetry/resource-detector-aws, -gcp, -azure) can be passed as `resourceDetectors` and
 * OTEL_RESOURCE_ATTRIBUTES wins over this.
 */
export const cloudEnvDetector: ResourceDetector = {
  detect(): DetectedResource {
    const env = process.env;
    if (env.AWS_EXECUTION_ENV && env.AWS_REGION) {
      return { attributes: { "cloud.provider": "aws", "cloud.region": env.AWS_REGION } };
    }
    return {};
  },
};
