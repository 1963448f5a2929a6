// Proves the generated certificates are accepted by grpc-js's TLS stack for mutual
// TLS, which is what the API listener and the peer mesh use.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { createCertificateAuthority } from '../../../src/pki/certificate-authority.js';
import { issueCertificate } from '../../../src/pki/issue-certificate.js';
import type { PemPair } from '../../../src/pki/pem-pair.js';

const identity = (b: Buffer): Buffer => b;
const echoService: grpc.ServiceDefinition = {
  echo: {
    path: '/couic.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo');

const SANS = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] };
const fixture = (async () => {
  const ca = await createCertificateAuthority({ commonName: 'cluster CA', validDays: 2 });
  const otherCa = await createCertificateAuthority({ commonName: 'other CA', validDays: 2 });
  return {
    ca,
    couic1: await issueCertificate(ca, { commonName: 'couic1', ...SANS, validDays: 1, usage: 'both' }),
    couic2: await issueCertificate(ca, { commonName: 'couic2', ...SANS, validDays: 1, usage: 'both' }),
    foreign: await issueCertificate(otherCa, { commonName: 'intruder', ...SANS, validDays: 1, usage: 'both' }),
  };
})();

/** An mTLS echo server that answers with the verified client certificate's CN. */
async function startServer(t: import('ava').ExecutionContext, ca: PemPair, own: PemPair): Promise<number> {
  const server = new grpc.Server();
  server.addService(echoService, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const cn = call.getAuthContext().sslPeerCertificate?.subject.CN ?? '(none)';
      callback(null, Buffer.concat([Buffer.from(`${cn}:`), call.request]));
    },
  });
  const credentials = grpc.ServerCredentials.createSsl(
    Buffer.from(ca.certPem),
    [{ cert_chain: Buffer.from(own.certPem), private_key: Buffer.from(own.keyPem) }],
    true,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (err, bound) => (err === null ? resolve(bound) : reject(err))),
  );
  t.teardown(() => new Promise<void>((done) => server.tryShutdown(() => done())));
  return port;
}

/** One echo call; resolves with the reply or the gRPC status code of the failure. */
async function call(port: number, ca: PemPair, own: PemPair | undefined): Promise<{ reply?: string; code?: grpc.status }> {
  const credentials =
    own === undefined
      ? grpc.credentials.createSsl(Buffer.from(ca.certPem))
      : grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(own.keyPem), Buffer.from(own.certPem));
  // Dial the IP but check the certificate's DNS name (avoids Node's DEP0123 warning).
  const client = new EchoClient(`127.0.0.1:${port}`, credentials, { 'grpc.ssl_target_name_override': 'localhost' });
  try {
    return await new Promise((resolve) => {
      client.makeUnaryRequest(
        '/couic.test.Echo/Echo',
        identity,
        identity,
        Buffer.from('ping'),
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (err: grpc.ServiceError | null, reply?: Buffer) => resolve(err === null ? { reply: reply?.toString() ?? '' } : { code: err.code }),
      );
    });
  } finally {
    client.close();
  }
}

test('grpc-js mTLS works with node certificates, in both directions', async (t) => {
  const f = await fixture;
  const port1 = await startServer(t, f.ca, f.couic1);
  const port2 = await startServer(t, f.ca, f.couic2);
  t.deepEqual(await call(port1, f.ca, f.couic2), { reply: 'couic2:ping' });
  t.deepEqual(await call(port2, f.ca, f.couic1), { reply: 'couic1:ping' });
});

test('grpc-js refuses a client certificate from another CA', async (t) => {
  const f = await fixture;
  const port = await startServer(t, f.ca, f.couic1);
  t.deepEqual(await call(port, f.ca, f.foreign), { code: grpc.status.UNAVAILABLE });
  t.deepEqual(await call(port, f.ca, f.couic2), { reply: 'couic2:ping' }, 'the same server accepts a cluster certificate');
});

test('grpc-js refuses a client without a certificate', async (t) => {
  const f = await fixture;
  const port = await startServer(t, f.ca, f.couic1);
  t.deepEqual(await call(port, f.ca, undefined), { code: grpc.status.UNAVAILABLE });
  t.deepEqual(await call(port, f.ca, f.couic2), { reply: 'couic2:ping' }, 'the same server accepts a cluster certificate');
});
