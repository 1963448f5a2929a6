// The bus stream on NATS JetStream: one connection per session, the stream created
// on first use (file storage, limits retention, `replicas` copies), messages
// carrying the publishing node and the batch kind in headers.
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { BusOptions } from './bus-options.js';
import type { Clock } from '../../domain/clock.js';
import { BUS_HEADER_KIND, BUS_HEADER_NODE, busNames, type BusBatchKind, type BusNames } from './bus-names.js';
import { BusPullReader, batchKindOf } from './bus-pull-reader.js';
import type { BusMessage, BusStream, BusStreamInfo, BusStreamOpener, BusStreamReader } from './bus-stream.js';
import { natsConnectionOptions } from './nats-connection-options.js';

export type NatsConnector = (options: Awaited<ReturnType<typeof natsConnectionOptions>>) => Promise<NatsConnection>;

const PUBLISH_TIMEOUT_MS = 10_000;

export interface JetStreamOpenerOptions {
  readonly bus: BusOptions;
  readonly nodeId: string;
  readonly connect: NatsConnector;
  readonly logger: Logger;
  /** Measures the readers' silence (heartbeats missed). */
  readonly clock: Clock;
}

/** Sessions on the [bus] servers; a failure after connecting closes the connection. */
export function jetStreamOpener(options: JetStreamOpenerOptions): BusStreamOpener {
  const names = busNames(options.bus.prefix);
  return async () => {
    const nc = await options.connect(await natsConnectionOptions(options.bus, `couic ${options.nodeId}`));
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStream(jsm, names, options.bus.replicas, options.logger);
      return new JetStreamBusStream(nc, jsm, jetstream(nc), names, options.clock);
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw error;
    }
  };
}

export class JetStreamBusStream implements BusStream {
  readonly maxPayload: number;
  private readonly closedPromise: Promise<Error | undefined>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly names: BusNames,
    private readonly clock: Clock,
  ) {
    this.maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    this.closedPromise = nc.closed().then((error) => error ?? undefined);
  }

  get server(): string {
    return this.nc.getServer();
  }

  async info(): Promise<BusStreamInfo> {
    return toInfo(await this.jsm.streams.info(this.names.stream));
  }

  async publish(data: Uint8Array, node: string, kind: BusBatchKind): Promise<number> {
    const h = headers();
    h.set(BUS_HEADER_NODE, node);
    h.set(BUS_HEADER_KIND, kind);
    const ack = await this.js.publish(this.names.subject, data, { headers: h, timeout: PUBLISH_TIMEOUT_MS });
    return ack.seq;
  }

  async get(seq: number): Promise<BusMessage | undefined> {
    const m = await this.jsm.streams.getMessage(this.names.stream, { seq });
    if (m === null) return undefined;
    return { seq: m.seq, data: m.data, node: m.header.get(BUS_HEADER_NODE) || '', kind: batchKindOf(m.header.get(BUS_HEADER_KIND)) };
  }

  async purge(beforeSeq: number): Promise<number> {
    return (await this.jsm.streams.purge(this.names.stream, { seq: beforeSeq })).purged;
  }

  async read(fromSeq: number, notify: () => void): Promise<BusStreamReader> {
    return BusPullReader.open(this.nc, this.jsm, this.names.stream, fromSeq, () => this.clock.nowMs(), notify);
  }

  closed(): Promise<Error | undefined> {
    return this.closedPromise;
  }

  async close(): Promise<void> {
    await this.nc.close().catch(() => undefined);
  }
}

async function ensureStream(jsm: JetStreamManager, names: BusNames, replicas: number, logger: Logger): Promise<StreamInfo> {
  try {
    return await jsm.streams.info(names.stream);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  logger.info({ stream: names.stream, subject: names.subject, replicas }, 'bus: creating stream');
  try {
    return await jsm.streams.add({
      name: names.stream,
      subjects: [names.subject],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      num_replicas: replicas,
    });
  } catch (error) {
    // Another node created it meanwhile.
    if (/already in use|already exists/i.test(String(error))) return jsm.streams.info(names.stream);
    throw error;
  }
}

function toInfo(info: StreamInfo): BusStreamInfo {
  const s = info.state;
  return { created: info.created, firstSeq: s.first_seq, lastSeq: s.last_seq, messages: s.messages, bytes: s.bytes };
}

function isNotFound(error: unknown): boolean {
  return /stream not found/i.test(error instanceof Error ? error.message : String(error));
}
