#!/usr/bin/env bash
# Real peers for the e2e tests in test/e2e/peers-*.test.ts, built once and cached:
#   - a Python venv with the OpenTelemetry SDK and its OTLP/HTTP and OTLP/gRPC exporters (PyPI);
#   - an OpenTelemetry Collector built from the collector's Go modules at one release, v0.161.0,
#     with the contrib loadbalancing exporter (test/peers/otelcol: our own main.go and go.mod;
#     main.go says why that release and why go.mod replaces one AWS module).
# Idempotent: a re-run with the same inputs reuses the cache (key = hash of the pinned inputs).
# The tests find the peers through CO2E_PEERS_DIR (default /root/.cache/otel-co2e) and skip loudly
# when they are absent outside CI. A failure here is reported here; in CI the peer tests then fail.
set -uo pipefail
cd "$(dirname "$0")/.."
cache="${CO2E_PEERS_DIR:-${HOME:-/root}/.cache/otel-co2e}"
mkdir -p "$cache"

# Python SDK: one version for all three packages (they are released together).
py_pkgs="opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-http==1.45.2 opentelemetry-exporter-otlp-proto-grpc==1.45.2"
py_key=$(printf '%s' "$py_pkgs" | sha256sum | cut -c1-12)
if [ -x "$cache/venv/bin/python" ] && [ "$(cat "$cache/venv/.key" 2>/dev/null)" = "$py_key" ]; then
  echo "peers: python venv cached ($cache/venv)"
else
  echo "peers: creating python venv with $py_pkgs"
  rm -rf "$cache/venv"
  if python3 -m venv "$cache/venv" &&
    "$cache/venv/bin/pip" install --quiet --disable-pip-version-check $py_pkgs; then
    echo "$py_key" >"$cache/venv/.key"
  else
    echo "peers: WARNING python venv failed; the Python SDK e2e tests will skip"
    rm -rf "$cache/venv"
  fi
fi

# Collector: rebuilt only when main.go, go.mod or go.sum change.
src=test/peers/otelcol
go_key=$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" 2>/dev/null | sha256sum | cut -c1-12)
bin="$cache/otelcol-$go_key"
if [ -x "$bin" ]; then
  echo "peers: collector cached ($bin)"
elif ! command -v go >/dev/null 2>&1; then
  echo "peers: WARNING no go toolchain; the Collector e2e tests will skip"
else
  echo "peers: building the collector (nice -n 19; a few minutes cold)"
  start=$(date +%s)
  if (cd "$src" && GOFLAGS=-mod=mod nice -n 19 go build -trimpath -ldflags=-s -o "$bin.tmp" .); then
    mv "$bin.tmp" "$bin"
    echo "peers: collector built in $(($(date +%s) - start)) s"
  else
    echo "peers: WARNING collector build failed; the Collector e2e tests will skip"
    rm -f "$bin.tmp"
  fi
fi
if [ -x "$bin" ]; then
  ln -sfn "$bin" "$cache/otelcol"
  # Binaries of older main.go/go.mod versions.
  find "$cache" -maxdepth 1 -name 'otelcol-*' ! -name "otelcol-$go_key" -delete
fi
exit 0
