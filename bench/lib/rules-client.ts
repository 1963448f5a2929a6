// The benchmark's gRPC client: the generated RulesService client on an endpoint (Unix
// socket or TLS), with the bearer token on every call and a send limit large enough
// for 100,000-rule batches. The same client dials the daemon and the echo baseline.
import { createClient, Metadata, type Client } from 'nice-grpc';
import { RulesServiceDefinition } from '../../src/generated/couic/v1/rules.js';
import { openChannel, type Endpoint } from './endpoint.js';

export { BENCH_MAX_MESSAGE_BYTES } from './endpoint.js';

export type RulesClient = Client<typeof RulesServiceDefinition>;

export interface OpenClient {
  readonly rules: RulesClient;
  close(): void;
}

export function openRulesClient(endpoint: Endpoint, token: string): OpenClient {
  const channel = openChannel(endpoint);
  const rules = createClient(RulesServiceDefinition, channel, {
    '*': { metadata: Metadata({ authorization: `Bearer ${token}` }) },
  });
  return { rules, close: () => channel.close() };
}
