// Opens a PeeringService.Sync stream to a daemon the way a peer would (TLS, client
// certificate, bearer token, hello first) and reports how the daemon answered: its
// hello when the stream was accepted, or the gRPC status when it was refused.
import { ChannelCredentials } from '@grpc/grpc-js';
import { ClientError, createChannel, createClient, Metadata, Status } from 'nice-grpc';
import { PeeringServiceDefinition, SyncPhase, type ReplicatedRecord as WireRecord, type SyncMessage } from '../../src/generated/couic/v1/peering.js';

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

export interface InjectOptions extends ProbeOptions {
  /** Records sent as one delta chunk right after the hello. */
  readonly records: readonly WireRecord[];
}

/**
 * Plays a peer that sends one chunk of records after its hello and waits for the
 * node's ack of it (the chunk was handled: merged, or refused record by record).
 */
export async function injectRecords(options: InjectOptions): Promise<ProbeResult & { acked: boolean }> {
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
    yield { message: { $case: 'records', value: { seq: 1, phase: SyncPhase.SYNC_PHASE_DELTA, records: [...options.records] } } };
    await new Promise((resolve) => abort.signal.addEventListener('abort', resolve));
  }
  try {
    const client = createClient(PeeringServiceDefinition, channel);
    const metadata = options.token === undefined ? Metadata() : Metadata({ authorization: `Bearer ${options.token}` });
    for await (const message of client.sync(requests(), { metadata, signal: abort.signal })) {
      if (message.message?.$case === 'ack' && message.message.value.seq === 1) return { code: 'OK', details: '', acked: true };
    }
    return { code: 'OK', details: 'stream ended without an ack', acked: false };
  } catch (error: unknown) {
    if (error instanceof ClientError) return { code: Status[error.code] ?? String(error.code), details: error.details, acked: false };
    if (error instanceof Error && error.name === 'AbortError') return { code: 'TIMEOUT', details: 'no ack in time', acked: false };
    throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
    channel.close();
  }
}
