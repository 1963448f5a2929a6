// Where a benchmark client dials a server: the Unix socket (the local API) or the
// TLS TCP listener on loopback (the remote API and the peer mesh's transport). Both
// the daemon and the echo baseline are measured on the same kind of endpoint. The
// channel itself is the test kit's (test/helpers/clients.ts), as tests dial it.
import { Channel } from 'nice-grpc';
import { tlsEndpoint, unixEndpoint, type Endpoint as KitEndpoint } from '../../test/helpers/clients.js';

/** Matches the daemon's own limit (src/api/grpc-server.ts); the echo serves the same. */
export const BENCH_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export type Transport = 'unix' | 'tls';

export type Endpoint =
  | { readonly transport: 'unix'; readonly socketPath: string }
  | { readonly transport: 'tls'; readonly port: number; readonly caPem: Buffer; readonly serverName: string };

export function describeTransport(transport: Transport): string {
  return transport === 'unix' ? 'Unix socket' : 'TLS over loopback TCP';
}

export function kitEndpoint(endpoint: Endpoint): KitEndpoint {
  if (endpoint.transport === 'unix') return unixEndpoint(endpoint.socketPath);
  return tlsEndpoint({ host: '127.0.0.1', port: endpoint.port }, { caPem: endpoint.caPem, serverName: endpoint.serverName });
}

/** A channel to `endpoint` (for the services the rules client does not cover, e.g. health, Watch). */
export function openChannel(endpoint: Endpoint): Channel {
  const kit = kitEndpoint(endpoint);
  return new Channel(kit.target, kit.credentials, kit.channelOptions);
}
