// Starts the node's replication: the hub on the rule store (always: the Watch API
// rides on it), and when [peering] is enabled the peer mesh (dialers + the inbound
// PeeringService). Returns what the rest of the daemon plugs in: the hub, the link
// status sources (peers list, metrics) and the service for the TLS listener.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { DaemonOptions } from '../config/daemon-options.js';
import type { Clock } from '../domain/clock.js';
import type { RawPeeringServiceImplementation } from '../replication/mesh/raw-peering-definition.js';
import type { CallerContext } from '../api/caller.js';
import { createPeeringService } from '../api/services/peering-service.js';
import { ReplicationHub } from '../replication/core/replication-hub.js';
import { systemScheduler, type Scheduler } from '../domain/scheduler.js';
import type { LinkStatusSource } from '../replication/link-status.js';
import type { ReplicaStore } from '../replication/replica-store.js';
import { MeshManager, type MeshManagerOptions } from '../replication/mesh/mesh-manager.js';
import { startBus } from '../replication/bus/start-bus.js';
import type { HybridClock } from '../domain/version.js';

export interface ReplicationDeps {
  readonly options: DaemonOptions;
  /** The rule store and the hybrid clock that stamps its local writes. */
  readonly store: ReplicaStore & { readonly hlc: HybridClock };
  readonly clock: Clock;
  readonly logger: Logger;
  readonly scheduler?: Scheduler;
  /** Overrides for tests (backoff, timeouts). */
  readonly meshTimings?: MeshManagerOptions['timings'];
}

export interface RunningReplication {
  readonly hub: ReplicationHub;
  readonly statusSources: readonly LinkStatusSource[];
  /** PeeringService for the TLS listener; undefined when peering is disabled. */
  readonly peeringService?: RawPeeringServiceImplementation<CallerContext>;
  /** Idempotent. */
  stop(): Promise<void>;
}

export async function startReplication(deps: ReplicationDeps): Promise<RunningReplication> {
  const { options, store, clock, logger } = deps;
  const scheduler = deps.scheduler ?? systemScheduler;
  const peering = options.peering;
  const hub = new ReplicationHub({
    store,
    hlc: store.hlc,
    clock,
    scheduler,
    flushIntervalMs: peering.flushIntervalMs,
  });
  hub.start();

  let mesh: MeshManager | undefined;
  if (peering.enabled) {
    const tls = options.tls;
    // compileDaemonOptions refuses peering without these; checked again for callers that build options by hand.
    if (tls?.caPath === undefined || tls.certPath === undefined || tls.keyPath === undefined) {
      throw new Error('peering needs [tls] ca, cert and key');
    }
    mesh = new MeshManager({
      hub,
      clock,
      scheduler,
      logger: logger.child({ component: 'mesh' }),
      peers: peering.peers,
      tls: { caPem: await readFile(tls.caPath), certPem: await readFile(tls.certPath), keyPem: await readFile(tls.keyPath) },
      timings: { reconnectMaxMs: peering.reconnectMaxMs, ...deps.meshTimings },
      maxClockOffsetMs: options.replication.maxClockOffsetMs,
      nodeIdBinding: peering.nodeIdBinding,
    });
    mesh.start();
    logger.info(
      { nodeId: hub.nodeId, peers: peering.peers.map((p) => `${p.host}:${p.port}`), flushIntervalMs: hub.flushIntervalMs },
      'peering enabled',
    );
  }

  const bus = startBus({ bus: options.bus, hub, store, workingDir: options.workingDir, clock, logger: logger.child({ component: 'bus' }), reconnectMaxMs: peering.reconnectMaxMs, maxClockOffsetMs: options.replication.maxClockOffsetMs });

  let stopped: Promise<void> | undefined;
  return {
    hub,
    statusSources: [...(mesh !== undefined ? [mesh] : []), ...(bus !== undefined ? [bus] : [])],
    ...(mesh !== undefined ? { peeringService: createPeeringService(mesh) } : {}),
    stop() {
      stopped ??= (async () => {
        await mesh?.stop();
        await bus?.stop();
        hub.stop();
      })();
      return stopped;
    },
  };
}
