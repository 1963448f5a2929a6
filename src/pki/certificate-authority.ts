// The cluster CA: a self-signed certificate that signs every node and client
// certificate, so one CA bundle lets each node verify all the others.

import { createPrivateKey, randomBytes, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { checkCommonName, checkValidDays, randomSerialNumber, validityWindow } from './certificate-request.js';
import { PkiError } from './errors.js';
import type { PemPair } from './pem-pair.js';
import { generateSigningKey, importSigningKey, privateKeyToPem, type SigningKey } from './signing-key.js';
import { loadX509 } from './x509-module.js';

export interface CertificateAuthorityOptions {
  commonName: string;
  validDays: number;
  /** Start of validity; defaults to the current time (injectable for tests). */
  now?: Date;
}

export async function createCertificateAuthority(options: CertificateAuthorityOptions): Promise<PemPair> {
  checkCommonName(options.commonName);
  checkValidDays(options.validDays);
  const x509 = await loadX509();
  const key = await generateSigningKey();
  const { notBefore, notAfter } = validityWindow(options.now ?? new Date(), options.validDays);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(randomBytes(16)),
    name: [{ CN: [options.commonName] }],
    notBefore,
    notAfter,
    signingAlgorithm: key.signingAlgorithm,
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    extensions: [
      // pathLength 0: this CA signs leaves only, never intermediate CAs.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(key.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: privateKeyToPem(key.privateKey) };
}

/** A CA ready to sign: its parsed certificate and its private key. */
export interface LoadedAuthority {
  cert: NodeX509Certificate;
  certPem: string;
  key: SigningKey;
}

/**
 * Parses and checks CA material: a CA certificate, a key that belongs to it, and a
 * certificate still valid at `now`.
 */
export async function loadCertificateAuthority(ca: PemPair, now: Date = new Date()): Promise<LoadedAuthority> {
  let cert: NodeX509Certificate;
  try {
    cert = new NodeX509Certificate(ca.certPem);
  } catch (err) {
    throw new PkiError('ca.certPem', 'not a PEM certificate', { cause: err });
  }
  if (!cert.ca) throw new PkiError('ca.certPem', `${cert.subject} is not a CA certificate (basicConstraints CA:FALSE)`);
  const key = await importSigningKey(ca.keyPem, 'ca.keyPem');
  if (!cert.checkPrivateKey(createPrivateKey(ca.keyPem))) {
    throw new PkiError('ca.keyPem', 'does not belong to the CA certificate');
  }
  if (new Date(cert.validTo).getTime() <= now.getTime()) {
    throw new PkiError('ca.certPem', `the CA certificate expired on ${cert.validTo}`);
  }
  return { cert, certPem: ca.certPem, key };
}

