// Test certificates made with couic's own PKI (src/pki): a CA, a server certificate
// for localhost/127.0.0.1, and a client certificate, written as PEM files.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCertificateAuthority } from '../../src/pki/certificate-authority.js';
import { issueCertificate } from '../../src/pki/issue-certificate.js';
import type { PemPair } from '../../src/pki/pem-pair.js';

export interface TestCerts {
  readonly ca: PemPair;
  readonly server: PemPair;
  readonly client: PemPair;
  readonly caPath: string;
  readonly serverCertPath: string;
  readonly serverKeyPath: string;
  readonly clientCertPath: string;
  readonly clientKeyPath: string;
}

/** A new CA and server + client certificates signed by it, written under `dir`. */
export async function makeTestCerts(dir: string, caName = 'couic test CA'): Promise<TestCerts> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCertificateAuthority({ commonName: caName, validDays: 2 });
  const server = await issueCertificate(ca, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    validDays: 1,
    usage: 'server',
  });
  const client = await issueCertificate(ca, { commonName: 'test-client', validDays: 1, usage: 'client' });
  const paths = {
    caPath: join(dir, 'ca.pem'),
    serverCertPath: join(dir, 'server.pem'),
    serverKeyPath: join(dir, 'server-key.pem'),
    clientCertPath: join(dir, 'client.pem'),
    clientKeyPath: join(dir, 'client-key.pem'),
  };
  await writeFile(paths.caPath, ca.certPem, { mode: 0o644 });
  await writeFile(paths.serverCertPath, server.certPem, { mode: 0o644 });
  await writeFile(paths.serverKeyPath, server.keyPem, { mode: 0o600 });
  await writeFile(paths.clientCertPath, client.certPem, { mode: 0o644 });
  await writeFile(paths.clientKeyPath, client.keyPem, { mode: 0o600 });
  return { ca, server, client, ...paths };
}
