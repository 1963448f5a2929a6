// The benchmark's gRPC client: the generated RulesService client over a Unix socket,
// with the bearer token on every call and a send limit large enough for 100,000-rule
// batches. The same client dials the daemon and the echo baseline.
import { ChannelCredentials } from '@grpc/grpc-js';
import { createChannel, createClient, Metadata, type Client } from 'nice-grpc';
import { RulesServiceDefinition } from '../../src/generated/couic/v1/rules.js';

/** Matches the daemon's own limit (src/api/grpc-server.ts). */
export const BENCH_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export type RulesClient = Client<typeof RulesServiceDefinition>;

export interface OpenClient {
  readonly rules: RulesClient;
  close(): void;
}

export function openRulesClient(socketPath: string, token: string): OpenClient {
  // `unix:///abs/path`: nice-grpc appends ":80" to the `unix:/path` form.
  const channel = createChannel(`unix://${socketPath}`, ChannelCredentials.createInsecure(), {
    'grpc.max_send_message_length': BENCH_MAX_MESSAGE_BYTES,
    'grpc.max_receive_message_length': BENCH_MAX_MESSAGE_BYTES,
  });
  const rules = createClient(RulesServiceDefinition, channel, {
    '*': { metadata: Metadata({ authorization: `Bearer ${token}` }) },
  });
  return { rules, close: () => channel.close() };
}
