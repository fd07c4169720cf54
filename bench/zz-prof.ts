import { TracerProvider } from "@opentelemetry/sdk-trace";
import { parseConfig } from "../src/config.ts";
import { StaticIntensityProvider } from "../src/intensity/static.ts";
import { CarbonSpanProcessor } from "../src/processor/carbon-span-processor.ts";
import * as sc from "../src/semconv.ts";
import { scrapedCarbonMetrics } from "./scraped-metrics.ts";
const t = new TracerProvider({ spanProcessors: [new CarbonSpanProcessor({ config: parseConfig({ zone: "DE" }), provider: new StaticIntensityProvider(), metrics: scrapedCarbonMetrics(), logicalCores: 4 }), { onStart() {}, onEnd() {}, forceFlush: async () => {}, shutdown: async () => {} }] }).getTracer("b");
const jobAttrs = { [sc.ATTR_JOB_NAME]: "bench-job", [sc.ATTR_JOB_FUNCTIONAL_UNITS]: 1 };
for (let r = 0; r < 20; r++) { for (let i = 0; i < 50000; i++) t.startSpan("op", { attributes: jobAttrs }).end(); }
process.exit(0);
