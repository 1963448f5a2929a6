// What certificate functions take and return: a PEM certificate and its PEM
// (PKCS#8) private key, as Node's tls and grpc-js consume them.

export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** What a leaf certificate may be used for (its extended key usage). */
export type CertificateUsage = 'server' | 'client' | 'both';
