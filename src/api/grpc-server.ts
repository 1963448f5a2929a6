// Builds the gRPC server: our services behind error mapping + authentication, and
// the standard health and reflection services (unauthenticated, as tools expect).
import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';
import { createServer, type Server } from 'nice-grpc';
import { HealthDefinition, HealthServiceImpl, HealthState } from 'nice-grpc-server-health';
import { ServerReflection, ServerReflectionService } from 'nice-grpc-server-reflection';
import type { Logger } from 'pino';
import { ClientsServiceDefinition, type ClientsServiceImplementation } from '../generated/couic/v1/clients.js';
import { RulesServiceDefinition, type RulesServiceImplementation } from '../generated/couic/v1/rules.js';
import { SetsServiceDefinition, type SetsServiceImplementation } from '../generated/couic/v1/sets.js';
import { StatsServiceDefinition, type StatsServiceImplementation } from '../generated/couic/v1/stats.js';
import { authMiddleware, type TokenDirectory } from './auth-middleware.js';
import type { CallerContext } from './caller.js';
import { errorMappingMiddleware } from './error-mapping.js';
import { withTolerantDecoding } from './undecodable-requests.js';

/** Large enough for a 100,000-rule batch; larger requests get RESOURCE_EXHAUSTED. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const PROTOSET_URL = new URL('../../src/generated/couic.protoset', import.meta.url);

export interface CouicServices {
  readonly rules: RulesServiceImplementation<CallerContext>;
  readonly clients: ClientsServiceImplementation<CallerContext>;
  readonly sets: SetsServiceImplementation<CallerContext>;
  readonly stats: StatsServiceImplementation<CallerContext>;
}

export interface TlsMaterial {
  readonly caPem?: Buffer;
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
  /** Require and verify client certificates against `caPem`. */
  readonly requireClientCert: boolean;
}

export function buildGrpcServer(services: CouicServices, directory: TokenDirectory, logger: Logger): Server {
  const server = createServer({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  });
  const authenticated = server.with(errorMappingMiddleware(logger)).with(authMiddleware(directory));
  authenticated.add(withTolerantDecoding(RulesServiceDefinition), services.rules);
  authenticated.add(withTolerantDecoding(ClientsServiceDefinition), services.clients);
  authenticated.add(withTolerantDecoding(SetsServiceDefinition), services.sets);
  authenticated.add(withTolerantDecoding(StatsServiceDefinition), services.stats);
  server.add(HealthDefinition, HealthServiceImpl(HealthState()));
  server.add(
    ServerReflectionService,
    ServerReflection(readFileSync(PROTOSET_URL), [
      RulesServiceDefinition.fullName,
      ClientsServiceDefinition.fullName,
      SetsServiceDefinition.fullName,
      StatsServiceDefinition.fullName,
    ]),
  );
  return server;
}

export function serverCredentials(tls: TlsMaterial | undefined): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    tls.requireClientCert ? (tls.caPem ?? null) : null,
    [{ cert_chain: tls.certPem, private_key: tls.keyPem }],
    tls.requireClientCert,
  );
}
