// CouicPort over the daemon's gRPC API (generated clients), through its Unix socket or
// its TLS listener, with the bearer token on every call.
import { readFile } from 'node:fs/promises';
import { Channel, ChannelCredentials, createClientFactory, Metadata, type ClientMiddleware } from 'nice-grpc';
import { RuleSpec } from '../generated/couic/v1/entry.js';
import { Policy } from '../generated/couic/v1/entry.js';
import { ReplicationServiceDefinition, type WatchEvent } from '../generated/couic/v1/replication.js';
import { RulesServiceDefinition } from '../generated/couic/v1/rules.js';
import type { CouicEndpoint } from './bridge-options.js';
import type { CouicPort } from './couic-port.js';

const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const UNARY_TIMEOUT_MS = 30_000;
/** AddRules is all or nothing: keep each call well under the message limit. */
const ADD_RULES_BATCH = 10_000;

function bearer(token: string): ClientMiddleware {
  return async function* withToken(call, options) {
    return yield* call.next(call.request, { ...options, metadata: Metadata(options.metadata).set('authorization', `Bearer ${token}`) });
  };
}

export class GrpcCouicPort implements CouicPort {
  private constructor(
    private readonly channel: Channel,
    private readonly token: string,
  ) {}

  static async open(endpoint: CouicEndpoint, token: string): Promise<GrpcCouicPort> {
    const options = { 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.max_send_message_length': MAX_MESSAGE_BYTES };
    if (endpoint.kind === 'unix') {
      return new GrpcCouicPort(new Channel(`unix:${endpoint.socketPath}`, ChannelCredentials.createInsecure(), options), token);
    }
    const ca = await readFile(endpoint.caPath);
    const cert = endpoint.certPath === undefined ? null : await readFile(endpoint.certPath);
    const key = endpoint.keyPath === undefined ? null : await readFile(endpoint.keyPath);
    const serverName = endpoint.serverName ?? endpoint.host;
    const target = endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
    const channel = new Channel(target, ChannelCredentials.createSsl(ca, key, cert), {
      ...options,
      'grpc.ssl_target_name_override': serverName,
      'grpc.default_authority': serverName,
    });
    return new GrpcCouicPort(channel, token);
  }

  async *watch(cursor: string, signal: AbortSignal): AsyncIterable<readonly WatchEvent[]> {
    const client = createClientFactory().use(bearer(this.token)).create(ReplicationServiceDefinition, this.channel);
    for await (const response of client.watch({ policy: Policy.POLICY_UNSPECIFIED, tags: [], cursor }, { signal })) {
      yield response.events;
    }
  }

  async addRules(rules: readonly RuleSpec[]): Promise<void> {
    const client = createClientFactory().use(bearer(this.token)).create(RulesServiceDefinition, this.channel);
    for (let i = 0; i < rules.length; i += ADD_RULES_BATCH) {
      const batch = rules.slice(i, i + ADD_RULES_BATCH).map((r) => RuleSpec.fromPartial(r));
      await client.addRules({ rules: batch }, { signal: AbortSignal.timeout(UNARY_TIMEOUT_MS) });
    }
  }

  close(): void {
    this.channel.close();
  }
}
