"""A small "training job" instrumented with the OpenTelemetry Python SDK, for the peer tests.

It is configured the way a user's service is: with the standard OTel environment variables
(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL = grpc | http/protobuf,
OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES). Each run is one job
span marked with `job.name` and the CPU seconds it really used, with a few child spans below it.

    python train_job.py JOB_NAME [RUNS] [PAUSE_SECONDS]

Prints one line per run: "<trace id hex> <span id hex>", so the test can find the spans again.
Exits 1 when the exporter reports a failure.
"""

import os
import sys
import time

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult


def make_exporter():
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    else:
        sys.exit(f"OTEL_EXPORTER_OTLP_PROTOCOL must be grpc or http/protobuf, got {protocol!r}")
    return OTLPSpanExporter()


class CheckedExporter:
    """Wraps the exporter to remember whether any export failed (the SDK only logs it)."""

    def __init__(self, inner):
        self.inner = inner
        self.failures = 0

    def export(self, spans):
        result = self.inner.export(spans)
        if result is not SpanExportResult.SUCCESS:
            self.failures += 1
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self.inner.force_flush(timeout_millis)


def train(steps):
    """A little real CPU work, so job.cpu.seconds is measured rather than made up."""
    total = 0.0
    for i in range(steps):
        total += (i % 7) * 0.5
    return total


def main():
    job_name = sys.argv[1] if len(sys.argv) > 1 else "train-model"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    pause = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    exporter = CheckedExporter(make_exporter())
    provider = TracerProvider(resource=Resource.create({}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("otel-co2e.peers.train_job")
    for run in range(runs):
        cpu_start = time.process_time()
        with tracer.start_as_current_span("train", attributes={"job.name": job_name}) as job:
            with tracer.start_as_current_span("load-data"):
                train(20_000)
            with tracer.start_as_current_span("fit"):
                train(50_000)
            job.set_attribute("job.cpu.seconds", time.process_time() - cpu_start)
            job.set_attribute("job.memory.avg_bytes", 256 * 1024 * 1024)
            job.set_attribute("train.run", run)
            ctx = job.get_span_context()
            print(f"{ctx.trace_id:032x} {ctx.span_id:016x}", flush=True)
        time.sleep(pause)
    provider.shutdown()
    return 1 if exporter.failures else 0


if __name__ == "__main__":
    sys.exit(main())
