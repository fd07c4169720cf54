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

// ---------------------------------------------------------------------------------------------
// Ranges: how far each coefficient may be off, as factors of the central value (low ≤ 1 ≤ high).
// docs/model.md ("Ranges") has the same table with the reasoning. A factor marked "judgement" is
// this project's reading of the spread between credible sources, not a published interval.
// ---------------------------------------------------------------------------------------------

/** Version of the model and its ranges; changes when a coefficient, factor or formula changes. */
export const MODEL_VERSION = "1.0" as const;

/** A low and a high factor around a central value. */
export interface RangeFactors {
  readonly low: number;
  readonly high: number;
}

/**
 * CPU energy measured by RAPL: ±10 %. RAPL package energy tracks wall-socket measurements closely
 * on Haswell and later (Khan et al., "RAPL in Action", ACM TOMPECS 3(2), 2018); what remains is the
 * attribution of the package's energy to the job by CPU-time share (judgement).
 */
export const CPU_RAPL_RANGE: RangeFactors = { low: 0.9, high: 1.1 };

/**
 * CPU energy from a TDP or linear utilisation model: ±40 %, the spread software power estimators
 * show against wall meters (Jay et al., "An experimental comparison of software-based power
 * meters: focus on CPU and GPU", CCGrid 2023).
 */
export const CPU_MODELLED_RANGE: RangeFactors = { low: 0.6, high: 1.4 };

/**
 * Memory power per GiB. Central 0.375 W/GB (seed 003). CodeCarbon 3.x charges 5 W per DIMM
 * instead; with the 8–32 GB modules of current servers that is 5/32 = 0.156 to 5/8 = 0.625 W/GB,
 * i.e. factors 0.156/0.375 and 0.625/0.375 of the central figure.
 */
export const MEMORY_WATTS_PER_GB_LOW = 5 / 32;
export const MEMORY_WATTS_PER_GB_HIGH = 5 / 8;
export const MEMORY_RANGE: RangeFactors = {
  low: MEMORY_WATTS_PER_GB_LOW / MEMORY_WATTS_PER_GB,
  high: MEMORY_WATTS_PER_GB_HIGH / MEMORY_WATTS_PER_GB,
};

/**
 * GPU energy measured by the board's sensor (nvidia-smi): ±10 % (judgement; on-board sensors
 * sample part of the time and lag short kernels, Yang, Adámek & Armour, SC24).
 */
export const GPU_MEASURED_RANGE: RangeFactors = { low: 0.9, high: 1.1 };
/**
 * GPU energy from rated power (board W or TDP × utilisation): −50 % / +20 % (judgement: a board
 * at a given "utilisation" usually draws well under its TDP share; idle draw can add a little).
 */
export const GPU_RATED_RANGE: RangeFactors = { low: 0.5, high: 1.2 };

/**
 * Network energy per GB. Central 0.001875 kWh/GB (seed 002, the lowest published figure we cite,
 * hence also the low bound); high 0.0411 kWh/GB, the Green Metrics Tool's current default.
 */
export const NETWORK_KWH_PER_GB_HIGH = 0.0411;
export const NETWORK_RANGE: RangeFactors = { low: 1, high: NETWORK_KWH_PER_GB_HIGH / NETWORK_KWH_PER_GB };

/**
 * High bound of the PUE when none is configured (PUE 1 = "no overhead assumed"): 1.58, the
 * average PUE of the Uptime Institute Global Data Center Survey 2023. A configured PUE above 1 is
 * taken as stated (low = high = the figure).
 */
export const PUE_UNCONFIGURED_HIGH = 1.58;

/**
 * Grid intensity by its nature. Live, measured hours: ±10 %, the spread of the lifecycle factors
 * behind them (IPCC AR5 WGIII Annex III, Table A.III.2: coal 740–910 around a median of 820
 * gCO₂eq/kWh).
 */
export const INTENSITY_MEASURED_RANGE: RangeFactors = { low: 0.9, high: 1.1 };
/** Live hours Electricity Maps marks `isEstimated`: ±20 % (judgement: twice the measured spread). */
export const INTENSITY_ESTIMATED_RANGE: RangeFactors = { low: 0.8, high: 1.2 };
/** A forecast hour: ±25 % (judgement). Finished jobs never use one (forecast rows are kept apart). */
export const INTENSITY_FORECAST_RANGE: RangeFactors = { low: 0.75, high: 1.25 };
/**
 * A yearly average chosen on purpose (no live provider): −40 % / +40 % (judgement: in mixed grids
 * the hourly intensity commonly ranges from about half to one and a half times the yearly mean,
 * and a job runs in some hour of it).
 */
export const INTENSITY_YEARLY_RANGE: RangeFactors = { low: 0.6, high: 1.4 };
/**
 * A yearly average used because the live provider could not answer (cache-cold, stale, outage):
 * ±50 % (judgement: the yearly spread, plus the table year may not be the current one).
 */
export const INTENSITY_FALLBACK_RANGE: RangeFactors = { low: 0.5, high: 1.5 };
/** An intensity the user configured is taken as stated. */
export const INTENSITY_CONFIGURED_RANGE: RangeFactors = { low: 1, high: 1 };

/**
 * Embodied emissions of hardware: ±50 % (judgement: manufacturers' product carbon footprints are
 * screening LCAs whose own stated uncertainty is of this order).
 */
export const EMBODIED_RANGE: RangeFactors = { low: 0.5, high: 1.5 };
