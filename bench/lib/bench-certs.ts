// A throwaway CA and a server certificate for 127.0.0.1/localhost (the test kit's,
// test/helpers/certs.ts) for a benchmark's TLS listeners: daemon and echo use the same one.
import { join } from 'node:path';
import { makeTestCerts, type TestCerts } from '../../test/helpers/certs.js';

export type BenchCerts = TestCerts;

/** A DNS name in the server certificate, for the client's target name override. */
export const BENCH_SERVER_NAME = 'localhost';

export function makeBenchCerts(dir: string): Promise<BenchCerts> {
  return makeTestCerts(join(dir, 'certs'), 'couic bench CA');
}

/** What a client needs to dial a TLS listener serving `certs` on `port`. */
export function tlsEndpointOf(certs: BenchCerts, port: number): { transport: 'tls'; port: number; caPem: Buffer; serverName: string } {
  return { transport: 'tls', port, caPem: Buffer.from(certs.ca.certPem), serverName: BENCH_SERVER_NAME };
}
