import { describe, expect, it } from "vitest";
import { zoneForCloudRegion } from "../../src/intensity/zone.ts";
import { cloudFromEnv } from "../../src/sdk/cloud-detector.ts";

describe("cloudFromEnv (platform variables only, no metadata endpoint)", () => {
  it("AWS Lambda/ECS/Fargate: AWS_EXECUTION_ENV with AWS_REGION", () => {
    expect(cloudFromEnv({ AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x", AWS_REGION: "eu-west-1" })).toEqual({
      provider: "aws",
      region: "eu-west-1",
    });
  });

  it("a developer's AWS_REGION alone is not a deployment", () => {
    expect(cloudFromEnv({ AWS_REGION: "eu-west-1" })).toBeUndefined();
  });

  it("Azure App Service / Functions: REGION_NAME's display name becomes the API spelling", () => {
    const cloud = cloudFromEnv({ WEBSITE_SITE_NAME: "my-func", REGION_NAME: "West Europe" });
    expect(cloud).toEqual({ provider: "azure", region: "westeurope" });
    // …which the region table knows.
    expect(zoneForCloudRegion(cloud!.provider, cloud!.region)).toBe("NL");
    expect(cloudFromEnv({ WEBSITE_SITE_NAME: "app", REGION_NAME: "swedencentral" })?.region).toBe(
      "swedencentral",
    );
  });

  it("Azure needs both variables: REGION_NAME alone (or blank) is not enough", () => {
    expect(cloudFromEnv({ REGION_NAME: "West Europe" })).toBeUndefined();
    expect(cloudFromEnv({ WEBSITE_SITE_NAME: "app", REGION_NAME: "  " })).toBeUndefined();
  });

  it("Google Cloud Functions (older runtimes): FUNCTION_REGION with FUNCTION_NAME", () => {
    const cloud = cloudFromEnv({ FUNCTION_NAME: "nightly", FUNCTION_REGION: "us-central1" });
    expect(cloud).toEqual({ provider: "gcp", region: "us-central1" });
    expect(zoneForCloudRegion(cloud!.provider, cloud!.region)).toBe("US-MIDW-MISO");
    expect(cloudFromEnv({ FUNCTION_REGION: "us-central1" })).toBeUndefined();
  });

  it("Cloud Run's documented variables carry no region: nothing is guessed", () => {
    expect(
      cloudFromEnv({ K_SERVICE: "api", K_REVISION: "api-00001", K_CONFIGURATION: "api" }),
    ).toBeUndefined();
    expect(cloudFromEnv({})).toBeUndefined();
  });
});
