// Typed gRPC clients for integration tests: the four couic services plus health, over
// the daemon's Unix socket or its TLS listener, each call carrying the bearer token.
import { ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { ExecutionContext } from 'ava';
import type { Scope } from './tmp.js';
import { Channel, ClientError, createClientFactory, Status } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';
import { createCouicClients, type CouicClients as CliClients } from '../../src/cli/connection.js';
import { ClientsServiceDefinition } from '../../src/generated/couic/v1/clients.js';
import { ReplicationServiceDefinition } from '../../src/generated/couic/v1/replication.js';
import { RulesServiceDefinition } from '../../src/generated/couic/v1/rules.js';
import { SetsServiceDefinition } from '../../src/generated/couic/v1/sets.js';
import { StatsServiceDefinition } from '../../src/generated/couic/v1/stats.js';

/** Large enough to send oversized test requests and receive any answer. */
const CLIENT_MAX_MESSAGE_BYTES = 512 * 1024 * 1024;

const CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.max_receive_message_length': CLIENT_MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': CLIENT_MAX_MESSAGE_BYTES,
};

export interface TlsClientMaterial {
  readonly caPem: Buffer;
  /** Client certificate for mTLS (both or neither). */
  readonly certPem?: Buffer;
  readonly keyPem?: Buffer;
  /** Name the server certificate must carry (defaults to "localhost"). */
  readonly serverName?: string;
}

/** Where and how to dial a daemon. */
export interface Endpoint {
  readonly target: string;
  readonly credentials: ChannelCredentials;
  readonly channelOptions: ChannelOptions;
}

export function unixEndpoint(socketPath: string): Endpoint {
  return { target: `unix:${socketPath}`, credentials: ChannelCredentials.createInsecure(), channelOptions: CHANNEL_OPTIONS };
}

export function tlsEndpoint(address: { host: string; port: number }, tls: TlsClientMaterial): Endpoint {
  const serverName = tls.serverName ?? 'localhost';
  return {
    target: `${address.host}:${address.port}`,
    credentials: ChannelCredentials.createSsl(tls.caPem, tls.keyPem ?? null, tls.certPem ?? null),
    channelOptions: {
      ...CHANNEL_OPTIONS,
      // Dial by IP, verify the certificate's DNS name (avoids Node's DEP0123 warning).
      'grpc.ssl_target_name_override': serverName,
      'grpc.default_authority': serverName,
    },
  };
}

export interface CouicClients extends CliClients {
  readonly health: ReturnType<typeof createHealthClient>;
}

function createHealthClient(channel: Channel) {
  return createClientFactory().create(HealthDefinition, channel);
}

/**
 * The four couic services (+ health) on one channel. With a token, built by the CLI's
 * own factory (src/cli/connection.ts); `token` undefined sends no authorization at all.
 */
export function openClients(endpoint: Endpoint, token: string | undefined): CouicClients {
  if (token !== undefined) {
    const clients = createCouicClients({ ...endpoint, token });
    return { ...clients, health: createHealthClient(clients.channel) };
  }
  const channel = new Channel(endpoint.target, endpoint.credentials, endpoint.channelOptions);
  const factory = createClientFactory();
  return {
    channel,
    rules: factory.create(RulesServiceDefinition, channel),
    clients: factory.create(ClientsServiceDefinition, channel),
    sets: factory.create(SetsServiceDefinition, channel),
    stats: factory.create(StatsServiceDefinition, channel),
    replication: factory.create(ReplicationServiceDefinition, channel),
    health: createHealthClient(channel),
    close: () => channel.close(),
  };
}

/** Clients over the Unix socket, closed in t.teardown. */
export function connectUnix(t: Scope, socketPath: string, token: string | undefined): CouicClients {
  const clients = openClients(unixEndpoint(socketPath), token);
  t.teardown(() => clients.close());
  return clients;
}

/** Clients over TLS (mTLS when `tls` carries a certificate), closed in t.teardown. */
export function connectTls(
  t: Scope,
  address: { host: string; port: number },
  tls: TlsClientMaterial,
  token: string | undefined,
): CouicClients {
  const clients = openClients(tlsEndpoint(address, tls), token);
  t.teardown(() => clients.close());
  return clients;
}

/** Awaits a call that must fail with `code`; returns the ClientError for more checks. */
export async function expectGrpcError(
  t: ExecutionContext,
  promise: Promise<unknown>,
  code: Status,
  details?: RegExp,
): Promise<ClientError | undefined> {
  try {
    const value = await promise;
    t.fail(`expected ${Status[code]}, but the call succeeded with ${safeJson(value)}`);
    return undefined;
  } catch (error: unknown) {
    if (!(error instanceof ClientError)) {
      t.fail(`expected a ClientError ${Status[code]}, got ${String(error)}`);
      return undefined;
    }
    t.is(Status[error.code], Status[code], `details: ${error.details}`);
    if (details !== undefined) t.regex(error.details, details);
    return error;
  }
}

/** The gRPC status of a call: 'OK' or the name of the error code (non-gRPC errors rethrown). */
export async function statusOf(promise: Promise<unknown>): Promise<{ code: string; details: string }> {
  try {
    await promise;
    return { code: 'OK', details: '' };
  } catch (error: unknown) {
    if (error instanceof ClientError) return { code: Status[error.code] ?? String(error.code), details: error.details };
    throw error;
  }
}

/** Collects every entry of a streamed ListRules answer. */
export async function collect<T>(stream: AsyncIterable<{ entries: T[] }>): Promise<T[]> {
  const out: T[] = [];
  for await (const chunk of stream) out.push(...chunk.entries);
  return out;
}

function safeJson(value: unknown): string {
  try {
    const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    return text.length > 300 ? `${text.slice(0, 300)}...` : text;
  } catch {
    return String(value);
  }
}

export { Status };
