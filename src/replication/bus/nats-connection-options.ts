// [bus] options -> NATS client connection options (servers, TLS files, one auth
// method). Reconnection is left to the bus link, which rebuilds its session.
import { readFile } from 'node:fs/promises';
import { credsAuthenticator, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { BusOptions } from './bus-options.js';

export async function natsConnectionOptions(bus: BusOptions, name: string): Promise<NodeConnectionOptions> {
  const options: NodeConnectionOptions = {
    servers: bus.servers,
    name,
    reconnect: false,
    timeout: 5_000,
    pingInterval: 10_000,
    maxPingOut: 3,
  };
  if (bus.tls !== undefined) {
    options.tls = {
      ...(bus.tls.caPath !== undefined ? { caFile: bus.tls.caPath } : {}),
      ...(bus.tls.certPath !== undefined ? { certFile: bus.tls.certPath } : {}),
      ...(bus.tls.keyPath !== undefined ? { keyFile: bus.tls.keyPath } : {}),
    };
  }
  const auth = bus.auth;
  if (auth?.kind === 'user') {
    options.user = auth.user;
    options.pass = auth.password;
  } else if (auth?.kind === 'token') {
    options.token = auth.token;
  } else if (auth?.kind === 'creds') {
    options.authenticator = credsAuthenticator(await readFile(auth.credsPath));
  }
  return options;
}
