// Issues node and client certificates signed by the cluster CA. Node certificates
// are used both ways on the peer mesh (a node serves its peers and dials them), so
// they carry serverAuth and clientAuth; SANs list every name and IP peers dial.

import { randomBytes } from 'node:crypto';
import { loadCertificateAuthority } from './certificate-authority.js';
import {
  checkCommonName,
  checkDnsNames,
  checkIpAddresses,
  checkValidDays,
  randomSerialNumber,
  validityWindow,
} from './certificate-request.js';
import type { CertificateUsage, PemPair } from './pem-pair.js';
import { generateSigningKey, privateKeyToPem } from './signing-key.js';
import { loadX509, type X509Module } from './x509-module.js';

export interface IssueCertificateOptions {
  commonName: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Lifetime; capped so the certificate never outlives its CA. */
  validDays: number;
  usage: CertificateUsage;
  /** Start of validity; defaults to the current time (injectable for tests). */
  now?: Date;
}

export async function issueCertificate(ca: PemPair, options: IssueCertificateOptions): Promise<PemPair> {
  const dnsNames = options.dnsNames ?? [];
  const ipAddresses = options.ipAddresses ?? [];
  checkCommonName(options.commonName);
  checkValidDays(options.validDays);
  checkDnsNames(dnsNames);
  checkIpAddresses(ipAddresses);
  const now = options.now ?? new Date();
  const authority = await loadCertificateAuthority(ca, now);
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(ca.certPem);
  const key = await generateSigningKey();

  const window = validityWindow(now, options.validDays);
  const caNotAfter = new Date(authority.cert.validTo);
  const notAfter = window.notAfter < caNotAfter ? window.notAfter : caNotAfter;

  const extensions: InstanceType<X509Module['Extension']>[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(extendedKeyUsages(x509, options.usage), false),
    await x509.SubjectKeyIdentifierExtension.create(key.publicKey),
    await authorityKeyIdentifier(x509, caCert),
  ];
  const names = [
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(randomBytes(16)),
    subject: [{ CN: [options.commonName] }],
    issuer: caCert.subjectName,
    notBefore: window.notBefore,
    notAfter,
    publicKey: key.publicKey,
    signingKey: authority.key.privateKey,
    signingAlgorithm: authority.key.signingAlgorithm,
    extensions,
  });
  return { certPem: cert.toString('pem'), keyPem: privateKeyToPem(key.privateKey) };
}

function extendedKeyUsages(x509: X509Module, usage: CertificateUsage): string[] {
  const { serverAuth, clientAuth } = x509.ExtendedKeyUsage;
  if (usage === 'server') return [serverAuth];
  if (usage === 'client') return [clientAuth];
  return [serverAuth, clientAuth];
}

/** Points at the CA's key: by its subject key identifier when it has one. */
async function authorityKeyIdentifier(
  x509: X509Module,
  caCert: InstanceType<X509Module['X509Certificate']>,
): Promise<InstanceType<X509Module['AuthorityKeyIdentifierExtension']>> {
  const ski = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski !== null) return new x509.AuthorityKeyIdentifierExtension(ski.keyId, false);
  return x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false);
}
