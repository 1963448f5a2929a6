// Daemon lifecycle: one daemon per socket (a live socket refuses a second daemon, a
// stale one is replaced), clean stop on SIGTERM/SIGINT (repeated signals during the
// stop), SIGHUP log reopening, config errors naming the key, first-start files, the
// standard health and reflection services, and the `npm start` launcher.
import test, { type ExecutionContext } from 'ava';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { create, createFileRegistry, fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { type ClientDuplexStream, Client as GrpcClient, type ChannelCredentials, credentials, loadPackageDefinition, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { connectUnix } from '../helpers/clients.js';
import { daemonConfigToml, freePort, readClientToken, REPO_ROOT, runDaemonToExit, startDaemon, waitExit } from '../helpers/daemon.js';
import { listServices, reflect } from '../helpers/reflection.js';
import { dropSpec, Policy } from '../helpers/rules.js';
import { makeTempDir } from '../helpers/tmp.js';

test('a second daemon on a live socket refuses to start; the first keeps serving', async (t) => {
  const first = await startDaemon(t);
  const api = connectUnix(t, first.socketPath, first.adminToken);
  await api.rules.addRule({ rule: dropSpec('192.0.2.1/32') });
  const dir = await makeTempDir(t, 'couic-2nd-');
  const configPath = join(dir, 'couic.toml');
  await writeFile(configPath, daemonConfigToml({ workingDir: join(dir, 'work'), socketPath: first.socketPath }));
  const second = await runDaemonToExit(configPath);
  t.false(second.timedOut, 'the second daemon must exit by itself');
  t.not(second.code, 0);
  t.regex(second.stdout + second.stderr, /already|in use|another/i);
  t.regex(second.stdout + second.stderr, new RegExp(first.socketPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  // The first daemon still owns its socket and state.
  t.is((await api.health.check({ service: '' })).status, 1);
  t.is((await api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '192.0.2.1/32' })).entry?.cidr, '192.0.2.1/32');
});

test('a stale socket left by a SIGKILLed daemon is replaced at the next start', async (t) => {
  const daemon = await startDaemon(t);
  const killed = await daemon.kill();
  t.is(killed.signal, 'SIGKILL');
  t.true((await stat(daemon.socketPath)).isSocket(), 'the killed daemon left its socket file behind');
  await daemon.restart();
  const api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  t.is((await api.health.check({ service: '' })).status, 1);
  t.true(await daemon.waitForOutput(/stale|replac/i), 'the replacement of the stale socket is logged');
});

test('SIGTERM stops the daemon cleanly with exit code 0', async (t) => {
  const daemon = await startDaemon(t);
  const exit = await daemon.stop();
  t.deepEqual(exit, { code: 0, signal: null });
});

test('SIGINT stops the daemon cleanly with exit code 0', async (t) => {
  const daemon = await startDaemon(t);
  daemon.process.kill('SIGINT');
  t.deepEqual(await waitExit(daemon.process, 30_000), { code: 0, signal: null });
});

test('a regular file in place of the socket is not deleted; the daemon refuses to start', async (t) => {
  const dir = await makeTempDir(t, 'couic-f-');
  const socketPath = join(dir, 'couic.sock');
  await writeFile(socketPath, 'precious');
  const configPath = join(dir, 'couic.toml');
  await writeFile(configPath, daemonConfigToml({ workingDir: join(dir, 'work'), socketPath }));
  const run = await runDaemonToExit(configPath);
  t.false(run.timedOut);
  t.not(run.code, 0);
  t.true((await stat(socketPath)).isFile());
});

const badConfigs: ReadonlyArray<[string, (dir: string) => string, RegExp]> = [
  ['unknown top-level key', (dir) => daemonConfigToml({ workingDir: join(dir, 'work'), socketPath: join(dir, 's.sock'), rootExtra: 'bogus_key = 1' }), /bogus_key/],
  ['unknown key in a table', (dir) => daemonConfigToml({ workingDir: join(dir, 'work'), socketPath: join(dir, 's.sock'), configExtra: '[persistence]\nflush_intervall_ms = 5' }), /flush_intervall_ms/],
  ['unknown table', (dir) => daemonConfigToml({ workingDir: join(dir, 'work'), socketPath: join(dir, 's.sock'), configExtra: '[bogus_table]\nx = 1' }), /bogus_table/],
  ['bad value', (dir) => daemonConfigToml({ workingDir: join(dir, 'work'), socketPath: join(dir, 's.sock'), configExtra: '[persistence]\nflush_interval_ms = "fast"' }), /flush_interval_ms/],
  ['wrong type', (dir) => daemonConfigToml({ workingDir: join(dir, 'work'), socketPath: join(dir, 's.sock'), configExtra: '[peering]\nenabled = "yes"' }), /enabled/],
  ['listen without TLS material', (dir) => `working_dir = ${JSON.stringify(join(dir, 'work'))}\n[server]\nsocket = ${JSON.stringify(join(dir, 's.sock'))}\nlisten = "127.0.0.1:0"\n`, /listen|tls/],
  ['not TOML at all', () => 'this is = = not toml\n[', /toml|line/i],
];

for (const [why, config, key] of badConfigs) {
  test(`bad config (${why}) stops the daemon at start with a message naming it`, async (t) => {
    const dir = await makeTempDir(t, 'couic-c-');
    const configPath = join(dir, 'couic.toml');
    await writeFile(configPath, config(dir));
    const run = await runDaemonToExit(configPath);
    t.false(run.timedOut, 'exits by itself');
    t.not(run.code, 0);
    t.regex(run.stdout + run.stderr, key);
    await t.throwsAsync(stat(join(dir, 's.sock')), { code: 'ENOENT' }, 'never started serving');
  });
}

test('a missing config file is reported with its path', async (t) => {
  const dir = await makeTempDir(t, 'couic-c-');
  const run = await runDaemonToExit(join(dir, 'nope.toml'));
  t.not(run.code, 0);
  t.regex(run.stdout + run.stderr, /nope\.toml/);
});

test('first start creates the couicctl admin client file, private, with a UUIDv4 token', async (t) => {
  const daemon = await startDaemon(t);
  const file = join(daemon.workingDir, 'rbac', 'clients', 'couicctl.toml');
  t.is((await stat(file)).mode & 0o777, 0o600);
  t.regex(await readClientToken(daemon.workingDir), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  t.is((await api.clients.getClient({ name: 'couicctl' })).client?.group, 'admin');
});

test('health answers SERVING without a token', async (t) => {
  const daemon = await startDaemon(t);
  const anonymous = connectUnix(t, daemon.socketPath, undefined);
  t.is((await anonymous.health.check({ service: '' })).status, 1);
});

test('server reflection lists the couic services and serves their descriptors', async (t) => {
  const daemon = await startDaemon(t);
  const services = await listServices(daemon.socketPath);
  for (const name of ['couic.v1.RulesService', 'couic.v1.ClientsService', 'couic.v1.SetsService', 'couic.v1.StatsService']) {
    t.true(services.includes(name), `${name} in ${services.join(', ')}`);
  }
  const file = await reflect(daemon.socketPath, { file_containing_symbol: 'couic.v1.RulesService' });
  t.true((file.file_descriptor_response?.file_descriptor_proto.length ?? 0) > 0, JSON.stringify(file.error_response));
  const descriptor = Buffer.concat(file.file_descriptor_response?.file_descriptor_proto ?? []).toString('latin1');
  t.true(descriptor.includes('CheckAddress'));
});

test('[logging] dir sends the logs to a file in that directory instead of stdout', async (t) => {
  const dir = await makeTempDir(t, 'couic-l-');
  const logDir = join(dir, 'logs');
  const daemon = await startDaemon(t, { loggingExtra: `dir = ${JSON.stringify(logDir)}` });
  const api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  await api.rules.addRule({ rule: dropSpec('192.0.2.9/32', { tag: 'tofile' }) });
  await daemon.stop();
  const files = await readdir(logDir);
  t.true(files.length > 0, 'a log file was created');
  const text = (await Promise.all(files.map((f) => readFile(join(logDir, f), 'utf8')))).join('');
  t.regex(text, /192\.0\.2\.9\/32/);
  t.notRegex(daemon.output(), /192\.0\.2\.9\/32/, 'rule changes are not on stdout');
});

test('[logging] format = "pretty" prints human one-line records', async (t) => {
  const daemon = await startDaemon(t, { loggingExtra: 'format = "pretty"' });
  const api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  await api.rules.addRule({ rule: dropSpec('192.0.2.10/32', { tag: 'pretty' }) });
  await daemon.stop();
  const lines = daemon
    .output()
    .split('\n')
    .filter((l) => l.startsWith('[out] ') || l.startsWith('[err] '))
    .map((l) => l.slice(6));
  t.true(lines.length > 0);
  t.false(lines.some((l) => l.startsWith('{')), 'no JSON records');
  t.true(lines.some((l) => l.includes('192.0.2.10/32')));
});

/** Opens a Watch stream and reads it until the first message: the stop then has to end it. */
async function openWatch(t: ExecutionContext, socketPath: string, token: string): Promise<void> {
  const api = connectUnix(t, socketPath, token);
  const stream = api.replication.watch({})[Symbol.asyncIterator]();
  await stream.next();
  // Keep reading in the background so the stream stays open until the server ends it.
  void (async () => {
    try {
      for (;;) if ((await stream.next()).done === true) return;
    } catch {
      // the daemon went away
    }
  })();
}

test('a second SIGINT during the stop is logged and does not interrupt it (Ctrl-C under npm start)', async (t) => {
  const daemon = await startDaemon(t);
  // An open Watch stream holds the graceful gRPC shutdown up to its 2 s limit: the stop lasts.
  await openWatch(t, daemon.socketPath, daemon.adminToken);
  daemon.process.kill('SIGINT');
  t.true(await daemon.waitForOutput(/"msg":"stopping"/), 'the stop started');
  daemon.process.kill('SIGINT');
  t.deepEqual(await waitExit(daemon.process, 30_000), { code: 0, signal: null });
  t.regex(daemon.output(), /already stopping/);
  t.regex(daemon.output(), /"msg":"stopped"/);
  await t.throwsAsync(stat(daemon.socketPath), { code: 'ENOENT' }, 'the socket is removed');
});

test('a third signal during the stop forces the exit, logged', async (t) => {
  const daemon = await startDaemon(t);
  await openWatch(t, daemon.socketPath, daemon.adminToken);
  daemon.process.kill('SIGTERM');
  t.true(await daemon.waitForOutput(/"msg":"stopping"/));
  daemon.process.kill('SIGTERM');
  t.true(await daemon.waitForOutput(/already stopping/));
  daemon.process.kill('SIGTERM');
  t.deepEqual(await waitExit(daemon.process, 30_000), { code: 130, signal: null });
  t.regex(daemon.output(), /forced exit during stop/);
});

test('SIGHUP reopens the [logging] dir file after logrotate moved it', async (t) => {
  const dir = await makeTempDir(t, 'couic-hup-');
  const logDir = join(dir, 'logs');
  const daemon = await startDaemon(t, { loggingExtra: `dir = ${JSON.stringify(logDir)}` });
  const api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  await api.rules.addRule({ rule: dropSpec('192.0.2.21/32') });
  await rename(join(logDir, 'couic.log'), join(logDir, 'couic.log.1'));
  daemon.process.kill('SIGHUP');
  // The reopen is logged into the new file: wait for that file to say so.
  await waitForFileText(join(logDir, 'couic.log'), /log file reopened/);
  await api.rules.addRule({ rule: dropSpec('192.0.2.22/32') });
  t.deepEqual(await daemon.stop(), { code: 0, signal: null });
  const rotated = await readFile(join(logDir, 'couic.log.1'), 'utf8');
  const current = await readFile(join(logDir, 'couic.log'), 'utf8');
  t.regex(rotated, /192\.0\.2\.21\/32/);
  t.notRegex(rotated, /192\.0\.2\.22\/32/);
  t.regex(current, /192\.0\.2\.22\/32/);
});

/** Polls a file (the daemon writes it asynchronously; no event to wait on) within a bounded time. */
async function waitForFileText(path: string, pattern: RegExp, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (pattern.test(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${path} never matched ${pattern}`);
}

/** `npm start`'s launcher (scripts/dev-daemon.js) in a temp dir, on free loopback ports. */
async function startLauncher(t: ExecutionContext, listenPort: number): Promise<{ child: ChildProcess; dir: string; output: () => string; waitFor: (p: RegExp) => Promise<boolean> }> {
  const dir = await makeTempDir(t, 'couic-dev-');
  const child = spawn(process.execPath, [join(REPO_ROOT, 'scripts', 'dev-daemon.js')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      COUIC_DEV_DIR: dir,
      COUIC_DEV_LISTEN: `127.0.0.1:${listenPort}`,
      COUIC_DEV_METRICS: `127.0.0.1:${await freePort()}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters: (() => void)[] = [];
  const append = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    for (const wake of waiters.splice(0)) wake();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const waitFor = async (pattern: RegExp): Promise<boolean> => {
    const deadline = Date.now() + 60_000;
    while (!pattern.test(text)) {
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) return pattern.test(text);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 1_000);
      });
    }
    return true;
  };
  return { child, dir, output: () => text, waitFor };
}

test('npm start launcher: banner once the daemon answers; SIGTERM stops both, nothing left behind', async (t) => {
  const launcher = await startLauncher(t, await freePort());
  t.true(await launcher.waitFor(/couic is running/), launcher.output());
  // The banner comes after the daemon's ready record, never before.
  const out = launcher.output();
  t.true(out.indexOf('couic ready') < out.indexOf('couic is running'), out);
  launcher.child.kill('SIGTERM');
  t.deepEqual(await waitExit(launcher.child, 30_000), { code: 0, signal: null }, launcher.output());
  t.regex(launcher.output(), /stopped/);
  await t.throwsAsync(stat(join(launcher.dir, 'couic.sock')), { code: 'ENOENT' }, 'the daemon removed its socket');
});

test('npm start launcher: a daemon that cannot start gets no banner, and the launcher exits non-zero', async (t) => {
  // Hold the TCP port the dev daemon wants to listen on.
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => blocker.close());
  const address = blocker.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const launcher = await startLauncher(t, address.port);
  const exit = await waitExit(launcher.child, 60_000);
  t.not(exit?.code, 0, launcher.output());
  t.regex(launcher.output(), /cannot start/);
  t.notRegex(launcher.output(), /couic is running/);
});

/** One reflection request in package `version` (v1 or v1alpha), as tools such as grpcurl send it. */
async function reflectAs(version: 'v1' | 'v1alpha', socketPath: string, request: Record<string, string>): Promise<Record<string, unknown>> {
  const definition = loadSync(join(REPO_ROOT, 'proto', 'grpc', 'reflection', version, 'reflection.proto'), { keepCase: true, defaults: true, oneofs: true });
  const loaded = loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: Record<string, { ServerReflection: new (target: string, creds: ChannelCredentials) => GrpcClient & { ServerReflectionInfo(): ClientDuplexStream<unknown, Record<string, unknown>> } }> };
  };
  const Client = loaded.grpc.reflection[version]?.ServerReflection;
  if (Client === undefined) throw new Error(`no ${version} client`);
  const client = new Client(`unix:${socketPath}`, credentials.createInsecure());
  try {
    const call = client.ServerReflectionInfo();
    const answer = once(call, 'data') as Promise<[Record<string, unknown>]>;
    call.write(request);
    const [response] = await answer;
    call.end();
    return response;
  } finally {
    client.close();
  }
}

for (const version of ['v1', 'v1alpha'] as const) {
  test(`reflection ${version}: lists couic, health and both reflection services; describes them`, async (t) => {
    const daemon = await startDaemon(t);
    const listed = await reflectAs(version, daemon.socketPath, { list_services: '*' });
    const names = ((listed['list_services_response'] as { service: { name: string }[] } | undefined)?.service ?? []).map((s) => s.name);
    for (const name of ['couic.v1.RulesService', 'couic.v1.StatsService', 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']) {
      t.true(names.includes(name), `${name} in ${names.join(', ')}`);
    }
    for (const symbol of ['couic.v1.RulesService', 'grpc.health.v1.Health']) {
      const file = await reflectAs(version, daemon.socketPath, { file_containing_symbol: symbol });
      const protos = (file['file_descriptor_response'] as { file_descriptor_proto: Buffer[] } | undefined)?.file_descriptor_proto ?? [];
      t.true(protos.length > 0, `${symbol}: ${JSON.stringify(file['error_response'])}`);
    }
  });
}

test('an int64 expiration of 2^63-1 (far future as Go/Java/Python send it) is INVALID_ARGUMENT naming rules[1].expiration', async (t) => {
  const daemon = await startDaemon(t);
  // Encoded by descriptor with bigint int64, as other languages' generated code would.
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, await readFile(join(REPO_ROOT, 'src', 'generated', 'couic.protoset'))));
  const schema = registry.getMessage('couic.v1.AddRulesRequest');
  if (schema === undefined) throw new Error('AddRulesRequest not in the protoset');
  const body = toBinary(
    schema,
    create(schema, {
      rules: [
        { policy: Policy.POLICY_DROP, cidr: '192.0.2.30/32', expiration: 0n },
        { policy: Policy.POLICY_DROP, cidr: '192.0.2.31/32', expiration: 2n ** 63n - 1n },
      ],
    }),
  );
  const client = new GrpcClient(`unix:${daemon.socketPath}`, credentials.createInsecure());
  t.teardown(() => client.close());
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${daemon.adminToken}`);
  const error = await new Promise<ServiceError | undefined>((resolve) => {
    client.makeUnaryRequest('/couic.v1.RulesService/AddRules', (b: Buffer) => b, (b: Buffer) => b, Buffer.from(body), metadata, (err) => resolve(err ?? undefined));
  });
  t.is(error?.code, status.INVALID_ARGUMENT, error?.message);
  t.regex(error?.details ?? '', /^rules\[1\]\.expiration: 9223372036854775807 is out of range/);
  // Nothing of the batch was applied.
  const api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  await t.throwsAsync(api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '192.0.2.30/32' }));
});
