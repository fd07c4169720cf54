import { context, createContextKey, propagation, ROOT_CONTEXT, type Span, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withJob } from "../../src/job/job.ts";
import { contextWithSpan } from "../../src/job/span-context.ts";

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});

function setup() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  return { exporter, tracer: provider.getTracer("span-context-test") };
}

describe("the context a job runs in", () => {
  const OTHER = createContextKey("other value");

  it("answers like trace.setSpan: the span, and the parent's other values", () => {
    const { tracer } = setup();
    const outer = tracer.startSpan("outer");
    const span = tracer.startSpan("job");
    const parent = trace.setSpan(ROOT_CONTEXT, outer).setValue(OTHER, 42);
    const baggage = propagation.createBaggage({ tenant: { value: "t-1" } });
    const withBaggage = propagation.setBaggage(parent, baggage);

    const ours = contextWithSpan(withBaggage, span);
    const theirs = trace.setSpan(withBaggage, span);
    expect(trace.getSpan(ours)).toBe(span);
    expect(ours.getValue(OTHER)).toBe(42);
    expect(propagation.getBaggage(ours)?.getEntry("tenant")?.value).toBe("t-1");
    for (const key of [OTHER, createContextKey("absent")])
      expect(ours.getValue(key)).toBe(theirs.getValue(key));
    // The parent is not changed.
    expect(trace.getSpan(withBaggage)).toBe(outer);
  });

  it("setValue and deleteValue return new contexts and leave it unchanged", () => {
    const { tracer } = setup();
    const span = tracer.startSpan("job");
    const parent = ROOT_CONTEXT.setValue(OTHER, "p");
    const ours = contextWithSpan(parent, span);

    const added = ours.setValue(createContextKey("added"), 1);
    expect(trace.getSpan(added)).toBe(span);
    expect(added.getValue(OTHER)).toBe("p");
    expect(added.getValue(createContextKey("added"))).toBe(1);
    expect(ours.getValue(createContextKey("added"))).toBeUndefined();

    const child = tracer.startSpan("child");
    const replaced = trace.setSpan(ours, child);
    expect(trace.getSpan(replaced)).toBe(child);
    expect(trace.getSpan(ours)).toBe(span);

    const deleted = trace.deleteSpan(ours);
    expect(trace.getSpan(deleted)).toBeUndefined();
    expect(deleted.getValue(OTHER)).toBe("p");
    expect(trace.getSpan(ours)).toBe(span);
  });

  it("inside withJob the job span is active: children nest under it, through awaits and nested active spans", async () => {
    const { exporter, tracer } = setup();
    let active: Span | undefined;
    await context.with(ROOT_CONTEXT.setValue(OTHER, "request"), () =>
      withJob(
        "nesting",
        async (job) => {
          active = trace.getActiveSpan();
          expect(context.active().getValue(OTHER)).toBe("request");
          await new Promise((resolve) => setTimeout(resolve, 1));
          tracer.startSpan("child").end();
          await tracer.startActiveSpan("step", async (step) => {
            await Promise.resolve();
            tracer.startSpan("grandchild").end();
            step.end();
          });
          expect(trace.getActiveSpan()).toBe(job);
        },
        { tracer },
      ),
    );
    const spans = new Map(exporter.getFinishedSpans().map((s) => [s.name, s]));
    const job = spans.get("nesting");
    expect(active?.spanContext().spanId).toBe(job?.spanContext().spanId);
    expect(spans.get("child")?.parentSpanContext?.spanId).toBe(job?.spanContext().spanId);
    expect(spans.get("step")?.parentSpanContext?.spanId).toBe(job?.spanContext().spanId);
    expect(spans.get("grandchild")?.parentSpanContext?.spanId).toBe(spans.get("step")?.spanContext().spanId);
    for (const s of spans.values()) expect(s.spanContext().traceId).toBe(job?.spanContext().traceId);
  });

  it("propagators inject the job span from it", () => {
    const { tracer } = setup();
    const span = tracer.startSpan("job");
    const carrier: Record<string, string> = {};
    new W3CTraceContextPropagator().inject(contextWithSpan(ROOT_CONTEXT, span), carrier, {
      set: (c, k, v) => {
        c[k] = v;
      },
    });
    expect(carrier.traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
  });

  it("holds no function of its own (the API's context makes three closures per context; see span-context.ts)", () => {
    const { tracer } = setup();
    const ours = contextWithSpan(ROOT_CONTEXT, tracer.startSpan("job"));
    const own = Object.getOwnPropertyNames(ours).map((k) => (ours as unknown as Record<string, unknown>)[k]);
    expect(own.filter((v) => typeof v === "function")).toEqual([]);
    expect(typeof ours.getValue).toBe("function");
  });
});
