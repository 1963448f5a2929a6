// The TCP listener ([server] listen) with TLS, and with mTLS: who gets in and who
// does not, over gRPC and through couicctl in remote mode.
import test, { type ExecutionContext } from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { collect, connectTls, openClients, statusOf, unixEndpoint, type CouicClients } from '../helpers/clients.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { dropSpec, Policy } from '../helpers/rules.js';
import { makeTempDir } from '../helpers/tmp.js';
import { ChannelCredentials } from '@grpc/grpc-js';

const REFUSED = ['UNAVAILABLE', 'DEADLINE_EXCEEDED'];

function listenOf(daemon: Daemon): { host: string; port: number } {
  if (daemon.listen === undefined) throw new Error('no TCP listener');
  return daemon.listen;
}

function certsOf(daemon: Daemon): TestCerts {
  if (daemon.certs === undefined) throw new Error('no certificates');
  return daemon.certs;
}

/** One call with a deadline: a refused handshake must not hang the test. */
async function listStatus(api: CouicClients): Promise<{ code: string; details: string }> {
  return statusOf(collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: false }, { signal: AbortSignal.timeout(8_000) })));
}

async function otherCa(t: ExecutionContext): Promise<TestCerts> {
  return makeTestCerts(join(await makeTempDir(t, 'couic-ca2-'), 'certs'), 'another CA');
}

test('TLS listener: a client trusting the CA works, with the same rules as the Unix socket', async (t) => {
  const daemon = await startDaemon(t, { tls: true });
  const local = openClients(unixEndpoint(daemon.socketPath), daemon.adminToken);
  t.teardown(() => local.close());
  await local.rules.addRule({ rule: dropSpec('192.0.2.1/32', { tag: 'tls' }) });
  const certs = certsOf(daemon);
  const remote = connectTls(t, listenOf(daemon), { caPem: Buffer.from(certs.ca.certPem) }, daemon.adminToken);
  t.is((await remote.health.check({ service: '' })).status, 1);
  const listed = await collect(remote.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: ['tls'], includeSets: false }));
  t.deepEqual(listed.map((e) => e.cidr), ['192.0.2.1/32']);
  t.is((await remote.rules.addRule({ rule: dropSpec('192.0.2.2/32') })).entry?.cidr, '192.0.2.2/32');
});

test('TLS listener: a client trusting another CA is refused', async (t) => {
  const daemon = await startDaemon(t, { tls: true });
  const other = await otherCa(t);
  const remote = connectTls(t, listenOf(daemon), { caPem: Buffer.from(other.ca.certPem) }, daemon.adminToken);
  const result = await listStatus(remote);
  t.true(REFUSED.includes(result.code), `${result.code}: ${result.details}`);
});

test('TLS listener: a plaintext client gets nothing', async (t) => {
  const daemon = await startDaemon(t, { tls: true });
  const { host, port } = listenOf(daemon);
  const plain = openClients({ target: `${host}:${port}`, credentials: ChannelCredentials.createInsecure(), channelOptions: {} }, daemon.adminToken);
  t.teardown(() => plain.close());
  const result = await listStatus(plain);
  t.true(REFUSED.includes(result.code) || result.code === 'INTERNAL', `${result.code}: ${result.details}`);
  t.not(result.code, 'OK');
});

test('TLS listener still requires the bearer token', async (t) => {
  const daemon = await startDaemon(t, { tls: true });
  const remote = connectTls(t, listenOf(daemon), { caPem: Buffer.from(certsOf(daemon).ca.certPem) }, undefined);
  t.is((await listStatus(remote)).code, 'UNAUTHENTICATED');
});

test('mTLS: no client certificate is refused, another CA is refused, a good one works', async (t) => {
  const daemon = await startDaemon(t, { mtls: true });
  const certs = certsOf(daemon);
  const caPem = Buffer.from(certs.ca.certPem);
  const address = listenOf(daemon);

  const anonymous = connectTls(t, address, { caPem }, daemon.adminToken);
  const noCert = await listStatus(anonymous);
  t.true(REFUSED.includes(noCert.code), `no cert: ${noCert.code}: ${noCert.details}`);

  const other = await otherCa(t);
  const foreign = connectTls(t, address, { caPem, certPem: Buffer.from(other.client.certPem), keyPem: Buffer.from(other.client.keyPem) }, daemon.adminToken);
  const foreignResult = await listStatus(foreign);
  t.true(REFUSED.includes(foreignResult.code), `other CA: ${foreignResult.code}: ${foreignResult.details}`);

  const good = connectTls(t, address, { caPem, certPem: Buffer.from(certs.client.certPem), keyPem: Buffer.from(certs.client.keyPem) }, daemon.adminToken);
  const goodResult = await listStatus(good);
  t.is(goodResult.code, 'OK', goodResult.details);
  // The Unix socket is never subject to mTLS.
  const local = openClients(unixEndpoint(daemon.socketPath), daemon.adminToken);
  t.teardown(() => local.close());
  t.is((await listStatus(local)).code, 'OK');
});

async function remoteConfigs(daemon: Daemon): Promise<{ good: string; noCert: string }> {
  const certs = certsOf(daemon);
  const { host, port } = listenOf(daemon);
  const base = [
    'mode = "remote"',
    `host = ${JSON.stringify(host)}`,
    `port = ${port}`,
    'tls = true',
    `token = ${JSON.stringify(daemon.adminToken)}`,
    `ca = ${JSON.stringify(certs.caPath)}`,
    'server_name = "localhost"',
  ];
  const good = join(daemon.dir, 'remote.toml');
  await writeFile(good, [...base, `cert = ${JSON.stringify(certs.clientCertPath)}`, `key = ${JSON.stringify(certs.clientKeyPath)}`, ''].join('\n'), { mode: 0o600 });
  const noCert = join(daemon.dir, 'remote-nocert.toml');
  await writeFile(noCert, [...base, ''].join('\n'), { mode: 0o600 });
  return { good, noCert };
}

test('couicctl in remote mode over mTLS works with a client certificate, fails without', async (t) => {
  const daemon = await startDaemon(t, { mtls: true });
  const { good, noCert } = await remoteConfigs(daemon);
  const add = await runCli(undefined, ['drop', 'add', '198.51.100.0/24', '-t', 'remote'], { configPath: good });
  t.is(add.code, 0, add.stderr);
  const list = await runCli(undefined, ['drop', 'list', '-q', '-t', 'remote'], { configPath: good });
  t.is(list.stdout, '198.51.100.0/24\n');
  const refused = await runCli(undefined, ['drop', 'list'], { configPath: noCert });
  t.not(refused.code, 0);
  t.is(refused.stdout, '');
  t.regex(refused.stderr, /UNAVAILABLE/);
});

// Regression: the OpenSSL detail of a refused handshake carries a newline and used to
// make the error two lines long, blaming a stopped daemon.
test('couicctl without a client certificate on an mTLS listener prints one error line', async (t) => {
  const daemon = await startDaemon(t, { mtls: true });
  const { noCert } = await remoteConfigs(daemon);
  const refused = await runCli(undefined, ['drop', 'list'], { configPath: noCert });
  t.not(refused.code, 0);
  t.is(refused.stderr.trimEnd().split('\n').length, 1, refused.stderr);
  t.notRegex(refused.stderr, /is the daemon running/);
});
