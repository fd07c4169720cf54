# otel-co2e image: the gateway (`co2e collector`) and the demo service, run from the TypeScript
# sources by Node 24's type stripping (no build step). Multi-stage: the first stage installs the
# production dependencies only; the final stage has no npm cache, no dev dependencies, no
# compiler, and runs as the unprivileged `node` user of the official image.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no install scripts run; the runtime dependencies need none. `npm install`
# rather than `npm ci`: the lockfile was made where the registry serves no non-Linux builds of the
# (dev-only) @biomejs/cli-* packages, and npm ci rejects a lock without them; npm install still
# takes every version from the committed lockfile.
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
# Files stay owned by root and read-only for the `node` user: the process cannot rewrite its code.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY config ./config
USER node
# 4318 OTLP/HTTP (gateway), 9464 Prometheus /metrics (gateway and demo).
EXPOSE 4318 9464
# Default: the gateway on all interfaces of the container. The demo overrides the command.
CMD ["node", "bin/co2e.js", "collector", "--listen", "0.0.0.0:4318", "--metrics-listen", "0.0.0.0:9464"]
