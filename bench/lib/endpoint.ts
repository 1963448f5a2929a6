// Where a benchmark client dials a server: the Unix socket (the local API) or the
// TLS TCP listener on loopback (the remote API and the peer mesh's transport). Both
// the daemon and the echo baseline are measured on the same kind of endpoint.
import { ChannelCredentials } from '@grpc/grpc-js';
import { createChannel, type Channel } from 'nice-grpc';

/** Matches the daemon's own limit (src/api/grpc-server.ts). */
export const BENCH_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export type Transport = 'unix' | 'tls';

export type Endpoint =
  | { readonly transport: 'unix'; readonly socketPath: string }
  | { readonly transport: 'tls'; readonly port: number; readonly caPem: Buffer; readonly serverName: string };

export function describeTransport(transport: Transport): string {
  return transport === 'unix' ? 'Unix socket' : 'TLS over loopback TCP';
}

export function openChannel(endpoint: Endpoint): Channel {
  const options = {
    'grpc.max_send_message_length': BENCH_MAX_MESSAGE_BYTES,
    'grpc.max_receive_message_length': BENCH_MAX_MESSAGE_BYTES,
  };
  if (endpoint.transport === 'unix') {
    // `unix:///abs/path`: nice-grpc appends ":80" to the `unix:/path` form.
    return createChannel(`unix://${endpoint.socketPath}`, ChannelCredentials.createInsecure(), options);
  }
  return createChannel(`127.0.0.1:${endpoint.port}`, ChannelCredentials.createSsl(endpoint.caPem), {
    ...options,
    // Dialled by IP; the certificate names the host (avoids Node's DEP0123 warning too).
    'grpc.ssl_target_name_override': endpoint.serverName,
  });
}
