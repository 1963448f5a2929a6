// Opens a PeeringService.Sync stream to a daemon the way a peer would (TLS, client
// certificate, bearer token, hello first) and reports how the daemon answered: its
// hello when the stream was accepted, or the gRPC status when it was refused.
import { ChannelCredentials } from '@grpc/grpc-js';
import { ClientError, createChannel, createClient, Metadata, Status } from 'nice-grpc';
import { PeeringServiceDefinition, type SyncMessage } from '../../src/generated/couic/v1/peering.js';

export interface ProbeOptions {
  readonly host: string;
  readonly port: number;
  /** Trust root for the daemon's certificate. */
  readonly caPem: string | Buffer;
  /** Client certificate presented (none when undefined). */
  readonly certPem?: string | Buffer;
  readonly keyPem?: string | Buffer;
  /** Bearer token (no authorization metadata when undefined). */
  readonly token?: string;
  readonly nodeId: string;
  readonly timeoutMs?: number;
  /** Keep reading until the daemon ends the stream (for refusals that follow its hello). */
  readonly untilEnd?: boolean;
}

export interface ProbeResult {
  readonly code: string;
  readonly details: string;
  /** The daemon's first message when the stream was accepted. */
  readonly first?: SyncMessage;
}

export async function probeSync(options: ProbeOptions): Promise<ProbeResult> {
  const buf = (v: string | Buffer | undefined): Buffer | null => (v === undefined ? null : Buffer.from(v));
  const channel = createChannel(`${options.host}:${options.port}`, ChannelCredentials.createSsl(buf(options.caPem), buf(options.keyPem), buf(options.certPem)), {
    'grpc.ssl_target_name_override': 'localhost',
    'grpc.default_authority': 'localhost',
    'grpc.use_local_subchannel_pool': 1,
  });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), options.timeoutMs ?? 20_000);
  async function* requests(): AsyncIterable<SyncMessage> {
    yield { message: { $case: 'hello', value: { nodeId: options.nodeId, bucketCount: 4096, protocolVersion: 1 } } };
    await new Promise((resolve) => abort.signal.addEventListener('abort', resolve));
  }
  try {
    const client = createClient(PeeringServiceDefinition, channel);
    const metadata = options.token === undefined ? Metadata() : Metadata({ authorization: `Bearer ${options.token}` });
    let first: SyncMessage | undefined;
    for await (const message of client.sync(requests(), { metadata, signal: abort.signal })) {
      first ??= message;
      if (options.untilEnd !== true) break;
    }
    return { code: 'OK', details: first === undefined ? 'stream ended without a message' : '', ...(first !== undefined ? { first } : {}) };
  } catch (error: unknown) {
    if (error instanceof ClientError) return { code: Status[error.code] ?? String(error.code), details: error.details };
    if (error instanceof Error && error.name === 'AbortError') return { code: 'TIMEOUT', details: 'no answer in time' };
    throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
    channel.close();
  }
}
