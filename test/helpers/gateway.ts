/**
 * Gateways (`startGateway`) and downstream OTLP sinks for integration tests: loopback ports 0,
 * zone DE, a short intensity wait, all closed after each test together with anything else the
 * test registers in `cleanups`.
 *
 *   const { cleanups, gateway, sink } = gatewayHarness(); // at the top level of the test file
 *   const down = await sink();
 *   const g = await gateway({ forwardUrl: down.url });
 */
import { type ConfigInput, parseConfig } from "../../src/config.ts";
import { type Gateway, startGateway } from "../../src/gateway/server.ts";
import { type Cleanup, useCleanups } from "./cleanups.ts";
import { type OtlpSink, startOtlpSink } from "./otlp-sink.ts";

export type { Cleanup } from "./cleanups.ts";

export interface GatewayHarness {
  /** Run after each test, last registered first. */
  cleanups: Cleanup[];
  /** Settings in `gw` and `extra` override the test defaults; log lines go to `logs` if given. */
  gateway(
    gw?: NonNullable<ConfigInput["gateway"]>,
    extra?: Partial<ConfigInput>,
    env?: NodeJS.ProcessEnv,
    logs?: string[],
  ): Promise<Gateway>;
  sink(options?: Parameters<typeof startOtlpSink>[0]): Promise<OtlpSink>;
}

/** Registers an afterEach hook in the calling test file: call it at the file's top level. */
export function gatewayHarness(): GatewayHarness {
  const cleanups = useCleanups();
  return {
    cleanups,
    async gateway(gw = {}, extra = {}, env = {}, logs) {
      const config = parseConfig({
        zone: "DE",
        ...extra,
        // admissionWaitMs 0: a full queue answers 503 at once, which most tests check for.
        gateway: {
          listen: "127.0.0.1:0",
          metricsListen: "127.0.0.1:0",
          intensityWaitMs: 50,
          admissionWaitMs: 0,
          ...gw,
        },
      });
      const g = await startGateway(config, { env, log: (m) => logs?.push(m) });
      cleanups.push(() => g.close());
      return g;
    },
    async sink(options = {}) {
      const s = await startOtlpSink(options);
      cleanups.push(() => s.close());
      return s;
    },
  };
}
