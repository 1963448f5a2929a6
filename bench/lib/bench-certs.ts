// A throwaway CA and one server certificate for 127.0.0.1/localhost, made with couic's
// own PKI for a benchmark's TLS listeners (daemon and echo use the same certificate).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeCertificates } from '../../src/pki/make-certificates.js';

export interface BenchCerts {
  readonly caPath: string;
  readonly caPem: Buffer;
  readonly certPath: string;
  readonly keyPath: string;
  /** A DNS name in the certificate, for the client's target name override. */
  readonly serverName: string;
}

export async function makeBenchCerts(dir: string): Promise<BenchCerts> {
  const written = await makeCertificates({ outDir: join(dir, 'certs'), nodes: ['localhost'], ipAddresses: ['127.0.0.1'], validDays: 2, caValidDays: 2 });
  const ca = written.find((c) => c.kind === 'ca');
  const node = written.find((c) => c.kind === 'node');
  if (ca === undefined || node === undefined) throw new Error('bench: certificates were not written');
  return { caPath: ca.certPath, caPem: await readFile(ca.certPath), certPath: node.certPath, keyPath: node.keyPath, serverName: 'localhost' };
}
