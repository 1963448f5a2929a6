// Who may replicate into a node: a Sync caller needs a client certificate signed by
// the cluster CA (even with `[server] mtls = false`) and a token of the peering (or
// admin) group. Every refusal is a clear status for the caller and a log line on the
// refusing node; between real daemons, the dialer logs it too and nothing changes.
import test, { type ExecutionContext } from 'ava';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Policy } from '../../src/generated/couic/v1/entry.js';
import { collect, connectUnix } from '../helpers/clients.js';
import { makeTestCerts } from '../helpers/certs.js';
import { addClientWithCli, makeClusterCerts, peeringBlock, startCluster } from '../helpers/cluster.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { probeSync, type ProbeOptions } from '../helpers/peering-probe.js';
import { dropSpec, eventually } from '../helpers/rules.js';
import { makeTempDir } from '../helpers/tmp.js';

const WAIT_MS = 20_000;

async function peeringNode(t: ExecutionContext, mtls = false) {
  const dir = await makeTempDir(t, 'couic-pa-');
  const certs = await makeClusterCerts(join(dir, 'cluster'), ['node-a', 'node-b']);
  const own = certs.get('node-a');
  const peer = certs.get('node-b');
  if (own === undefined || peer === undefined) throw new Error('no certificates');
  const daemon = await startDaemon(t, { tls: true, mtls, certs: own, nodeId: 'node-a', configExtra: '[peering]\nenabled = true' });
  const listen = daemon.listen;
  if (listen === undefined) throw new Error('no listener');
  const { token } = await addClientWithCli(daemon, 'node-b', 'peering');
  const { token: rwToken } = await addClientWithCli(daemon, 'writer', 'clientrw');
  const base: ProbeOptions = {
    host: '127.0.0.1',
    port: listen.port,
    caPem: peer.ca.certPem,
    certPem: peer.client.certPem,
    keyPem: peer.client.keyPem,
    token,
    nodeId: 'node-b',
  };
  return { daemon, base, rwToken, dir };
}

/** A "peer refused" log line whose fields (logged before msg) match `reason`. */
function refusedLine(daemon: Daemon, reason: RegExp): Promise<boolean> {
  return daemon.waitForOutput(new RegExp(`${reason.source}.*"msg":"peer refused"`), WAIT_MS);
}

test('a peer with a valid certificate and peering token gets a hello', async (t) => {
  const { base } = await peeringNode(t);
  const result = await probeSync(base);
  t.is(result.code, 'OK', result.details);
  t.is(result.first?.message?.$case === 'hello' ? result.first.message.value.nodeId : undefined, 'node-a');
});

test('no client certificate: UNAUTHENTICATED, even with mtls = false, and logged', async (t) => {
  const { daemon, base } = await peeringNode(t);
  const { certPem: _c, keyPem: _k, ...withoutCert } = base;
  const result = await probeSync(withoutCert);
  t.is(result.code, 'UNAUTHENTICATED');
  t.regex(result.details, /Sync requires a client certificate signed by the cluster CA/);
  t.true(await refusedLine(daemon, /client certificate signed by the cluster CA/));
});

test('a client certificate from an unknown CA: UNAUTHENTICATED and logged', async (t) => {
  const { daemon, base, dir } = await peeringNode(t);
  const stranger = await makeTestCerts(join(dir, 'stranger'), 'some other CA');
  const result = await probeSync({ ...base, certPem: stranger.client.certPem, keyPem: stranger.client.keyPem });
  t.is(result.code, 'UNAUTHENTICATED');
  t.regex(result.details, /did not verify/);
  t.true(await refusedLine(daemon, /"code":"unauthenticated"/));
});

test('with mtls = true, a certificate from an unknown CA fails the handshake', async (t) => {
  const { base, dir } = await peeringNode(t, true);
  const stranger = await makeTestCerts(join(dir, 'stranger'), 'some other CA');
  const result = await probeSync({ ...base, certPem: stranger.client.certPem, keyPem: stranger.client.keyPem, timeoutMs: 10_000 });
  t.is(result.code, 'UNAVAILABLE', result.details);
});

test('missing and wrong tokens: UNAUTHENTICATED and logged', async (t) => {
  const { daemon, base } = await peeringNode(t);
  const { token: _t, ...withoutToken } = base;
  const missing = await probeSync(withoutToken);
  t.is(missing.code, 'UNAUTHENTICATED');
  t.regex(missing.details, /missing "authorization: Bearer <token>"/);
  const wrong = await probeSync({ ...base, token: '00000000-0000-4000-8000-000000000000' });
  t.is(wrong.code, 'UNAUTHENTICATED');
  t.regex(wrong.details, /unknown token/);
  t.true(await refusedLine(daemon, /unknown token/));
});

test('wrong group: PERMISSION_DENIED and logged', async (t) => {
  const { daemon, base, rwToken } = await peeringNode(t);
  const result = await probeSync({ ...base, token: rwToken });
  t.is(result.code, 'PERMISSION_DENIED');
  t.regex(result.details, /client "writer" \(group clientrw\) may not peering/);
  t.true(await refusedLine(daemon, /"code":"permission-denied"/));
});

test('a peer announcing the node\'s own id is refused', async (t) => {
  const { base } = await peeringNode(t);
  const result = await probeSync({ ...base, nodeId: 'node-a', untilEnd: true });
  t.is(result.code, 'FAILED_PRECONDITION');
  t.regex(result.details, /cannot peer with itself/);
});

test('between daemons: a wrong token, a wrong group or an unknown CA is refused on both sides and nothing replicates', async (t) => {
  // Two nodes linked correctly one way (b -> a) and wrongly the other (a -> b with a clientro token);
  // a third node with certificates from another CA dials a.
  const nodes = await startCluster(t, { names: ['node-a', 'node-b'], links: [['node-b', 'node-a']] });
  const a = nodes.get('node-a');
  const b = nodes.get('node-b');
  if (a === undefined || b === undefined) return t.fail('cluster not started');
  const bListen = b.daemon.listen;
  const aListen = a.daemon.listen;
  if (bListen === undefined || aListen === undefined) return t.fail('no listeners');
  // node-c: its own CA, dials node-a with a valid peering token of node-a.
  const dir = await makeTempDir(t, 'couic-pc-');
  const other = await makeClusterCerts(join(dir, 'other'), ['node-c']);
  const { token: cToken } = await addClientWithCli(a.daemon, 'node-c', 'peering');
  const c = await startDaemon(t, {
    tls: true,
    ...(other.get('node-c') !== undefined ? { certs: other.get('node-c') } : {}),
    nodeId: 'node-c',
    configExtra: peeringBlock([{ host: 'localhost', port: aListen.port, token: cToken }]),
  });
  const cClients = connectUnix(t, c.socketPath, c.adminToken);

  // Wrong group: node-a dials node-b with a clientro token; logged on both sides.
  const { token: roToken } = await addClientWithCli(b.daemon, 'node-a', 'clientro');
  await appendFile(a.daemon.configPath, `\n[[peering.peers]]\nhost = "localhost"\nport = ${bListen.port}\ntls = true\ntoken = "${roToken}"\n`);
  await a.daemon.restart();
  t.true(await a.daemon.waitForOutput(/PERMISSION_DENIED.*"msg":"peer link refused by the peer"/, WAIT_MS), 'dialer did not log the refusal');
  t.true(await b.daemon.waitForOutput(/may not peering.*"msg":"peer refused"/, WAIT_MS), 'refusing node did not log');
  // Unknown CA: node-c cannot verify node-a's certificate.
  t.true(await c.waitForOutput(/"msg":"peer link refused: TLS handshake failed"/, WAIT_MS), 'node-c did not log the TLS failure');

  // The correct link (b -> a) works; node-c changes nothing anywhere, nor does it learn anything.
  await cClients.rules.addRule({ rule: dropSpec('203.0.113.0/24') });
  await b.clients.rules.addRule({ rule: dropSpec('198.51.100.0/24') });
  t.true(
    await eventually(async () => {
      const entries = await collect(a.clients.rules.listRules({ policy: Policy.POLICY_DROP, tags: [], includeSets: false }));
      return entries.some((e) => e.cidr === '198.51.100.0/24');
    }, WAIT_MS),
  );
  // The good link has had time to carry everything; a and b never see node-c's rule, node-c never sees theirs.
  await a.clients.rules.addRule({ rule: dropSpec('192.0.2.0/24') });
  t.true(
    await eventually(async () => {
      const entries = await collect(b.clients.rules.listRules({ policy: Policy.POLICY_DROP, tags: [], includeSets: false }));
      return entries.some((e) => e.cidr === '192.0.2.0/24');
    }, WAIT_MS),
    'the working link should carry a -> b too (one bidirectional exchange)',
  );
  for (const clients of [a.clients, b.clients]) {
    const entries = await collect(clients.rules.listRules({ policy: Policy.POLICY_DROP, tags: [], includeSets: false }));
    t.false(entries.some((e) => e.cidr === '203.0.113.0/24'));
  }
  const cEntries = await collect(cClients.rules.listRules({ policy: Policy.POLICY_DROP, tags: [], includeSets: false }));
  t.deepEqual(
    cEntries.map((e) => e.cidr),
    ['203.0.113.0/24'],
  );
});

test('issue 14 (9): a peer announcing a node id not bound to its peering client is refused and logged', async (t) => {
  const { daemon, base } = await peeringNode(t);
  const { token } = await addClientWithCli(daemon, 'c-peer2', 'peering');
  const impostor = await probeSync({ ...base, token, nodeId: 'auth1-impostor', untilEnd: true });
  t.is(impostor.code, 'PERMISSION_DENIED');
  t.regex(impostor.details, /node id "auth1-impostor", which is not bound to its credentials: its peering client is "c-peer2"/);
  t.true(await daemon.waitForOutput(/"peerNodeId":"auth1-impostor".*"msg":"inbound peer refused: peer announced node id/, WAIT_MS));
  // Its own name, or the id derived from a host of that name, is accepted.
  for (const nodeId of ['c-peer2', 'c-peer2-0a1b2c3d']) {
    const own = await probeSync({ ...base, token, nodeId });
    t.is(own.code, 'OK', `${nodeId}: ${own.details}`);
  }
});

test('issue 14 (9): between daemons, a node id that does not match the peering client is refused on both sides', async (t) => {
  const dir = await makeTempDir(t, 'couic-pb-');
  const certs = await makeClusterCerts(join(dir, 'cluster'), ['node-a', 'node-b']);
  const a = await startDaemon(t, { tls: true, certs: certs.get('node-a'), nodeId: 'node-a', configExtra: '[peering]\nenabled = true' });
  const aListen = a.listen;
  if (aListen === undefined) return t.fail('no listener');
  // node-b holds valid credentials (certificate, token of client "node-b") but calls itself "auth1-impostor".
  const { token } = await addClientWithCli(a, 'node-b', 'peering');
  const b = await startDaemon(t, {
    tls: true,
    certs: certs.get('node-b'),
    nodeId: 'auth1-impostor',
    configExtra: peeringBlock([{ host: 'localhost', port: aListen.port, token }]),
  });
  t.true(await a.waitForOutput(/"msg":"inbound peer refused: peer announced node id \\"auth1-impostor\\", which is not bound/, WAIT_MS), 'refusing node did not log');
  t.true(await b.waitForOutput(/PERMISSION_DENIED: peer announced node id.*"msg":"peer link refused by the peer"/, WAIT_MS), 'dialer did not log the refusal');
  await connectUnix(t, b.socketPath, b.adminToken).rules.addRule({ rule: dropSpec('203.0.113.0/24') });
  const aEntries = await collect(connectUnix(t, a.socketPath, a.adminToken).rules.listRules({ policy: Policy.POLICY_DROP, tags: [], includeSets: false }));
  t.false(aEntries.some((e) => e.cidr === '203.0.113.0/24'));
});
