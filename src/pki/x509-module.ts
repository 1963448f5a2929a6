// Loads @peculiar/x509 on first use, after the Reflect metadata shim it needs, and
// points it at Node's WebCrypto. Loading lazily keeps x509 (and its polyfill) out of
// processes that never make certificates, and makes the load order certain.

import { webcrypto } from 'node:crypto';
import { installReflectMetadata } from './reflect-metadata-shim.js';

export type X509Module = typeof import('@peculiar/x509');

let loading: Promise<X509Module> | undefined;

export function loadX509(): Promise<X509Module> {
  loading ??= (async () => {
    installReflectMetadata();
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto);
    return x509;
  })();
  return loading;
}
