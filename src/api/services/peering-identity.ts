// Peers authenticate with a client certificate signed by the cluster CA, whatever
// `[server] mtls` says for ordinary API clients. nice-grpc's call context does not
// expose the TLS session, so a grpc-js server interceptor copies the verified
// certificate's identity into the call metadata (after deleting any value a client
// sent under that key), and the peering service refuses calls without it.
// Also the server credentials that ask for, but do not require, client certificates.
import type { PeerCertificate } from 'node:tls';
import {
  experimental,
  ServerInterceptingCall,
  type ServerCredentials,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
} from '@grpc/grpc-js';

/** Metadata key carrying "CN=<name>; sha256=<fingerprint>" of the verified client certificate. */
export const PEER_CERTIFICATE_METADATA = 'x-couic-verified-client-certificate';
const CACHE_LIMIT = 1024;

/** Copies the verified client certificate (if any) into the metadata of every call. */
export function verifiedCertificateInterceptor(): ServerInterceptor {
  // Formatting per call is cheap, but a peer certificate object per call is not: cache by fingerprint.
  const cache = new Map<string, string>();
  return (_method, call: ServerInterceptingCallInterface) =>
    new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, forward) => {
            metadata.remove(PEER_CERTIFICATE_METADATA);
            // Empty unless the TLS session verified the certificate against the configured CA.
            const certificate = call.getAuthContext().sslPeerCertificate;
            if (certificate !== undefined) metadata.set(PEER_CERTIFICATE_METADATA, identityOf(certificate, cache));
            forward(metadata);
          },
        });
      },
    });
}

function identityOf(certificate: PeerCertificate, cache: Map<string, string>): string {
  const fingerprint = certificate.fingerprint256;
  const known = cache.get(fingerprint);
  if (known !== undefined) return known;
  const cn = certificate.subject?.CN;
  const identity = `CN=${Array.isArray(cn) ? cn.join(',') : (cn ?? '')}; sha256=${fingerprint}`;
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(fingerprint, identity);
  return identity;
}

export interface PemMaterial {
  readonly caPem: Buffer;
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
}

/**
 * TLS that requests a client certificate and verifies it against `caPem` when one is
 * presented, but lets clients without one (couicctl with `mtls = false`) connect.
 * grpc-js's createSsl cannot express this; its certificate-provider credentials can.
 */
export function optionalClientCertCredentials(pem: PemMaterial): ServerCredentials {
  // grpc-js registers its watcher only after adding these listeners: an update given
  // synchronously would be lost (and every connection dropped), so deliver it a tick later.
  const provider: experimental.CertificateProvider = {
    addCaCertificateListener: (listener) => queueMicrotask(() => listener({ caCertificate: pem.caPem })),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (listener) => queueMicrotask(() => listener({ certificate: pem.certPem, privateKey: pem.keyPem })),
    removeIdentityCertificateListener: () => undefined,
  };
  // One static provider serves both roles (CA and identity).
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}
