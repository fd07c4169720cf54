/**
 * Cloud region → grid zone. Mappings follow Cloud Carbon Footprint's published region tables
 * (packages/{aws,gcp,azure}/src/domain/*Footprint*Estimation constants and its methodology page,
 * as of 2024–2025), expressed as Electricity Maps zone keys. Where CCF names a US balancing
 * authority, the Electricity Maps zone for that authority is used (e.g. PJM → US-MIDA-PJM).
 */
export type CloudProvider = "aws" | "gcp" | "azure";

export const CLOUD_REGION_ZONES: Record<CloudProvider, Record<string, string>> = {
  aws: {
    "us-east-1": "US-MIDA-PJM",
    "eu-west-1": "IE",
    "eu-central-1": "DE",
    "eu-north-1": "SE-SE3",
  },
  gcp: {
    "us-central1": "US-MIDW-MISO",
    "europe-west1": "BE",
    "europe-north1": "FI",
  },
  azure: {
    westeurope: "NL",
    northeurope: "IE",
    uksouth: "GB",
  },
};

/** Accepts the `cloud.provider` values of the OTel semantic conventions and common spellings. */
export function normaliseCloudProvider(provider: string): CloudProvider | undefined {
  const p = provider.trim().toLowerCase();
  if (p === "aws" || p === "amazon") return "aws";
  if (p === "gcp" || p === "google" || p === "google_cloud") return "gcp";
  if (p === "azure" || p === "microsoft") return "azure";
  return undefined;
}
