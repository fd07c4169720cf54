/**
 * The span attributes otel-co2e reads and writes, and the metric names it exports.
 *
 * No OpenTelemetry semantic convention for carbon exists yet (late 2026), so these names are
 * ours. This module is their only owner: every other module imports them from here, and the
 * README's attribute and metric tables document exactly this list.
 */

// ---------------------------------------------------------------------------------------------
// Job inputs: set by src/job (in-process) or by any OTel SDK (gateway), read by the processor.
// ---------------------------------------------------------------------------------------------

/** Marks a span as a job span. Only spans with this attribute are enriched. */
export const ATTR_JOB_NAME = "job.name" as const;
/** CPU time (user + system) the job used, seconds. */
export const ATTR_JOB_CPU_SECONDS = "job.cpu.seconds" as const;
/** Measured CPU package energy (RAPL) attributed to the job, joules. Absent when not measured. */
export const ATTR_JOB_CPU_JOULES = "job.cpu.joules" as const;
/**
 * Wall time attributed to the job, seconds: its duration with every interval divided among the
 * jobs active in it. Time-based terms (linear-model idle power, embodied share) use it so
 * overlapping jobs do not each pay for the whole machine. Absent → the span's duration.
 */
export const ATTR_JOB_ATTRIBUTED_SECONDS = "job.attributed_seconds" as const;
/** Time-averaged resident memory attributed to the job, bytes. */
export const ATTR_JOB_MEMORY_AVG_BYTES = "job.memory.avg_bytes" as const;
/** Peak resident memory seen while the job ran, bytes. */
export const ATTR_JOB_MEMORY_PEAK_BYTES = "job.memory.peak_bytes" as const;
/** Bytes written to sockets by the job. */
export const ATTR_JOB_NETWORK_BYTES_SENT = "job.network.bytes_sent" as const;
/** Bytes read from sockets by the job. */
export const ATTR_JOB_NETWORK_BYTES_RECEIVED = "job.network.bytes_received" as const;
/** Measured GPU board energy over the job, joules. Absent when no GPU was measured. */
export const ATTR_JOB_GPU_JOULES = "job.gpu.joules" as const;
/** Functional units the job produced (SCI's R): requests, rows, images… */
export const ATTR_JOB_FUNCTIONAL_UNITS = "job.functional_units" as const;
/** Optional explicit grid zone for this job (Electricity Maps zone key). */
export const ATTR_CARBON_ZONE = "carbon.zone" as const;

// ---------------------------------------------------------------------------------------------
// Outputs written by the carbon processor (in-process) and the gateway.
// ---------------------------------------------------------------------------------------------

/** Total energy, kWh: (cpu + memory + gpu) × PUE + network. */
export const ATTR_CARBON_ENERGY_KWH = "carbon.energy.kwh" as const;
export const ATTR_CARBON_ENERGY_CPU_KWH = "carbon.energy.cpu_kwh" as const;
export const ATTR_CARBON_ENERGY_MEMORY_KWH = "carbon.energy.memory_kwh" as const;
export const ATTR_CARBON_ENERGY_GPU_KWH = "carbon.energy.gpu_kwh" as const;
export const ATTR_CARBON_ENERGY_NETWORK_KWH = "carbon.energy.network_kwh" as const;
/** Data-centre overhead, kWh: (PUE − 1) × (cpu + memory + gpu). Components add up to the total. */
export const ATTR_CARBON_ENERGY_OVERHEAD_KWH = "carbon.energy.overhead_kwh" as const;
export const ATTR_CARBON_PUE = "carbon.pue" as const;
/** Grid carbon intensity used, gCO₂e/kWh. */
export const ATTR_CARBON_INTENSITY = "carbon.intensity.g_per_kwh" as const;
export const ATTR_CARBON_INTENSITY_ZONE = "carbon.intensity.zone" as const;
/** `electricitymaps` | `static` | `configured`. */
export const ATTR_CARBON_INTENSITY_SOURCE = "carbon.intensity.source" as const;
/** `latest` | `time-weighted` | `yearly-average` | `configured`. */
export const ATTR_CARBON_INTENSITY_METHOD = "carbon.intensity.method" as const;
/** Age of the intensity data at the job's end, seconds. */
export const ATTR_CARBON_INTENSITY_AGE_SECONDS = "carbon.intensity.age_seconds" as const;
/** Whether the intensity value was estimated by the provider. */
export const ATTR_CARBON_INTENSITY_ESTIMATED = "carbon.intensity.estimated" as const;
/** Why the static table was used instead of the live provider. */
export const ATTR_CARBON_INTENSITY_FALLBACK_REASON = "carbon.intensity.fallback_reason" as const;
/** How the zone was found: `attribute` | `config` | `cloud-region` | `default`. */
export const ATTR_CARBON_ZONE_RESOLVED_BY = "carbon.intensity.zone_resolved_by" as const;
/** Operational (location-based) emissions, gCO₂e = energy × intensity. */
export const ATTR_CARBON_CO2E_GRAMS = "carbon.co2e.grams" as const;
/** Market-based emissions, gCO₂e, when a contractual factor is configured for the zone. */
export const ATTR_CARBON_CO2E_MARKET_GRAMS = "carbon.co2e.market_grams" as const;
/** Same energy at the lowest intensity of the surrounding 24 h (what scheduling could save). */
export const ATTR_CARBON_CO2E_GRAMS_AT_BEST_HOUR = "carbon.co2e.grams_at_best_hour" as const;
/** Embodied emissions share (SCI M), gCO₂e. */
export const ATTR_CARBON_EMBODIED_GRAMS = "carbon.embodied.grams" as const;
/** SCI = (E × I + M) ÷ R, gCO₂e per functional unit. */
export const ATTR_CARBON_SCI_GRAMS_PER_UNIT = "carbon.sci.grams_per_unit" as const;
/** Carbon cost in the configured currency: tonnes × price per tonne. */
export const ATTR_CARBON_COST = "carbon.cost" as const;
/** CPU model used: `tdp` | `linear` | `rapl`. */
export const ATTR_CARBON_MODEL = "carbon.model" as const;
/**
 * How the job's CPU was split from the process's: `exclusive` (no other job ran meanwhile),
 * `event-loop` (overlapping jobs: by the time the thread ran each job's callbacks) or `equal`
 * (overlapping jobs: equal shares). Memory and wall time are split equally in every case.
 */
export const ATTR_CARBON_ATTRIBUTION = "carbon.attribution" as const;
/**
 * true when the enriching process already counted this job in its own metrics (the in-process
 * SDK preset). The gateway then forwards the span's figures and does not count them again.
 */
export const ATTR_CARBON_METRICS_RECORDED = "carbon.metrics.recorded" as const;
/**
 * Low and high bounds of `carbon.co2e.grams` (operational gCO₂e): every coefficient at the low
 * (high) end of its documented range, combined by interval arithmetic (docs/model.md, "Ranges").
 */
export const ATTR_CARBON_CO2E_LOW_GRAMS = "carbon.co2e.low_grams" as const;
export const ATTR_CARBON_CO2E_HIGH_GRAMS = "carbon.co2e.high_grams" as const;
/** Low and high bounds of `carbon.energy.kwh`. */
export const ATTR_CARBON_ENERGY_LOW_KWH = "carbon.energy.low_kwh" as const;
export const ATTR_CARBON_ENERGY_HIGH_KWH = "carbon.energy.high_kwh" as const;
/** Low and high bounds of `carbon.embodied.grams`, when it is present. */
export const ATTR_CARBON_EMBODIED_LOW_GRAMS = "carbon.embodied.low_grams" as const;
export const ATTR_CARBON_EMBODIED_HIGH_GRAMS = "carbon.embodied.high_grams" as const;
/**
 * Version of the model, its coefficients and ranges (MODEL_VERSION). Not `carbon.model.version`:
 * `carbon.model` is already an attribute, and no attribute is also a namespace of another.
 */
export const ATTR_CARBON_MODEL_VERSION = "carbon.model_version" as const;
/** How each component's energy was obtained: `measured` | `calculated` | `estimated`. */
export const ATTR_CARBON_PROVENANCE_CPU = "carbon.provenance.cpu" as const;
export const ATTR_CARBON_PROVENANCE_MEMORY = "carbon.provenance.memory" as const;
export const ATTR_CARBON_PROVENANCE_GPU = "carbon.provenance.gpu" as const;
export const ATTR_CARBON_PROVENANCE_NETWORK = "carbon.provenance.network" as const;
/** What the intensity is: `measured` | `estimated` | `forecast` | `yearly-average` | `configured`. */
export const ATTR_CARBON_INTENSITY_NATURE = "carbon.intensity.nature" as const;
/** Electricity Maps' `estimationMethod` for an estimated live value (e.g. `TIME_SLICER_AVERAGE`). */
export const ATTR_CARBON_INTENSITY_ESTIMATION_METHOD = "carbon.intensity.estimation_method" as const;
/** `lifecycle` | `direct`: the emission factors behind the intensity actually used. */
export const ATTR_CARBON_INTENSITY_EMISSION_FACTOR_TYPE = "carbon.intensity.emission_factor_type" as const;
/** Components inside the figure (string array): those whose input was given. */
export const ATTR_CARBON_BOUNDARY_COMPONENTS = "carbon.boundary.components" as const;
/** Emission scopes inside the figures (string array): `operational`, `embodied`. */
export const ATTR_CARBON_BOUNDARY_SCOPES = "carbon.boundary.scopes" as const;
/** Set when enrichment failed; the span is still exported. */
export const ATTR_CARBON_ERROR = "carbon.error" as const;

export const INTENSITY_SOURCE = {
  electricityMaps: "electricitymaps",
  static: "static",
  configured: "configured",
} as const;
export type IntensitySource = (typeof INTENSITY_SOURCE)[keyof typeof INTENSITY_SOURCE];

export const ATTRIBUTION = {
  exclusive: "exclusive",
  eventLoop: "event-loop",
  equal: "equal",
  /** Written by versions before event-loop accounting (an equal split); accepted, never written. */
  shared: "shared",
} as const;
export type Attribution = (typeof ATTRIBUTION)[keyof typeof ATTRIBUTION];

// ---------------------------------------------------------------------------------------------
// Metrics. `*_INSTRUMENT` is the OTel instrument name; the Prometheus exporter turns it into the
// scraped name (`PROM_*`): dots become `_`, monotonic sums get `_total`, no unit suffix is added,
// so the unit is part of the instrument name.
// ---------------------------------------------------------------------------------------------

export const METRIC_JOB_RUNS_INSTRUMENT = "co2e_job_runs" as const;
export const PROM_JOB_RUNS = "co2e_job_runs_total" as const;
export const METRIC_JOB_DURATION_INSTRUMENT = "co2e_job_duration_seconds" as const;
export const PROM_JOB_DURATION = "co2e_job_duration_seconds" as const;
export const METRIC_JOB_ENERGY_INSTRUMENT = "co2e_job_energy_joules" as const;
export const PROM_JOB_ENERGY = "co2e_job_energy_joules_total" as const;
export const METRIC_JOB_CARBON_INSTRUMENT = "co2e_job_carbon_grams" as const;
export const PROM_JOB_CARBON = "co2e_job_carbon_grams_total" as const;
export const METRIC_JOB_CARBON_PER_RUN_INSTRUMENT = "co2e_job_carbon_per_run_grams" as const;
export const PROM_JOB_CARBON_PER_RUN = "co2e_job_carbon_per_run_grams" as const;
/** Functional units produced (SCI's R), so boards can divide grams by units. */
export const METRIC_JOB_FUNCTIONAL_UNITS_INSTRUMENT = "co2e_job_functional_units" as const;
export const PROM_JOB_FUNCTIONAL_UNITS = "co2e_job_functional_units_total" as const;
/** Same energy at the best hour of the surrounding 24 h (a counterfactual). */
export const METRIC_JOB_CARBON_BEST_HOUR_INSTRUMENT = "co2e_job_carbon_best_hour_grams" as const;
export const PROM_JOB_CARBON_BEST_HOUR = "co2e_job_carbon_best_hour_grams_total" as const;
/**
 * Low and high bounds of the operational grams (carbon.co2e.low_grams / high_grams), per job_name
 * and service_name only: separate counters, not a label on co2e_job_carbon_grams_total, so every
 * existing sum over that counter stays a sum of central figures and the band adds two series per
 * job, not a multiple of the zone × source × scope series.
 */
export const METRIC_JOB_CARBON_LOW_INSTRUMENT = "co2e_job_carbon_low_grams" as const;
export const PROM_JOB_CARBON_LOW = "co2e_job_carbon_low_grams_total" as const;
export const METRIC_JOB_CARBON_HIGH_INSTRUMENT = "co2e_job_carbon_high_grams" as const;
export const PROM_JOB_CARBON_HIGH = "co2e_job_carbon_high_grams_total" as const;
export const METRIC_GRID_INTENSITY_INSTRUMENT = "co2e_grid_intensity_grams_per_kwh" as const;
export const PROM_GRID_INTENSITY = "co2e_grid_intensity_grams_per_kwh" as const;
export const METRIC_INTENSITY_REQUESTS_INSTRUMENT = "co2e_intensity_requests" as const;
export const PROM_INTENSITY_REQUESTS = "co2e_intensity_requests_total" as const;
/**
 * CPU time of the process charged to no job (work outside every job, and all CPU while no job ran),
 * seconds: with the jobs' `job.cpu.seconds` it adds up to the measured CPU clock.
 */
export const METRIC_UNATTRIBUTED_CPU_INSTRUMENT = "co2e_unattributed_cpu_seconds" as const;
export const PROM_UNATTRIBUTED_CPU = "co2e_unattributed_cpu_seconds_total" as const;
/** CPU energy of that unattributed time under the configured CPU model, joules (before PUE). */
export const METRIC_UNATTRIBUTED_ENERGY_INSTRUMENT = "co2e_unattributed_energy_joules" as const;
export const PROM_UNATTRIBUTED_ENERGY = "co2e_unattributed_energy_joules_total" as const;

/** Gateway requests by HTTP status code (label `code`). */
export const METRIC_GATEWAY_REQUESTS_INSTRUMENT = "co2e_gateway_requests" as const;
export const PROM_GATEWAY_REQUESTS = "co2e_gateway_requests_total" as const;
/** Gateway OTLP/gRPC `TraceService/Export` calls answered, by gRPC status name (label `grpc_code`). */
export const METRIC_GATEWAY_GRPC_REQUESTS_INSTRUMENT = "co2e_gateway_grpc_requests" as const;
export const PROM_GATEWAY_GRPC_REQUESTS = "co2e_gateway_grpc_requests_total" as const;
/** Gateway spans by `outcome`: received | enriched | forwarded | dropped | rejected. */
export const METRIC_GATEWAY_SPANS_INSTRUMENT = "co2e_gateway_spans" as const;
export const PROM_GATEWAY_SPANS = "co2e_gateway_spans_total" as const;
/** Spans waiting in the gateway's forward queue. */
export const METRIC_GATEWAY_QUEUE_INSTRUMENT = "co2e_gateway_forward_queue_spans" as const;
export const PROM_GATEWAY_QUEUE = "co2e_gateway_forward_queue_spans" as const;

/** Metric label names. `job` is Prometheus' scrape job, so ours is `job_name`. */
export const LABEL_JOB_NAME = "job_name" as const;
/** `service.name` of the span's resource: the gateway sees many services. */
export const LABEL_SERVICE_NAME = "service_name" as const;
/** `ok` | `error`, from the span status. */
export const LABEL_STATUS = "status" as const;
/** `exclusive` | `event-loop` | `equal` (`shared` from older producers) on co2e_job_runs_total. */
export const LABEL_ATTRIBUTION = "attribution" as const;
/** `cpu` | `memory` | `gpu` | `network` | `overhead` on co2e_job_energy_joules_total. */
export const LABEL_COMPONENT = "component" as const;
/** `scope` on co2e_job_carbon_grams_total: `operational` | `embodied` | `market`. */
export const LABEL_SCOPE = "scope" as const;
export const LABEL_ZONE = "zone" as const;
export const LABEL_SOURCE = "source" as const;
export const LABEL_PROVIDER = "provider" as const;
export const LABEL_OUTCOME = "outcome" as const;
/** HTTP status code on co2e_gateway_requests_total. */
export const LABEL_CODE = "code" as const;
/** gRPC status name (`OK`, `UNAVAILABLE`, …) on co2e_gateway_grpc_requests_total. */
export const LABEL_GRPC_CODE = "grpc_code" as const;
/** Where a job_name beyond the cardinality cap is counted. */
export const JOB_NAME_OVERFLOW = "other" as const;
/**
 * Longest metric label value, in UTF-16 code units. Longer values (a job name, service name or zone
 * that came from a client) are truncated to this length, the last character replaced by
 * LABEL_VALUE_TRUNCATED; the span keeps the full value. Distinct values that share their first 127
 * characters are counted as one series.
 */
export const LABEL_VALUE_MAX_LENGTH = 128;
/** Marks a truncated label value (its last character). */
export const LABEL_VALUE_TRUNCATED = "…" as const;
/** Label value for an empty string, which Prometheus would read as a missing label. */
export const LABEL_VALUE_EMPTY = "(empty)" as const;
