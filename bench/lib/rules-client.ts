// The benchmark's gRPC client: the RulesService client of the test kit's connection
// (the CLI's own factory, bearer token on every call) on an endpoint (Unix socket or
// TLS). The same client dials the daemon and the echo baseline.
import { openClients, type CouicClients } from '../../test/helpers/clients.js';
import { kitEndpoint, type Endpoint } from './endpoint.js';

export { BENCH_MAX_MESSAGE_BYTES } from './endpoint.js';

export type RulesClient = CouicClients['rules'];

export interface OpenClient {
  readonly rules: RulesClient;
  close(): void;
}

export function openRulesClient(endpoint: Endpoint, token: string): OpenClient {
  const clients = openClients(kitEndpoint(endpoint), token);
  return { rules: clients.rules, close: () => clients.close() };
}
