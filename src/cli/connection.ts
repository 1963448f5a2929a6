// Opens a gRPC channel to a couic daemon and builds typed clients for its four
// services, with the bearer token on every call. Kept generic (target + credentials
// + token) so tests and benchmarks build their clients the same way the CLI does.
import { readFile } from 'node:fs/promises';
import {
  Channel,
  ChannelCredentials,
  type ChannelOptions,
  ClientError,
  type ClientMiddleware,
  createClientFactory,
  Metadata,
  Status,
} from 'nice-grpc';
import { ClientsServiceDefinition } from '../generated/couic/v1/clients.js';
import { ReplicationServiceDefinition } from '../generated/couic/v1/replication.js';
import { RulesServiceDefinition } from '../generated/couic/v1/rules.js';
import { SetsServiceDefinition } from '../generated/couic/v1/sets.js';
import { StatsServiceDefinition } from '../generated/couic/v1/stats.js';
import { type CliConfig, loadCliConfig } from './config.js';
import type { CouicApi } from './context.js';
import { CliConfigError } from './errors.js';

export interface CouicClientsOptions {
  /** grpc-js target: `unix:/run/couic/couic.sock`, `host:port`, `[::1]:2900`. */
  target: string;
  /** Defaults to an insecure channel (right for Unix sockets). */
  credentials?: ChannelCredentials;
  /** Bearer token sent as `authorization` metadata on every call. */
  token: string;
  channelOptions?: ChannelOptions;
  /** Deadline for unary calls; streams are not limited (a big list may take long). */
  unaryTimeoutMs?: number;
}

export interface CouicClients extends CouicApi {
  channel: Channel;
  close(): void;
}

/** Adds `authorization: Bearer <token>` to every call. */
export function bearerTokenMiddleware(token: string): ClientMiddleware {
  return async function* bearerToken(call, options) {
    const metadata = Metadata(options.metadata).set('authorization', `Bearer ${token}`);
    return yield* call.next(call.request, { ...options, metadata });
  };
}

/** Fails a unary call with DEADLINE_EXCEEDED when the server does not answer in time. */
export function unaryDeadlineMiddleware(timeoutMs: number): ClientMiddleware {
  return async function* unaryDeadline(call, options) {
    if (call.requestStream || call.responseStream || options.signal !== undefined) {
      return yield* call.next(call.request, options);
    }
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      return yield* call.next(call.request, { ...options, signal });
    } catch (error) {
      // The abort surfaces as AbortError or as the signal's TimeoutError DOMException.
      if (signal.aborted) {
        throw new ClientError(call.method.path, Status.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`);
      }
      throw error;
    }
  };
}

export function createCouicClients(options: CouicClientsOptions): CouicClients {
  const channel = new Channel(
    options.target,
    options.credentials ?? ChannelCredentials.createInsecure(),
    options.channelOptions ?? {},
  );
  let factory = createClientFactory().use(bearerTokenMiddleware(options.token));
  if (options.unaryTimeoutMs !== undefined) factory = factory.use(unaryDeadlineMiddleware(options.unaryTimeoutMs));
  return {
    channel,
    rules: factory.create(RulesServiceDefinition, channel),
    clients: factory.create(ClientsServiceDefinition, channel),
    sets: factory.create(SetsServiceDefinition, channel),
    stats: factory.create(StatsServiceDefinition, channel),
    replication: factory.create(ReplicationServiceDefinition, channel),
    close: () => channel.close(),
  };
}

/** grpc-js target for a host and port; IPv6 literals need brackets. */
export function hostTarget(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

async function readPem(key: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new CliConfigError(`${key}: cannot read ${path}: ${reason}`);
  }
}

/** Channel settings for a loaded CLI config (reads the PEM files in remote mode). */
export async function clientOptionsFromConfig(config: CliConfig): Promise<CouicClientsOptions> {
  if (config.mode === 'local') {
    return { target: `unix:${config.socket}`, token: config.token };
  }
  const target = hostTarget(config.host, config.port);
  if (!config.tls) return { target, token: config.token, credentials: ChannelCredentials.createInsecure() };
  const ca = config.ca === undefined ? null : await readPem('ca', config.ca);
  const cert = config.cert === undefined ? null : await readPem('cert', config.cert);
  const key = config.key === undefined ? null : await readPem('key', config.key);
  const channelOptions: ChannelOptions = {};
  if (config.serverName !== undefined) {
    channelOptions['grpc.ssl_target_name_override'] = config.serverName;
    channelOptions['grpc.default_authority'] = config.serverName;
  }
  return {
    target,
    token: config.token,
    credentials: ChannelCredentials.createSsl(ca, key, cert),
    channelOptions,
  };
}

/** Unary calls that take longer than this fail with DEADLINE_EXCEEDED instead of hanging. */
export const DEFAULT_UNARY_TIMEOUT_MS = 30_000;

/** Loads a CLI config file and opens the connection it describes (what couicctl does). */
export async function connectFromConfig(
  configPath: string,
  explicit: boolean,
  unaryTimeoutMs = DEFAULT_UNARY_TIMEOUT_MS,
): Promise<{ api: CouicApi; target: string; close(): void }> {
  const options = await clientOptionsFromConfig(await loadCliConfig(configPath, explicit));
  const clients = createCouicClients({ ...options, unaryTimeoutMs });
  return { api: clients, target: options.target, close: () => clients.close() };
}
