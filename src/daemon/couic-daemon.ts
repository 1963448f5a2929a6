// Wires the daemon together from compiled options: storage, store, data plane,
// sets, API listeners, metrics, expiry; and takes it apart again in reverse order.
import { chown, mkdir, readFile, unlink } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import type { Server } from 'nice-grpc';
import type { Logger } from 'pino';
import type { DaemonOptions } from '../config/daemon-options.js';
import { resolveNodeId } from '../config/node-id.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { HybridClock } from '../domain/version.js';
import type { DataPlane } from '../dataplane/dataplane.js';
import { UserspaceDataPlane } from '../dataplane/userspace-dataplane.js';
import { DEFAULT_PIN_DIR, XdpDataPlane } from '../dataplane/xdp/xdp-dataplane.js';
import { buildGrpcServer, serverCredentials, type TlsMaterial } from '../api/grpc-server.js';
import { createClientsService } from '../api/services/clients-service.js';
import { createRulesService } from '../api/services/rules-service.js';
import { createSetsService } from '../api/services/sets-service.js';
import { createStatsService } from '../api/services/stats-service.js';
import { createReplicationService } from '../api/services/replication-service.js';
import { createMetricsRegistry } from '../metrics/couic-metrics.js';
import { GrpcRequestMetrics } from '../metrics/grpc-request-metrics.js';
import { registerReplicationMetrics } from '../metrics/replication-metrics.js';
import { startMetricsServer } from '../metrics/metrics-http-server.js';
import { ClientRegistry, clientsDirOf } from '../rbac/client-registry.js';
import { SetRepository, setsDirOf } from '../sets/set-repository.js';
import { JournalPersistence } from '../store/journal-persistence.js';
import { systemScheduler } from '../domain/scheduler.js';
import { WatchBroker } from '../replication/watch/watch-broker.js';
import { RuleStore } from '../store/rule-store.js';
import { claimSocketPath } from './socket-guard.js';
import { startReplication } from './replication-wiring.js';
import { StaticSets } from '../sets/static-sets.js';
import { dropPrivileges, lookupIds } from './privileges.js';

/** How often expired entries are swept from the store and the data plane. */
export const EXPIRY_SWEEP_INTERVAL_MS = 250;

export interface RunningDaemon {
  readonly nodeId: string;
  readonly store: RuleStore;
  /** Resolves when every listener is closed and state is flushed. */
  stop(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions, logger: Logger, clock: Clock = systemClock): Promise<RunningDaemon> {
  const cleanups: (() => Promise<void>)[] = [];
  try {
    await prepareDirectories(options);
    // XDP loads and attaches with root rights: before privileges are dropped.
    const dataPlane = await createDataPlane(options, logger);
    cleanups.push(() => dataPlane.close());
    await dropPrivileges(options.user, options.group, logger);

    const { nodeId, source } = await resolveNodeId(options, options.workingDir);
    logger.info({ nodeId, source, workingDir: options.workingDir }, 'node identity');

    const registry = await ClientRegistry.open(clientsDirOf(options.workingDir), { logger });
    const adminFile = await registry.ensureDefaultAdmin();
    if (adminFile !== undefined) logger.info({ file: adminFile }, 'first start: created admin client "couicctl"');

    let store: RuleStore | undefined;
    const persistence = await JournalPersistence.open({
      dir: join(options.workingDir, 'state'),
      flushIntervalMs: options.persistence.flushIntervalMs,
      snapshotEvery: options.persistence.snapshotEvery,
      logger,
      snapshotSource: () => store?.records() ?? [],
      format: 'binary',
    });
    cleanups.push(() => persistence.close());
    store = new RuleStore({
      clock,
      dataPlane,
      persistence,
      hlc: new HybridClock(clock, nodeId),
      tombstoneLifetimeMs: options.peering.tombstoneLifetimeS * 1000,
    });
    const restoring = store;
    // Streamed: decoded chunks go straight into the store's table, no object kept per record.
    await persistence.load((records) => restoring.restoreBatch(records), restoring.rawRestore);
    await store.finishRestore();
    logger.info({ rules: store.countByPolicy() }, 'dynamic rules restored');
    if (persistence.holdsLegacyFiles) {
      // State written by an older couic (NDJSON): rewritten in the binary format in the background.
      void persistence.snapshotNow().then(
        () => logger.info('journal: state rewritten in the binary format'),
        (err: unknown) => logger.warn({ err }, 'journal: rewriting the state in the binary format failed; will retry at the next snapshot'),
      );
    }

    const sets = new StaticSets(await SetRepository.open(setsDirOf(options.workingDir), { logger }), store, logger);
    const { changes, refused } = await sets.reload();
    logger.info({ sets: changes.length, refused: refused.map((r) => `${r.policy}/${r.name}`) }, 'static sets loaded');
    // Pinned maps survived the restart: drop what the restored store no longer has.
    if (dataPlane instanceof XdpDataPlane) await dataPlane.reconcile();

    const sweeper = setInterval(() => store?.sweepExpired(), EXPIRY_SWEEP_INTERVAL_MS);
    sweeper.unref();
    cleanups.push(async () => clearInterval(sweeper));

    const replication = await startReplication({ options, store, clock, logger });
    cleanups.push(() => replication.stop());

    const services = {
      rules: createRulesService({ store, clock, nodeId, logger }),
      clients: createClientsService(registry, logger),
      sets: createSetsService(sets, logger),
      stats: createStatsService(store, dataPlane),
      replication: createReplicationService({
        broker: new WatchBroker({
          store,
          feed: replication.hub.feed,
          clock,
          scheduler: systemScheduler,
          options: { maxPendingKeys: options.replication.watchMaxPendingKeys },
        }),
        statusSources: () => replication.statusSources,
      }),
    };
    // Refuse early if another daemon serves the socket; listen on it last, so a health
    // check that answers there means every listener is up.
    const replaced = await claimSocketPath(options.server.socketPath);
    if (replaced === 'stale-replaced') logger.warn({ socket: options.server.socketPath }, 'replaced a stale socket');
    // One set of gRPC request metrics for both listeners (served when [metrics] is on).
    const grpcRequests = new GrpcRequestMetrics();
    if (options.server.listen !== undefined) {
      const { host, port } = options.server.listen;
      const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      const peering = replication.peeringService;
      const tcpServer = buildGrpcServer({ ...services, ...(peering !== undefined ? { peering } : {}) }, registry, logger, grpcRequests);
      const bound = await tcpServer.listen(address, serverCredentials({ ...(await loadTls(options)), requestClientCert: peering !== undefined }));
      cleanups.push(() => shutdownGrpc(tcpServer));
      // Stop the mesh before the listener: open Sync streams would hold its graceful shutdown.
      cleanups.push(() => replication.stop());
      logger.info({ address, port: bound, mtls: options.server.mtls }, 'API listening on TCP (TLS)');
    }

    if (options.metrics !== undefined) {
      const metricsRegistry = createMetricsRegistry(store, dataPlane, grpcRequests);
      registerReplicationMetrics(metricsRegistry, replication.statusSources);
      const http = await startMetricsServer(options.metrics.listen, metricsRegistry, registry, logger);
      cleanups.push(() => closeHttp(http));
      logger.info({ listen: options.metrics.listen }, 'metrics listening');
    }

    // nice-grpc servers listen once: one server per listener, same services.
    const unixServer = buildGrpcServer(services, registry, logger, grpcRequests);
    await unixServer.listen(`unix:${options.server.socketPath}`, serverCredentials(undefined));
    cleanups.push(async () => {
      await shutdownGrpc(unixServer);
      await unlink(options.server.socketPath).catch(() => undefined);
    });
    logger.info({ socket: options.server.socketPath }, 'API listening on Unix socket');

    const running = store;
    return {
      nodeId,
      store: running,
      async stop() {
        await runCleanups(cleanups, logger);
        await running.settle();
      },
    };
  } catch (error) {
    await runCleanups(cleanups, logger);
    throw error;
  }
}

async function createDataPlane(options: DaemonOptions, logger: Logger): Promise<DataPlane> {
  if (options.ifaces.length === 0) {
    logger.info('data plane: userspace (no ifaces configured; rules are kept and checked, not enforced on packets)');
    return new UserspaceDataPlane();
  }
  return XdpDataPlane.open({
    ifaces: options.ifaces,
    pinDir: options.xdp?.pinDir ?? DEFAULT_PIN_DIR,
    mode: options.xdp?.mode ?? 'auto',
    ...(options.xdp?.objectPath !== undefined ? { objectPath: options.xdp.objectPath } : {}),
    logger,
  });
}

async function prepareDirectories(options: DaemonOptions): Promise<void> {
  await mkdir(options.workingDir, { recursive: true, mode: 0o750 });
  if (options.user === undefined) return;
  // The service user must own its state once privileges are dropped.
  const { uid, gid } = await lookupIds(options.user, options.group);
  await chown(options.workingDir, uid, gid);
}

async function loadTls(options: DaemonOptions): Promise<TlsMaterial> {
  const tls = options.tls;
  if (tls?.certPath === undefined || tls.keyPath === undefined) {
    throw new Error('[server] listen needs [tls] cert and key');
  }
  return {
    certPem: await readFile(tls.certPath),
    keyPem: await readFile(tls.keyPath),
    ...(tls.caPath !== undefined ? { caPem: await readFile(tls.caPath) } : {}),
    requireClientCert: options.server.mtls,
  };
}

async function shutdownGrpc(server: Server): Promise<void> {
  const forced = setTimeout(() => server.forceShutdown(), 2_000);
  await server.shutdown();
  clearTimeout(forced);
}

function closeHttp(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

async function runCleanups(cleanups: (() => Promise<void>)[], logger: Logger): Promise<void> {
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop();
    try {
      await cleanup?.();
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
    }
  }
}
