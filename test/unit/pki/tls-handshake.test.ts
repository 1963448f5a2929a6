// Proves the generated certificates work in Node's TLS stack for mutual TLS, both
// ways round (node certificates serve and dial), and that a foreign CA or a missing
// client certificate is refused.

import test from 'ava';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { createCertificateAuthority } from '../../../src/pki/certificate-authority.js';
import { issueCertificate } from '../../../src/pki/issue-certificate.js';
import type { PemPair } from '../../../src/pki/pem-pair.js';

interface Fixture {
  ca: PemPair;
  couic1: PemPair;
  couic2: PemPair;
  clientOnly: PemPair;
  serverOnly: PemPair;
  foreign: PemPair;
}

const SANS = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] };

const fixture: Promise<Fixture> = (async () => {
  const ca = await createCertificateAuthority({ commonName: 'cluster CA', validDays: 2 });
  const otherCa = await createCertificateAuthority({ commonName: 'other CA', validDays: 2 });
  return {
    ca,
    couic1: await issueCertificate(ca, { commonName: 'couic1', ...SANS, validDays: 1, usage: 'both' }),
    couic2: await issueCertificate(ca, { commonName: 'couic2', ...SANS, validDays: 1, usage: 'both' }),
    clientOnly: await issueCertificate(ca, { commonName: 'admin', ...SANS, validDays: 1, usage: 'client' }),
    serverOnly: await issueCertificate(ca, { commonName: 'web', ...SANS, validDays: 1, usage: 'server' }),
    foreign: await issueCertificate(otherCa, { commonName: 'intruder', ...SANS, validDays: 1, usage: 'both' }),
  };
})();

interface TestServer {
  port: number;
  /** Resolves with the server's reason for the next refused handshake. */
  nextRefusal(): Promise<string>;
}

/** An mTLS server that greets each verified client with its certificate CN. */
async function startServer(t: import('ava').ExecutionContext, ca: PemPair, own: PemPair, rejectUnauthorized = true): Promise<TestServer> {
  const options = { cert: own.certPem, key: own.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized };
  const server = tls.createServer(options, (socket) => {
    // Only a lenient server (rejectUnauthorized false) gets here with an unverified client.
    const cn = String(socket.getPeerCertificate().subject?.CN);
    socket.end(socket.authorized ? `hello ${cn}` : `unverified ${cn}: ${String(socket.authorizationError)}`);
  });
  const refusals: string[] = [];
  const waiting: Array<(reason: string) => void> = [];
  server.on('tlsClientError', (err: Error) => {
    const next = waiting.shift();
    if (next === undefined) refusals.push(err.message);
    else next(err.message);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((done) => server.close(() => done())));
  return {
    port: (server.address() as AddressInfo).port,
    nextRefusal: () => {
      const ready = refusals.shift();
      return ready === undefined ? new Promise((resolve) => waiting.push(resolve)) : Promise.resolve(ready);
    },
  };
}

type Outcome = { ok: true; greeting: string } | { ok: false; error: string };

/** Connects and reads the greeting; any error or a close without greeting is a refusal. */
function dial(port: number, ca: PemPair, own: PemPair | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: ca.certPem,
      ...(own === undefined ? {} : { cert: own.certPem, key: own.keyPem }),
    });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', (err) => resolve({ ok: false, error: err.message }));
    socket.on('close', () => resolve(data === '' ? { ok: false, error: 'closed without greeting' } : { ok: true, greeting: data }));
  });
}

test('node certificates authenticate each other over mTLS, in both directions', async (t) => {
  const f = await fixture;
  const server1 = await startServer(t, f.ca, f.couic1);
  const server2 = await startServer(t, f.ca, f.couic2);
  t.deepEqual(await dial(server1.port, f.ca, f.couic2), { ok: true, greeting: 'hello couic2' });
  t.deepEqual(await dial(server2.port, f.ca, f.couic1), { ok: true, greeting: 'hello couic1' });
});

test('a client-only certificate can dial', async (t) => {
  const f = await fixture;
  const server = await startServer(t, f.ca, f.couic1);
  t.deepEqual(await dial(server.port, f.ca, f.clientOnly), { ok: true, greeting: 'hello admin' });
});

test('a client certificate from another CA is refused', async (t) => {
  const f = await fixture;
  const server = await startServer(t, f.ca, f.couic1);
  const refusal = server.nextRefusal();
  const outcome = await dial(server.port, f.ca, f.foreign);
  t.false(outcome.ok, JSON.stringify(outcome));
  // Node drops such a connection without saying why; a lenient server shows the reason.
  t.truthy(await refusal);
  const lenient = await startServer(t, f.ca, f.couic1, false);
  t.deepEqual(await dial(lenient.port, f.ca, f.foreign), { ok: true, greeting: 'unverified intruder: UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
});

test('a client without a certificate is refused', async (t) => {
  const f = await fixture;
  const server = await startServer(t, f.ca, f.couic1);
  const refusal = server.nextRefusal();
  const outcome = await dial(server.port, f.ca, undefined);
  t.false(outcome.ok, JSON.stringify(outcome));
  t.regex(await refusal, /did not return a certificate|certificate required/i);
});

test('a server with a certificate from another CA is refused by the client', async (t) => {
  const f = await fixture;
  const server = await startServer(t, f.ca, f.foreign);
  const outcome = await dial(server.port, f.ca, f.couic1);
  t.false(outcome.ok);
  if (!outcome.ok) t.regex(outcome.error, /self.signed|unable to (get|verify)/i);
});

test('a client-only certificate cannot serve (extended key usage is enforced)', async (t) => {
  const f = await fixture;
  const server = await startServer(t, f.ca, f.clientOnly);
  const outcome = await dial(server.port, f.ca, f.couic1);
  t.false(outcome.ok);
  if (!outcome.ok) t.regex(outcome.error, /certificate purpose/i);
});

test('a server-only certificate cannot dial (why node certificates carry both usages)', async (t) => {
  const f = await fixture;
  const lenient = await startServer(t, f.ca, f.couic1, false);
  t.deepEqual(await dial(lenient.port, f.ca, f.serverOnly), { ok: true, greeting: 'unverified web: INVALID_PURPOSE' });
  const strict = await startServer(t, f.ca, f.couic1);
  const outcome = await dial(strict.port, f.ca, f.serverOnly);
  t.false(outcome.ok, JSON.stringify(outcome));
});
