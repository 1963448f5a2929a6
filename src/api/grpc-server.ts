// Builds the gRPC server: our services behind error mapping + authentication, and
// the standard health and reflection services (unauthenticated, as tools expect).
import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';
import { createServer, type Server } from 'nice-grpc';
import { HealthDefinition, HealthServiceImpl, HealthState } from 'nice-grpc-server-health';
import { ServerReflection, ServerReflectionService } from 'nice-grpc-server-reflection';
import type { Logger } from 'pino';
import { ClientsServiceDefinition, type ClientsServiceImplementation } from '../generated/couic/v1/clients.js';
import { PeeringServiceDefinition } from '../generated/couic/v1/peering.js';
import { RawPeeringServiceDefinition, type RawPeeringServiceImplementation } from '../replication/mesh/raw-peering-definition.js';
import { ReplicationServiceDefinition, type ReplicationServiceImplementation } from '../generated/couic/v1/replication.js';
import { RulesServiceDefinition, type RulesServiceImplementation } from '../generated/couic/v1/rules.js';
import { SetsServiceDefinition, type SetsServiceImplementation } from '../generated/couic/v1/sets.js';
import { StatsServiceDefinition, type StatsServiceImplementation } from '../generated/couic/v1/stats.js';
import { authMiddleware, type TokenDirectory } from './auth-middleware.js';
import type { CallerContext } from './caller.js';
import { installPrefaceDeadline } from './connection-deadlines.js';
import { errorMappingMiddleware } from './error-mapping.js';
import { requestMetricsMiddleware, type GrpcCallObserver } from './request-metrics.js';
import { withTolerantDecoding } from './undecodable-requests.js';
import { optionalClientCertCredentials, verifiedCertificateInterceptor } from './services/peering-identity.js';
import { peeringRefusalLogging } from './services/peering-service.js';

/** Large enough for a 100,000-rule batch; larger requests get RESOURCE_EXHAUSTED. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const PROTOSET_URL = new URL('../../src/generated/couic.protoset', import.meta.url);

export interface CouicServices {
  readonly rules: RulesServiceImplementation<CallerContext>;
  readonly clients: ClientsServiceImplementation<CallerContext>;
  readonly sets: SetsServiceImplementation<CallerContext>;
  readonly stats: StatsServiceImplementation<CallerContext>;
  /** Watch and ListPeers (every listener). */
  readonly replication?: ReplicationServiceImplementation<CallerContext>;
  /** Peer mesh (TLS listener only): callers need a verified client certificate, see peering-identity.ts. */
  readonly peering?: RawPeeringServiceImplementation<CallerContext>;
}

export interface TlsMaterial {
  readonly caPem?: Buffer;
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
  /** Require and verify client certificates against `caPem`. */
  readonly requireClientCert: boolean;
  /** Ask for client certificates and verify those presented (peers), without requiring them. */
  readonly requestClientCert?: boolean;
}

/**
 * Connection deadlines of the TCP listener: a client that never completes the TLS
 * handshake is dropped after TLS_HANDSHAKE_TIMEOUT_MS (Node's default is 120 s); one
 * that completes it but never sends the HTTP/2 preface, after HTTP2_PREFACE_TIMEOUT_MS
 * (connection-deadlines.ts).
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Peers notice a dead caller as fast as a dead callee (~2.3 s, NOTES-stack.md). */
const PEERING_SERVER_OPTIONS = { 'grpc.keepalive_time_ms': 2_000, 'grpc.keepalive_timeout_ms': 1_000 } as const;

export function buildGrpcServer(services: CouicServices, directory: TokenDirectory, logger: Logger, calls: GrpcCallObserver): Server {
  if (!installPrefaceDeadline()) logger.warn('this grpc-js version offers no HTTP/2 server hook: the HTTP/2 preface has no deadline');
  const server = createServer({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    ...(services.peering !== undefined ? { ...PEERING_SERVER_OPTIONS, interceptors: [verifiedCertificateInterceptor()] } : {}),
  });
  // Request metrics outermost: they record the status the caller gets.
  const measured = server.with(requestMetricsMiddleware(calls));
  const authenticated = measured.with(errorMappingMiddleware(logger)).with(authMiddleware(directory));
  authenticated.add(withTolerantDecoding(RulesServiceDefinition), services.rules);
  authenticated.add(withTolerantDecoding(ClientsServiceDefinition), services.clients);
  authenticated.add(withTolerantDecoding(SetsServiceDefinition), services.sets);
  authenticated.add(withTolerantDecoding(StatsServiceDefinition), services.stats);
  if (services.replication !== undefined) authenticated.add(withTolerantDecoding(ReplicationServiceDefinition), services.replication);
  if (services.peering !== undefined) {
    measured
      .with(errorMappingMiddleware(logger))
      .with(peeringRefusalLogging(logger))
      .with(authMiddleware(directory))
      .add(RawPeeringServiceDefinition, services.peering);
  }
  // Health is unauthenticated, but undecodable bodies are INVALID_ARGUMENT here too (not INTERNAL).
  measured.with(errorMappingMiddleware(logger)).add(withTolerantDecoding(HealthDefinition), HealthServiceImpl(HealthState()));
  // Reflection answers both grpc.reflection.v1 and v1alpha (same messages, other
  // package; grpcurl and older tools ask for v1alpha), and lists health and itself: the
  // protoset holds their descriptors (proto/grpc/).
  const reflection = ServerReflection(readFileSync(PROTOSET_URL), [
    RulesServiceDefinition.fullName,
    ClientsServiceDefinition.fullName,
    SetsServiceDefinition.fullName,
    StatsServiceDefinition.fullName,
    ...(services.replication !== undefined ? [ReplicationServiceDefinition.fullName] : []),
    ...(services.peering !== undefined ? [PeeringServiceDefinition.fullName] : []),
    HEALTH_SERVICE,
    REFLECTION_V1,
    REFLECTION_V1ALPHA,
  ]);
  measured.add(ServerReflectionService, reflection);
  measured.add(reflectionV1alphaDefinition(), reflection);
  return server;
}

const HEALTH_SERVICE = 'grpc.health.v1.Health';
const REFLECTION_V1 = 'grpc.reflection.v1.ServerReflection';
const REFLECTION_V1ALPHA = 'grpc.reflection.v1alpha.ServerReflection';

/** nice-grpc-server-reflection's v1 definition at the v1alpha path (wire-identical messages). */
function reflectionV1alphaDefinition(): typeof ServerReflectionService {
  const v1 = ServerReflectionService.serverReflectionInfo;
  return {
    ...ServerReflectionService,
    serverReflectionInfo: { ...v1, path: v1.path.replace(`/${REFLECTION_V1}/`, `/${REFLECTION_V1ALPHA}/`) },
  } as typeof ServerReflectionService;
}

export function serverCredentials(tls: TlsMaterial | undefined): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  if (!tls.requireClientCert && tls.requestClientCert === true && tls.caPem !== undefined) {
    return withHandshakeTimeout(optionalClientCertCredentials({ caPem: tls.caPem, certPem: tls.certPem, keyPem: tls.keyPem }));
  }
  return withHandshakeTimeout(
    ServerCredentials.createSsl(
      tls.requireClientCert ? (tls.caPem ?? null) : null,
      [{ cert_chain: tls.certPem, private_key: tls.keyPem }],
      tls.requireClientCert,
    ),
  );
}

/** grpc-js passes these options to http2.createSecureServer (hence tls.Server): the handshake deadline goes there. */
function withHandshakeTimeout(credentials: ServerCredentials): ServerCredentials {
  const constructorOptions = credentials._getConstructorOptions.bind(credentials);
  credentials._getConstructorOptions = () => ({ ...constructorOptions(), handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS });
  return credentials;
}
