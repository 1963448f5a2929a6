// Regression tests of issue 14, one per finding, against real daemons over the Unix
// socket and TLS (and, for the peer findings, a peer played by a probe or a real
// second daemon): hostile or broken input must never stall, brick or poison a node.
import test, { type ExecutionContext } from 'ava';
import { Client as GrpcClient, credentials as grpcCredentials, Metadata as GrpcMetadata, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { setsDirOf } from '../../src/sets/set-repository.js';
import { Policy } from '../../src/generated/couic/v1/entry.js';
import { Verdict } from '../../src/generated/couic/v1/rules.js';
import { collect, connectTls, connectUnix, expectGrpcError, statusOf, Status, type CouicClients } from '../helpers/clients.js';
import { addClientWithCli, makeClusterCerts, startCluster } from '../helpers/cluster.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { injectRecords, type ProbeOptions } from '../helpers/peering-probe.js';
import { dropSpec, eventually, v4Hosts } from '../helpers/rules.js';
import { openPausedWatch } from '../helpers/raw-watch.js';
import { makeTempDir } from '../helpers/tmp.js';

const WAIT_MS = 20_000;
const PATHOLOGICAL = '*a*a*a*a*a*a*a*a*a*a*a*a*b';

async function tlsDaemon(t: ExecutionContext, configExtra?: string) {
  const daemon = await startDaemon(t, { tls: true, ...(configExtra !== undefined ? { configExtra } : {}) });
  const listen = daemon.listen;
  const certs = daemon.certs;
  if (listen === undefined || certs === undefined) throw new Error('no TLS listener');
  const admin = connectUnix(t, daemon.socketPath, daemon.adminToken);
  const overTls = (token: string): CouicClients => connectTls(t, listen, { caPem: Buffer.from(certs.ca.certPem) }, token);
  return { daemon, admin, overTls, listen };
}

async function healthy(clients: CouicClients): Promise<boolean> {
  // A deadline so a stalled daemon fails the test instead of hanging it.
  const answer = await clients.health.check({ service: '' }, { signal: AbortSignal.timeout(5_000) });
  return answer.status === 1;
}

// ------------------------------------------------------------------------- finding 1

test('finding 1: a backtracking-hostile tag pattern from a read-only client neither stalls the daemon nor fails other callers (Unix and TLS)', async (t) => {
  const { daemon, admin, overTls } = await tlsDaemon(t);
  await admin.rules.addRule({ rule: dropSpec('192.0.2.1/32', { tag: 'a'.repeat(64) }) });
  await admin.rules.addRule({ rule: dropSpec('192.0.2.2/32', { tag: `${'a'.repeat(63)}b` }) });
  const { token } = await addClientWithCli(daemon, 'reader', 'clientro');
  for (const reader of [connectUnix(t, daemon.socketPath, token), overTls(token)]) {
    const listing = collect(reader.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [PATHOLOGICAL], includeSets: false }));
    const [entries, ok] = await Promise.all([listing, healthy(admin)]);
    t.deepEqual(entries.map((e) => e.cidr), ['192.0.2.2/32']);
    t.true(ok);
    // Patterns are bounded before any matching.
    await expectGrpcError(t, collect(reader.rules.listRules({ policy: 0, tags: [`*${'a*'.repeat(100)}`], includeSets: false })), Status.INVALID_ARGUMENT, /at most 128 characters/);
    await expectGrpcError(t, collect(reader.rules.listRules({ policy: 0, tags: [Array(65).fill('x').join(',')], includeSets: false })), Status.INVALID_ARGUMENT, /at most 64 patterns/);
  }
  t.true(await healthy(admin));
});

// ------------------------------------------------------------------------- finding 2

test('finding 2: a refused CreateSet/UpdateSet leaves nothing behind; a set file that does not fit is refused at start, the rest served', async (t) => {
  const daemon = await startDaemon(t);
  const api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  const dropDir = join(setsDirOf(daemon.workingDir), 'drop');
  const tooMany = v4Hosts(300_000, 20);
  await expectGrpcError(t, api.sets.createSet({ policy: Policy.POLICY_DROP, name: 'huge', cidrs: tooMany }), Status.RESOURCE_EXHAUSTED, /does not fit.*the set file was removed/);
  t.deepEqual(await readdir(dropDir), []);
  // The refusal left nothing: a normal set is accepted afterwards.
  await api.sets.createSet({ policy: Policy.POLICY_DROP, name: 'small', cidrs: ['198.51.100.0/24', '203.0.113.0/24'] });
  // An update that does not fit keeps the previous content, on disk and applied.
  await expectGrpcError(t, api.sets.updateSet({ policy: Policy.POLICY_DROP, name: 'small', cidrs: tooMany }), Status.RESOURCE_EXHAUSTED, /the set file was restored/);
  t.deepEqual((await api.sets.getSet({ policy: Policy.POLICY_DROP, name: 'small' })).set?.cidrs, ['198.51.100.0/24', '203.0.113.0/24']);
  t.is((await api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '198.51.100.0/24' })).entry?.tag, 'small.couic');

  // An admin drops an oversized file in by hand: the next start refuses that set only.
  await writeFile(join(dropDir, 'big.couic'), `${tooMany.join('\n')}\n`, { mode: 0o600 });
  await daemon.restart();
  t.true(await daemon.waitForOutput(/"set":"big".*set drop\/big refused: it does not fit/, WAIT_MS), 'the refusal was not logged');
  const restarted = connectUnix(t, daemon.socketPath, daemon.adminToken);
  t.true(await healthy(restarted));
  t.is((await restarted.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '203.0.113.0/24' })).entry?.tag, 'small.couic');
  await expectGrpcError(t, restarted.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '20.0.0.0/32' }), Status.NOT_FOUND);
  await expectGrpcError(t, restarted.sets.reloadSets({}), Status.RESOURCE_EXHAUSTED, /drop\/big do not fit.*the other sets were applied/);
  await restarted.rules.addRule({ rule: dropSpec('192.0.2.9/32') });
});

// ------------------------------------------------------------------------- findings 3 and 4

async function peerProbe(t: ExecutionContext, extra = '') {
  const dir = await makeTempDir(t, 'couic-hp-');
  const certs = await makeClusterCerts(join(dir, 'cluster'), ['node-a', 'node-b']);
  const own = certs.get('node-a');
  const peer = certs.get('node-b');
  if (own === undefined || peer === undefined) throw new Error('no certificates');
  const daemon = await startDaemon(t, { tls: true, metrics: true, certs: own, nodeId: 'node-a', configExtra: `[peering]\nenabled = true\n${extra}` });
  const listen = daemon.listen;
  if (listen === undefined) throw new Error('no listener');
  const { token } = await addClientWithCli(daemon, 'node-b', 'peering');
  const base: ProbeOptions = { host: '127.0.0.1', port: listen.port, caPem: peer.ca.certPem, certPem: peer.client.certPem, keyPem: peer.client.keyPem, token, nodeId: 'node-b' };
  return { daemon, base };
}

const liveRecord = (cidr: string, tag: string, wallMs: number, counter: number, origin: string) => ({
  policy: Policy.POLICY_DROP,
  cidr,
  version: { wallMs, counter, origin },
  tombstone: false,
  tag,
  expiration: 0,
  createdAt: Math.floor(Date.now() / 1000),
  originNode: origin,
  metadata: undefined,
  deletedExpiration: 0,
});

/** wall_ms of the version the node stamps on its next local write (read from a Watch upsert). */
async function nextLocalWallMs(api: CouicClients, cidr: string): Promise<number> {
  const abort = new AbortController();
  const stream = api.replication.watch({ policy: Policy.POLICY_UNSPECIFIED, tags: [], cursor: '' }, { signal: abort.signal });
  try {
    let added = false;
    for await (const response of stream) {
      for (const { event } of response.events) {
        if (event?.$case === 'snapshotEnd' && !added) {
          added = true;
          await api.rules.addRule({ rule: dropSpec(cidr) });
        }
        if (event?.$case === 'upsert' && event.value.entry?.cidr === cidr) return event.value.version?.wallMs ?? -1;
      }
    }
    return -1;
  } finally {
    abort.abort();
  }
}

test('finding 3: a peer record dated at the end of time is refused, logged with the peer, counted; the clock is not dragged', async (t) => {
  const { daemon, base } = await peerProbe(t);
  const api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  const result = await injectRecords({ ...base, records: [liveRecord('10.66.0.0/16', 'future', Number.MAX_SAFE_INTEGER, 0, 'node-b'), liveRecord('10.67.0.0/16', 'now', Date.now(), 0, 'node-b')] });
  t.true(result.acked, `${result.code} ${result.details}`);
  await expectGrpcError(t, api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '10.66.0.0/16' }), Status.NOT_FOUND);
  t.is((await api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '10.67.0.0/16' })).entry?.tag, 'now');
  t.true(await daemon.waitForOutput(/"peerNodeId":"node-b".*"refused":1.*refused 1 record\(s\) from this peer: version up to \d+ ms ahead/, WAIT_MS));
  const wallMs = await nextLocalWallMs(api, '192.0.2.77/32');
  t.true(wallMs > 0 && wallMs < Date.now() + 60_000, `the next local write got wall_ms ${wallMs}`);
  const metrics = await (await fetch(daemon.metricsUrl ?? '', { headers: { authorization: `Bearer ${daemon.adminToken}` } })).text();
  t.regex(metrics, /couic_replication_clock_offset_refused_total\{peer="node-b",kind="peer"\} 1/);
});

test('finding 4: a peer record with counter 2^32-1 cannot stop replication: the next write carries into wall_ms and every node converges', async (t) => {
  const nodes = await startCluster(t, { names: ['node-a', 'node-b'], links: [['node-b', 'node-a']] });
  const a = nodes.get('node-a');
  const b = nodes.get('node-b');
  if (a === undefined || b === undefined) return t.fail('cluster not started');
  const aListen = a.daemon.listen;
  if (aListen === undefined) return t.fail('no listener');
  const { token } = await addClientWithCli(a.daemon, 'node-c', 'peering');
  const wallMs = Date.now() + 30_000;
  const result = await injectRecords({
    host: '127.0.0.1',
    port: aListen.port,
    caPem: b.certs.ca.certPem,
    certPem: b.certs.client.certPem,
    keyPem: b.certs.client.keyPem,
    token,
    nodeId: 'node-c',
    records: [liveRecord('10.44.0.0/16', 'evil', wallMs, 4_294_967_295, 'node-c')],
  });
  t.true(result.acked, `${result.code} ${result.details}`);
  const tagOn = async (clients: CouicClients, cidr: string): Promise<string | undefined> => {
    const answer = await statusOf(clients.rules.getRule({ policy: Policy.POLICY_DROP, cidr }));
    if (answer.code !== 'OK') return undefined;
    return (await clients.rules.getRule({ policy: Policy.POLICY_DROP, cidr })).entry?.tag;
  };
  t.true(await eventually(async () => (await tagOn(b.clients, '10.44.0.0/16')) === 'evil', WAIT_MS), 'the record did not reach node-b');
  // A local write over it on node-b: its version must encode (counter carried into wall_ms) and reach node-a.
  await b.clients.rules.addRule({ rule: dropSpec('10.44.0.0/16', { tag: 'fixed' }) });
  t.true(await eventually(async () => (await tagOn(a.clients, '10.44.0.0/16')) === 'fixed', WAIT_MS), 'node-a kept a different tag');
  // Unrelated writes still flow both ways.
  await a.clients.rules.addRule({ rule: dropSpec('192.0.2.41/32') });
  await b.clients.rules.addRule({ rule: dropSpec('192.0.2.42/32') });
  t.true(await eventually(async () => (await tagOn(b.clients, '192.0.2.41/32')) === '' && (await tagOn(a.clients, '192.0.2.42/32')) === '', WAIT_MS));
  t.false(/could not send a/.test(a.daemon.output() + b.daemon.output()), 'a send failed');
});

// ------------------------------------------------------------------------- finding 5

test('finding 5: a 100,000-character address is refused at once, quoting a short prefix; calls on the same channel are unharmed (Unix and TLS)', async (t) => {
  const { daemon, admin, overTls } = await tlsDaemon(t);
  await admin.rules.addRule({ rule: dropSpec('192.0.2.5/32', { tag: 'keep' }) });
  const long = `1:${'1:'.repeat(50_000)}`.slice(0, 100_000);
  for (const api of [admin, overTls(daemon.adminToken)]) {
    const calls = [
      expectGrpcError(t, api.rules.checkAddress({ address: long }), Status.INVALID_ARGUMENT, /address: must be at most 64 characters \(got 100000: "1:1:1:/),
      api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '192.0.2.5/32' }),
      api.rules.checkAddress({ address: '192.0.2.5' }),
      expectGrpcError(t, api.rules.addRule({ rule: dropSpec(`${long}/32`) }), Status.INVALID_ARGUMENT, /cidr: must be at most 64 characters/),
      healthy(api),
    ] as const;
    const [refusal, got, checked, , ok] = await Promise.all(calls);
    t.true((refusal?.details.length ?? Infinity) < 200, `details of ${refusal?.details.length} characters`);
    t.is(got.entry?.tag, 'keep');
    t.is(checked.verdict, Verdict.VERDICT_DROP);
    t.true(ok);
  }
});

// ------------------------------------------------------------------------- finding 6

/** One unary call with raw bytes as the body. */
function rawCall(target: string, path: string, body: Buffer, token?: string): Promise<{ code: string; details: string }> {
  const client = new GrpcClient(target, grpcCredentials.createInsecure());
  const metadata = new GrpcMetadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, metadata, { deadline: Date.now() + 5_000 }, (error: ServiceError | null) => {
      client.close();
      resolve(error === null ? { code: 'OK', details: '' } : { code: Status[error.code] ?? String(error.code), details: error.details });
    });
  });
}

test('finding 6: undecodable bodies sent to grpc.health.v1.Health/Check are INVALID_ARGUMENT, never INTERNAL', async (t) => {
  const daemon = await startDaemon(t);
  const target = `unix:${daemon.socketPath}`;
  // Field 1 (service) announced 0x7f bytes long, with 1 present: cannot be decoded.
  const truncated = await rawCall(target, '/grpc.health.v1.Health/Check', Buffer.from([0x0a, 0x7f, 0x41]));
  t.is(truncated.code, 'INVALID_ARGUMENT', truncated.details);
  t.regex(truncated.details, /request: cannot be decoded/);
  const counts = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
      const outcome = await rawCall(target, '/grpc.health.v1.Health/Check', Buffer.from(bytes));
      counts.set(outcome.code, (counts.get(outcome.code) ?? 0) + 1);
      if (!['OK', 'INVALID_ARGUMENT', 'NOT_FOUND'].includes(outcome.code)) throw new Error(`${Buffer.from(bytes).toString('hex')} -> ${outcome.code}: ${outcome.details}`);
    }),
    { numRuns: 400, seed: 14 },
  );
  t.log(Object.fromEntries(counts));
  t.true((counts.get('INVALID_ARGUMENT') ?? 0) > 0);
});

// ------------------------------------------------------------------------- finding 7

test('finding 7: TCP connections that never complete the TLS handshake, or never send the HTTP/2 preface, are closed by the server', async (t) => {
  const { admin, listen } = await tlsDaemon(t);
  const closedByServer = (socket: import('node:net').Socket): Promise<void> =>
    new Promise((resolve) => {
      socket.on('error', () => undefined);
      // Read (and drop) whatever comes: a paused socket would never see the server's close.
      socket.resume();
      socket.once('close', () => resolve());
    });
  // 100 sockets that say nothing at all, and 20 that finish TLS (ALPN h2) and then say nothing.
  const silent = Array.from({ length: 100 }, () => closedByServer(netConnect(listen.port, '127.0.0.1')));
  const afterTls = Array.from({ length: 20 }, () => closedByServer(tlsConnect({ host: '127.0.0.1', port: listen.port, servername: 'localhost', ALPNProtocols: ['h2'], rejectUnauthorized: false })));
  await Promise.all([...silent, ...afterTls]);
  t.pass('every half-open connection was closed by the server');
  t.true(await healthy(admin));
});

// ------------------------------------------------------------------------- finding 8

function rssBytes(daemon: Daemon): Promise<number> {
  return readFile(`/proc/${daemon.process.pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+) kB/.exec(s)?.[1] ?? 0) * 1024);
}

test('finding 8: watchers that never read are ended at their pending-key bound and their memory is given back', async (t) => {
  const daemon = await startDaemon(t, { configExtra: '[replication]\nwatch_max_pending_keys = 5000' });
  const api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  const cidrs = v4Hosts(20_000, 30);
  const workload = async (): Promise<void> => {
    for (let round = 0; round < 2; round++) {
      await api.rules.addRules({ rules: cidrs.map((cidr) => dropSpec(cidr, { tag: `r${round}` })) });
    }
    await api.rules.deleteRules({ keys: cidrs.map((cidr) => ({ policy: Policy.POLICY_DROP, cidr })) });
  };
  // Baseline: the same changes without watchers, twice (the heap grows to its working
  // size, and the journal takes its first snapshot, before the figure is read).
  await workload();
  await workload();
  const before = await rssBytes(daemon);
  const watchers = await Promise.all(Array.from({ length: 30 }, () => openPausedWatch(daemon.socketPath, daemon.adminToken)));
  await workload();
  // Every paused watcher was ended by the server with RESOURCE_EXHAUSTED (seen once it reads again).
  const endings = await Promise.all(watchers.map((w) => w.drain()));
  for (const ending of endings) {
    t.is(ending.status, '8', `grpc-status ${ending.status}: ${ending.message}`);
    t.regex(ending.message, /fell more than 5000 changed keys behind/);
  }
  t.true(await healthy(api));
  const after = await rssBytes(daemon);
  t.log({ rssBeforeMb: Math.round(before / 2 ** 20), rssAfterMb: Math.round(after / 2 ** 20) });
  // RSS is a coarse figure (V8 keeps heap pages it grew into): seen +50-57 MiB here with
  // the bound working; 30 unbounded watchers of this workload would hold every changed key each.
  t.true(after < before + 128 * 2 ** 20, `RSS grew from ${before} to ${after}`);
  // A watcher that reads is served as before.
  const [first] = await collectFirst(api);
  t.is(first, 'snapshotBegin');
});

async function collectFirst(api: CouicClients): Promise<string[]> {
  const abort = new AbortController();
  try {
    for await (const response of api.replication.watch({ policy: 0, tags: [], cursor: '' }, { signal: abort.signal })) {
      return response.events.map((e) => e.event?.$case ?? '');
    }
    return [];
  } finally {
    abort.abort();
  }
}
