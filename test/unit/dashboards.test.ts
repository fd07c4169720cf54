/**
 * Static checks of every Grafana dashboard in grafana/dashboards: panel ids unique, every panel
 * and query on the `${datasource}` variable (defaulting to the provisioned datasource's uid, so
 * the boards also import into a Grafana that has another one), a unit on every panel, the
 * template variables present, every query non-empty and free of unknown variables.
 */
import { describe, expect, it } from "vitest";
import {
  allPanelIds,
  type DashboardPanel,
  leftoverVariables,
  loadDashboards,
  provisionedDatasourceUids,
  queryPanels,
  substituteVariables,
} from "../helpers/prometheus.ts";

const dashboards = loadDashboards();
const datasourceUids = provisionedDatasourceUids();
const REQUIRED_VARIABLES = ["job_name", "service_name", "zone"];
/** What every query's datasource uid is: the datasource template variable. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
const DATASOURCE_VARIABLE = "${datasource}";
/**
 * Grafana unit ids the boards may use (from Grafana's unit picker: Mass / gram, Energy /
 * kilowatt-hour, Energy / watt, Currency / dollars, Throughput, Misc, Time), plus custom
 * `suffix:` units. A typo in a unit id silently shows raw numbers, so the ids are listed.
 */
const KNOWN_UNITS = new Set([
  "massg",
  "kwatth",
  "watt",
  "currencyUSD",
  "percentunit",
  "reqps",
  "ops",
  "short",
  "s",
  "none",
]);
/** How a panel says that the Zone variable cannot filter it (its series have no zone label). */
const ZONE_NOT_APPLIED = "The Zone variable does not apply here:";
/** Grafana's built-in variables a query may use. */
const BUILT_INS = { __rate_interval: "1m", __interval: "1m", __range: "1h" };

describe("grafana provisioning", () => {
  it("declares exactly one Prometheus datasource uid", () => {
    expect(datasourceUids).toEqual(["co2e-prometheus"]);
  });

  it("has the two boards", () => {
    expect(dashboards.map((d) => d.dashboard.uid).sort()).toEqual([
      "co2e-job-emissions",
      "co2e-pipeline-health",
    ]);
  });
});

describe.each(dashboards)("dashboard $file", ({ dashboard }) => {
  const panels = queryPanels(dashboard);
  const variables = dashboard.templating?.list ?? [];
  const variableValues: Record<string, string> = { ...BUILT_INS };
  for (const v of variables) variableValues[v.name] = v.type === "textbox" ? String(v.query) : ".*";

  it("picks its Prometheus through a datasource variable defaulting to the provisioned one", () => {
    const datasource = variables.find((v) => v.name === "datasource") as
      | { type: string; query?: unknown; current?: { value?: unknown } }
      | undefined;
    expect(datasource?.type).toBe("datasource");
    expect(datasource?.query).toBe("prometheus");
    expect(datasourceUids).toContain(datasource?.current?.value);
    // No uid is hard-coded anywhere but in that default (the annotation's built-in Grafana one aside).
    const json = JSON.stringify(dashboard);
    for (const uid of datasourceUids) expect(json.split(`"${uid}"`).length - 1, uid).toBe(1);
  });

  it("has panels, each id unique", () => {
    expect(panels.length).toBeGreaterThan(5);
    const ids = allPanelIds(dashboard);
    expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("has a unique uid and a title", () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.title.length).toBeGreaterThan(0);
  });

  it("defines the job_name, service_name and zone variables from label_values queries", () => {
    for (const name of REQUIRED_VARIABLES) {
      const variable = variables.find((v) => v.name === name);
      expect(variable, name).toBeDefined();
      expect(variable?.type).toBe("query");
      expect(JSON.stringify(variable?.query)).toContain(`label_values(`);
      expect(variable?.datasource?.uid).toBe(DATASOURCE_VARIABLE);
    }
  });

  it.each(panels.map((p) => [p.id, p.title ?? "", p] as const))(
    "panel %i %s: datasource variable, unit, queries",
    (_id, _title, panel) => {
      expect(panel.datasource?.type).toBe("prometheus");
      expect(panel.datasource?.uid).toBe(DATASOURCE_VARIABLE);

      const unit = panel.fieldConfig?.defaults?.unit;
      expect(typeof unit === "string" && unit.length > 0, `unit of panel "${panel.title}"`).toBe(true);
      expect(KNOWN_UNITS.has(unit!) || /^suffix:\S+/.test(unit!), `unit id ${unit}`).toBe(true);

      const targets = panel.targets ?? [];
      expect(targets.length).toBeGreaterThan(0);
      for (const target of targets) {
        expect(
          typeof target.expr === "string" && target.expr.trim().length > 0,
          `expr of ${target.refId}`,
        ).toBe(true);
        expect(target.datasource?.uid).toBe(DATASOURCE_VARIABLE);
        const concrete = substituteVariables(target.expr!, variableValues);
        expect(leftoverVariables(concrete), `unknown variables in ${target.expr}`).toEqual([]);
      }
      // Time series panels ask for ranges; the others show one value per series.
      if (panel.type === "timeseries") expect(targets.every((t) => t.range === true)).toBe(true);
      else expect(targets.every((t) => t.instant === true)).toBe(true);
    },
  );

  // Job, Service and Zone look alike on the board, but several job series (energy, per-run,
  // duration, functional units, best hour) have no zone label: a panel filtered by job and not by
  // zone must say that picking a zone does not change it.
  it.each(panels.map((p) => [p.id, p.title ?? "", p] as const))(
    "panel %i %s: says so when the Zone variable cannot filter it",
    (_id, _title, panel) => {
      const exprs = (panel.targets ?? []).map((t) => t.expr ?? "");
      const usesJobVariables = exprs.some((e) => /\$\{?(job_name|service_name)\b/.test(e));
      const usesZone = exprs.some((e) => /\$\{?zone\b/.test(e));
      // The shared panel type has no `description`; it is a plain string in Grafana's JSON.
      const description = (panel as DashboardPanel & { description?: string }).description ?? "";
      if (usesJobVariables && !usesZone) expect(description).toContain(ZONE_NOT_APPLIED);
      else expect(description).not.toContain(ZONE_NOT_APPLIED);
    },
  );
});

describe("Job emissions board", () => {
  const emissions = dashboards.find((d) => d.dashboard.uid === "co2e-job-emissions")!.dashboard;
  const exprs = queryPanels(emissions).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ""));
  const units = queryPanels(emissions).map((p) => p.fieldConfig?.defaults?.unit);

  it("has a carbon_price textbox defaulting to 50 and uses it for cost", () => {
    const price = emissions.templating?.list?.find((v) => v.name === "carbon_price");
    expect(price?.type).toBe("textbox");
    expect(price?.query).toBe("50");
    expect(exprs.some((e) => e.includes("/ 1e6 * $carbon_price"))).toBe(true);
  });

  it("uses grams, kWh and gCO₂e/kWh units", () => {
    expect(units).toContain("massg");
    expect(units).toContain("kwatth");
    expect(units).toContain("suffix:gCO₂e/kWh");
  });

  it("splits a change in gCO₂e per run into energy per run and grid intensity", () => {
    expect(exprs.some((e) => e.includes("job_name:energy_kwh_per_run:ratio_rate1h_vs_7d"))).toBe(true);
    expect(exprs.some((e) => e.includes("job_name:grid_intensity_grams_per_kwh:ratio_rate1h_vs_7d"))).toBe(
      true,
    );
  });

  it("converts joules to kWh with 3.6e6 wherever it shows kWh", () => {
    for (const panel of queryPanels(emissions).filter((p) => p.fieldConfig?.defaults?.unit === "kwatth")) {
      for (const t of panel.targets ?? []) expect(t.expr, panel.title).toContain("3.6e6");
    }
  });
});

describe("substituteVariables", () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a JS template
  it("replaces $x, ${x}, ${x:fmt} and [[x]] and leaves longer names intact", () => {
    const out = substituteVariables(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a JS template
      'rate(a{j=~"$job_name"}[$__rate_interval]) * ${carbon_price} + [[zone]] + ${zone:regex} $__range',
      {
        job_name: ".*",
        __rate_interval: "1m",
        __range: "1h",
        carbon_price: "50",
        zone: "DE",
      },
    );
    expect(out).toBe('rate(a{j=~".*"}[1m]) * 50 + DE + DE 1h');
    expect(leftoverVariables("x $__interval")).toEqual(["__interval"]);
  });
});
