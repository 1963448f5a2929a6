// Daemon entry point of the bus: builds the BusLink from the [bus] options on
// JetStream (real NATS client) with its cursor in <working_dir>/bus/, and starts
// it; undefined when the bus is off.
import { connect } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { BusOptions } from './bus-options.js';
import type { Clock } from '../../domain/clock.js';
import type { ReplicaStore } from '../replica-store.js';
import { BusCursorFile } from './bus-cursor-file.js';
import { BusLink, type BusHub, type BusLinkOptions } from './bus-link.js';
import { jetStreamOpener, type NatsConnector } from './jetstream-bus-stream.js';

export interface NatsBusLinkDeps {
  readonly bus: BusOptions;
  readonly hub: BusHub;
  readonly store: ReplicaStore;
  readonly workingDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The NATS client's connect (tests may wrap it). */
  readonly connect?: NatsConnector;
  readonly tuning?: Pick<BusLinkOptions, 'reconnectMaxMs' | 'compactCheckIntervalMs' | 'cursorSaveIntervalMs' | 'random' | 'maxClockOffsetMs'>;
}

/** A bus link on NATS JetStream, not started. */
export function createNatsBusLink(deps: NatsBusLinkDeps): BusLink {
  const { bus, hub, logger, clock } = deps;
  return new BusLink({
    hub,
    store: deps.store,
    bus,
    clock,
    logger,
    openStream: jetStreamOpener({ bus, nodeId: hub.nodeId, connect: deps.connect ?? connect, logger, clock }),
    cursorStore: new BusCursorFile(deps.workingDir, bus.prefix),
    ...deps.tuning,
  });
}

export interface StartBusDeps extends Omit<NatsBusLinkDeps, 'bus' | 'tuning'> {
  readonly bus: BusOptions | undefined;
  readonly reconnectMaxMs?: number;
  readonly maxClockOffsetMs?: number;
}

export function startBus(deps: StartBusDeps): BusLink | undefined {
  const { bus } = deps;
  if (bus === undefined || !bus.enabled) return undefined;
  const link = createNatsBusLink({
    ...deps,
    bus,
    tuning: {
      ...(deps.reconnectMaxMs !== undefined ? { reconnectMaxMs: deps.reconnectMaxMs } : {}),
      ...(deps.maxClockOffsetMs !== undefined ? { maxClockOffsetMs: deps.maxClockOffsetMs } : {}),
    },
  });
  link.start();
  deps.logger.info(
    { servers: bus.servers, publish: bus.publish, consume: bus.consume, prefix: bus.prefix, stream: link.streamName, tls: bus.tls !== undefined, auth: bus.auth?.kind ?? 'none', compactMinBytes: bus.compactMinBytes },
    'bus enabled',
  );
  return link;
}
