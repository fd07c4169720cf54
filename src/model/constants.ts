/**
 * Coefficients of the model, each with its value, unit and source. A changed methodology gets a
 * new constant beside the old one, not an edit in place.
 */

/**
 * Memory power, W per GiB of resident memory: "3 W per 8 GB" rule of thumb used in seed 003
 * (Artefact, "Measuring the CO2eq impact of your Python Notebook", 2021), also CodeCarbon's and
 * Green Algorithms' figure. GB there are memory gigabytes (GiB).
 */
export const MEMORY_WATTS_PER_GB = 0.375;

/**
 * Network energy intensity, kWh per GB transferred (decimal GB), seed 002 (Green Metrics Tool
 * CO₂ formulas, after the Sustainable Web Design model's 0.06 kWh/GB × 3.125 % network share… as
 * configured there: `sci.N: 0.001875`).
 */
export const NETWORK_KWH_PER_GB = 0.001875;

/** Power usage effectiveness when none is configured: no data-centre overhead is assumed. */
export const DEFAULT_PUE = 1.0;

/**
 * Microsoft's 2015 datacenter fact sheet average PUE for new data centres, the figure seed 003
 * uses. Not a default: an example of a configured value.
 */
export const PUE_MICROSOFT_2015 = 1.125;

/**
 * CPU thermal design power used when the processor's own TDP is not configured, W for the whole
 * package. CodeCarbon's documented fallback when it cannot identify the CPU (85 W).
 */
export const DEFAULT_CPU_TDP_WATTS = 85;

/**
 * Linear CPU model defaults, W per vCPU at 0 % and 100 % utilisation: Cloud Carbon Footprint's
 * AWS averages (methodology page, "Energy estimate (Watt-hours)", from SPECpower results).
 */
export const CCF_AWS_MIN_WATTS_PER_VCPU = 0.74;
export const CCF_AWS_MAX_WATTS_PER_VCPU = 3.5;

/** Bytes in a decimal gigabyte (network transfer volumes). */
export const BYTES_PER_GB = 1e9;
/** Bytes in a binary gigabyte (memory sizes). */
export const BYTES_PER_GIB = 1024 ** 3;
/** Joules in one kWh. */
export const JOULES_PER_KWH = 3.6e6;
export const SECONDS_PER_HOUR = 3600;
/** Hours in a year of 365.25 days, for embodied-carbon lifespans. */
export const HOURS_PER_YEAR = 365.25 * 24;
export const GRAMS_PER_TONNE = 1e6;
