// Daemon entry point of the bus: builds and starts the BusLink from the [bus]
// options with the real NATS client, or returns undefined when the bus is off.
import { connect } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { BusOptions } from '../../config/bus-options.js';
import type { Clock } from '../../domain/clock.js';
import type { ReplicaStore } from '../replica-store.js';
import { BusLink, type BusHub } from './bus-link.js';

export interface StartBusDeps {
  readonly bus: BusOptions | undefined;
  readonly hub: BusHub;
  readonly store: ReplicaStore;
  readonly workingDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly reconnectMaxMs?: number;
  readonly maxClockOffsetMs?: number;
}

export function startBus(deps: StartBusDeps): BusLink | undefined {
  const { bus } = deps;
  if (bus === undefined || !bus.enabled) return undefined;
  const link = new BusLink({
    hub: deps.hub,
    store: deps.store,
    bus,
    workingDir: deps.workingDir,
    clock: deps.clock,
    logger: deps.logger,
    connect,
    ...(deps.reconnectMaxMs !== undefined ? { reconnectMaxMs: deps.reconnectMaxMs } : {}),
    ...(deps.maxClockOffsetMs !== undefined ? { maxClockOffsetMs: deps.maxClockOffsetMs } : {}),
  });
  link.start();
  deps.logger.info(
    { servers: bus.servers, publish: bus.publish, consume: bus.consume, prefix: bus.prefix, stream: link.streamName, tls: bus.tls !== undefined, auth: bus.auth?.kind ?? 'none' },
    'bus enabled',
  );
  return link;
}
