/**
 * Cloud region → grid zone (Electricity Maps zone keys).
 *
 * Which regions exist and where each one is comes from Cloud Carbon Footprint's published region
 * tables (cloud-carbon-footprint/cloud-carbon-footprint, microsite/docs/Methodology.md,
 * "Appendix II: Grid emissions factors", AWS / GCP / Azure tables with region, location and NERC
 * region, as of 2024–2025). CCF gives a country, city or NERC region per cloud region; we give the
 * Electricity Maps zone that covers that location, because that is the key both our static table
 * and the live API use:
 * - a country with one zone → the country key (`DE`, `IE`, `SG`);
 * - a country split into bidding/grid zones → the zone holding the city (Stockholm → `SE-SE3`,
 *   Tokyo → `JP-TK`, Mumbai → `IN-WE`, Sydney → `AU-NSW`, São Paulo → `BR-CS`);
 * - a US region → the balancing authority serving the site (Northern Virginia → PJM
 *   `US-MIDA-PJM`, Iowa → MISO, Oregon → BPA, Texas → ERCOT, Quincy WA → Grant County PUD).
 * The choice of balancing authority for a US site is our reading of the location, not a figure
 * CCF publishes (CCF uses eGRID NERC regions instead); each such line says which place it is.
 * Every zone here must exist in the static table: test/unit/static-intensity.test.ts checks it.
 *
 * Azure keys are the API spelling (`westeurope`, `eastus2`), which is also what the OTel
 * `cloud.region` attribute carries for Azure.
 */

export { CLOUD_PROVIDERS, type CloudProvider } from "../defaults.ts";

import type { CloudProvider } from "../defaults.ts";

export const CLOUD_REGION_ZONES: Record<CloudProvider, Record<string, string>> = {
  aws: {
    "us-east-1": "US-MIDA-PJM", // N. Virginia (CCF: SERC) — Dominion zone of PJM
    "us-east-2": "US-MIDA-PJM", // Ohio (CCF: RFC) — PJM
    "us-west-1": "US-CAL-CISO", // N. California (CCF: WECC)
    "us-west-2": "US-NW-BPAT", // Oregon (CCF: WECC) — Bonneville Power Administration area
    "us-gov-east-1": "US-MIDA-PJM", // Ohio
    "us-gov-west-1": "US-NW-BPAT", // Oregon
    "af-south-1": "ZA", // Cape Town, South Africa
    "ap-east-1": "HK", // Hong Kong
    "ap-south-1": "IN-WE", // Mumbai, India (Western grid)
    "ap-northeast-1": "JP-TK", // Tokyo
    "ap-northeast-2": "KR", // Seoul
    "ap-northeast-3": "JP-KN", // Osaka (Kansai)
    "ap-southeast-1": "SG", // Singapore
    "ap-southeast-2": "AU-NSW", // Sydney
    "ca-central-1": "CA-QC", // Montréal
    "cn-north-1": "CN", // Beijing
    "cn-northwest-1": "CN", // Ningxia
    "eu-central-1": "DE", // Frankfurt
    "eu-west-1": "IE", // Ireland
    "eu-west-2": "GB", // London
    "eu-south-1": "IT-NO", // Milan (North Italy bidding zone)
    "eu-west-3": "FR", // Paris
    "eu-north-1": "SE-SE3", // Stockholm
    "me-south-1": "BH", // Bahrain
    "sa-east-1": "BR-CS", // São Paulo (South-East/Centre-West subsystem)
  },
  gcp: {
    "us-central1": "US-MIDW-MISO", // Council Bluffs, Iowa
    "us-east1": "US-CAR-SCEG", // Berkeley County, South Carolina
    "us-east4": "US-MIDA-PJM", // Northern Virginia
    "us-west1": "US-NW-BPAT", // The Dalles, Oregon
    "us-west2": "US-CAL-CISO", // Los Angeles
    "us-west3": "US-NW-PACE", // Salt Lake City (PacifiCorp East)
    "us-west4": "US-NW-NEVP", // Las Vegas (Nevada Power)
    "asia-east1": "TW", // Taiwan
    "asia-east2": "HK", // Hong Kong
    "asia-northeast1": "JP-TK", // Tokyo
    "asia-northeast2": "JP-KN", // Osaka
    "asia-northeast3": "KR", // Seoul
    "asia-south1": "IN-WE", // Mumbai
    "asia-south2": "IN-NO", // Delhi (Northern grid)
    "asia-southeast1": "SG", // Singapore
    "asia-southeast2": "ID", // Jakarta
    "australia-southeast1": "AU-NSW", // Sydney
    "australia-southeast2": "AU-VIC", // Melbourne
    "europe-central2": "PL", // Warsaw
    "europe-north1": "FI", // Hamina, Finland
    "europe-west1": "BE", // St. Ghislain, Belgium
    "europe-west2": "GB", // London
    "europe-west3": "DE", // Frankfurt
    "europe-west4": "NL", // Eemshaven, Netherlands
    "europe-west6": "CH", // Zürich
    "northamerica-northeast1": "CA-QC", // Montréal
    "southamerica-east1": "BR-CS", // São Paulo
  },
  azure: {
    centralus: "US-MIDW-MISO", // Iowa (CCF: MRO)
    eastus: "US-MIDA-PJM", // Virginia (CCF: SERC)
    eastus2: "US-MIDA-PJM", // Virginia
    northcentralus: "US-MIDA-PJM", // Illinois (CCF: RFC) — Chicago area is in PJM (ComEd)
    southcentralus: "US-TEX-ERCO", // Texas (CCF: TRE)
    westcentralus: "US-NW-WACM", // Wyoming (CCF: WECC) — WAPA Rocky Mountain area
    westus: "US-CAL-CISO", // California
    westus2: "US-NW-GCPD", // Quincy, Washington (Grant County PUD)
    westus3: "US-SW-SRP", // Phoenix area, Arizona (Salt River Project)
    eastasia: "HK", // Hong Kong
    southeastasia: "SG", // Singapore
    southafricanorth: "ZA", // Johannesburg
    southafricawest: "ZA", // Cape Town
    australiacentral: "AU-NSW", // Canberra (ACT is in the NSW region of the NEM)
    australiacentral2: "AU-NSW", // Canberra
    australiaeast: "AU-NSW", // New South Wales
    australiasoutheast: "AU-VIC", // Victoria
    japaneast: "JP-TK", // Tokyo, Saitama
    japanwest: "JP-KN", // Osaka
    koreacentral: "KR", // Seoul
    koreasouth: "KR", // Busan
    centralindia: "IN-WE", // Pune
    westindia: "IN-WE", // Mumbai
    southindia: "IN-SO", // Chennai
    northeurope: "IE", // Ireland
    westeurope: "NL", // Netherlands
    francecentral: "FR", // Paris
    francesouth: "FR", // Marseille
    swedencentral: "SE-SE3", // Gävle and Sandviken
    switzerlandnorth: "CH", // Zürich
    switzerlandwest: "CH", // Geneva
    uksouth: "GB", // London
    ukwest: "GB", // Cardiff
    germanynorth: "DE", // Berlin
    germanywestcentral: "DE", // Frankfurt
    norwayeast: "NO-NO1", // Oslo
    norwaywest: "NO-NO2", // Stavanger
    uaenorth: "AE", // Dubai
    uaecentral: "AE", // Abu Dhabi
    canadacentral: "CA-ON", // Toronto
    canadaeast: "CA-QC", // Québec City
    brazilsouth: "BR-CS", // São Paulo State
    brazilsoutheast: "BR-CS", // Rio de Janeiro
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
