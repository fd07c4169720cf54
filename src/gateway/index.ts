/** The OTLP/HTTP gateway (`co2e collector`): see docs/gateway.md. */

export { otlpRoot, otlpType } from "./schema.ts";
export {
  type Gateway,
  type GatewayOptions,
  type GatewayStats,
  ListenError,
  parseHostPort,
  startGateway,
  TRACES_PATH,
} from "./server.ts";
