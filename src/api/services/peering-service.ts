// PeeringService.Sync: the inbound side of the peer mesh. A caller needs a client
// certificate verified against the cluster CA (copied into the metadata by the
// verified-certificate interceptor) and a token of the `peering` or `admin` group;
// its stream then runs a MeshLink of the mesh manager like the links we dial.
// Refusals are logged here with the reason; the caller sees them as its status.
import type { CallContext, ServerMiddleware } from 'nice-grpc';
import type { Logger } from 'pino';
import { CouicError, UnauthenticatedError } from '../../domain/errors.js';
import { LinkUnavailableError } from '../../replication/mesh/errors.js';
import type { MeshLink } from '../../replication/mesh/mesh-link.js';
import type { PeerCredentials } from '../../replication/mesh/node-id-binding.js';
import type { RawPeeringServiceImplementation } from '../../replication/mesh/raw-peering-definition.js';
import { authorize, type CallerContext } from '../caller.js';
import { PEER_CERTIFICATE_METADATA } from './peering-identity.js';

/** What the service needs from the mesh manager. */
export interface InboundLinks {
  acceptInbound(address: string, credentials: PeerCredentials): MeshLink;
  inboundEnded(link: MeshLink, reason: unknown): void;
}

/** Messages pass as bytes: the link decodes them (an undecodable one is INVALID_ARGUMENT there) and counts their size. */
export function createPeeringService(links: InboundLinks): RawPeeringServiceImplementation<CallerContext> {
  return {
    async *sync(requests: AsyncIterable<Uint8Array>, context: CallContext & CallerContext): AsyncIterable<Uint8Array> {
      const certificate = context.metadata.get(PEER_CERTIFICATE_METADATA);
      if (certificate === undefined) {
        throw new UnauthenticatedError(
          'Sync requires a client certificate signed by the cluster CA ([tls] ca of this node): none was presented, or it did not verify',
        );
      }
      authorize(context.caller, 'peering');
      const credentials = { clientName: context.caller.name, certificateName: certificateName(certificate) };
      const link = links.acceptInbound(peerAddress(context.peer), credentials);
      const onAbort = (): void => link.close(new LinkUnavailableError('the peer cancelled the stream'));
      context.signal.addEventListener('abort', onAbort);
      const running = link.run(requests).then(
        () => undefined,
        (error: unknown) => error,
      );
      try {
        yield* link.outgoing;
      } finally {
        context.signal.removeEventListener('abort', onAbort);
        link.close(undefined);
        links.inboundEnded(link, await running);
      }
    },
  };
}

/** The CN of "CN=<name>; sha256=<fingerprint>" (peering-identity.ts). */
function certificateName(identity: string): string {
  return /^CN=(.*); sha256=/.exec(identity)?.[1] ?? '';
}

/** grpc-js peers look like "ipv4:127.0.0.1:5555" or "127.0.0.1:5555". */
function peerAddress(peer: string): string {
  return peer.replace(/^ipv[46]:/, '');
}

/**
 * Logs why a Sync call was refused (bad or missing certificate, missing or wrong
 * token, wrong group, invalid data), on this side; the caller logs its status.
 */
export function peeringRefusalLogging(logger: Logger): ServerMiddleware {
  return async function* logRefusals(call, context) {
    try {
      return yield* call.next(call.request, context);
    } catch (error: unknown) {
      if (error instanceof CouicError && ['unauthenticated', 'permission-denied', 'invalid-argument'].includes(error.kind)) {
        logger.warn({ peer: peerAddress(context.peer), method: call.method.path, code: error.kind, reason: error.message }, 'peer refused');
      }
      throw error;
    }
  };
}
