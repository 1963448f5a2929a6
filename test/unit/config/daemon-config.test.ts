import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { compileDaemonOptions, loadDaemonConfig } from '../../../src/config/daemon-config.js';
import type { DaemonOptions } from '../../../src/config/daemon-options.js';
import { ConfigError } from '../../../src/config/errors.js';

const BASE = '/etc/couic';
const TOKEN = 'bbfa1388-3218-463c-9722-6805507c14bb';

function compile(toml: string, baseDir = BASE): DaemonOptions {
  return compileDaemonOptions(parse(toml), baseDir);
}

function configError(t: import('ava').ExecutionContext, toml: string): ConfigError {
  const err = t.throws(() => compile(toml), { instanceOf: ConfigError });
  if (err === undefined) throw new Error('unreachable: t.throws failed');
  return err;
}

test('an empty config gives every default', (t) => {
  t.deepEqual(compile(''), {
    ifaces: [],
    workingDir: '/var/lib/couic',
    logging: { format: 'json', level: 'info' },
    server: { socketPath: '/run/couic/couic.sock', mtls: false },
    persistence: { flushIntervalMs: 2, snapshotEvery: 100000 },
    peering: { enabled: false, peers: [], flushIntervalMs: 250, tombstoneLifetimeS: 86400, reconnectMaxMs: 30000, nodeIdBinding: 'client' },
    replication: { maxClockOffsetMs: 60000, watchMaxPendingKeys: 524288 },
  });
});

test('empty tables give the same defaults as absent ones', (t) => {
  const options = compile('[logging]\n[server]\n[tls]\n[persistence]\n[peering]\n');
  t.deepEqual(options, compile(''));
  t.is(options.tls, undefined);
});

const FULL = `
ifaces = ["eth0", "eth1"]
working_dir = "/srv/couic"
user = "couic"
group = "couic"
node_id = "node-a"
[logging]
dir = "/var/log/couic"
format = "pretty"
level = "debug"
[server]
socket = "/run/couic/api.sock"
listen = "127.0.0.1:2900"
mtls = true
[tls]
ca = "/etc/couic/ca.pem"
cert = "/etc/couic/node.pem"
key = "/etc/couic/node-key.pem"
[metrics]
listen = "127.0.0.1:9901"
[persistence]
flush_interval_ms = 50
snapshot_every = 5000
[peering]
enabled = true
flush_interval_ms = 100
tombstone_lifetime_s = 3600
reconnect_max_ms = 5000
node_id_binding = "certificate"
[replication]
max_clock_offset_ms = 5000
watch_max_pending_keys = 20000
[[peering.peers]]
host = "couic2.couic.tld"
port = 2900
tls = true
token = "${TOKEN}"
[[peering.peers]]
host = "10.0.0.3"
port = 2901
token = "e78336b3-8128-4c84-88c7-e2fad9c32d99"
`;

test('every key of the format is read', (t) => {
  t.deepEqual(compile(FULL), {
    ifaces: ['eth0', 'eth1'],
    workingDir: '/srv/couic',
    user: 'couic',
    group: 'couic',
    nodeId: 'node-a',
    logging: { dir: '/var/log/couic', format: 'pretty', level: 'debug' },
    server: { socketPath: '/run/couic/api.sock', listen: { host: '127.0.0.1', port: 2900 }, mtls: true },
    tls: { caPath: '/etc/couic/ca.pem', certPath: '/etc/couic/node.pem', keyPath: '/etc/couic/node-key.pem' },
    metrics: { listen: { host: '127.0.0.1', port: 9901 } },
    persistence: { flushIntervalMs: 50, snapshotEvery: 5000 },
    peering: {
      enabled: true,
      peers: [
        { host: 'couic2.couic.tld', port: 2900, tls: true, token: TOKEN },
        { host: '10.0.0.3', port: 2901, tls: true, token: 'e78336b3-8128-4c84-88c7-e2fad9c32d99' },
      ],
      flushIntervalMs: 100,
      tombstoneLifetimeS: 3600,
      reconnectMaxMs: 5000,
      nodeIdBinding: 'certificate',
    },
    replication: { maxClockOffsetMs: 5000, watchMaxPendingKeys: 20000 },
  });
});

// Verbatim from the reference walkthrough (couic-peering.txt), both nodes.
test('the reference walkthrough [peering] blocks parse verbatim', (t) => {
  // Peering needs the node's own listener and certificates (mTLS between peers).
  const node = '[server]\nlisten = "0.0.0.0:2900"\n[tls]\nca = "/etc/couic/ca.pem"\ncert = "/etc/couic/node.pem"\nkey = "/etc/couic/node-key.pem"\n';
  const couic1 = `${node}[peering]
enabled = true

[[peering.peers]]
host = "couic2.couic.tld"
port = 2900
tls = true
token = "bbfa1388-3218-463c-9722-6805507c14bb"
`;
  const couic2 = `${node}[peering]
enabled = true

[[peering.peers]]
host = "couic1.couic.tld"
port = 2900
tls = true
token = "e78336b3-8128-4c84-88c7-e2fad9c32d99"
`;
  t.deepEqual(compile(couic1).peering, {
    enabled: true,
    peers: [{ host: 'couic2.couic.tld', port: 2900, tls: true, token: 'bbfa1388-3218-463c-9722-6805507c14bb' }],
    flushIntervalMs: 250,
    tombstoneLifetimeS: 86400,
    reconnectMaxMs: 30000,
    // The walkthrough names each peering client after its host: bound by client name.
    nodeIdBinding: 'client',
  });
  t.deepEqual(compile(couic2).peering.peers[0]?.host, 'couic1.couic.tld');
});

test('peering enabled with neither listener nor certificates names everything missing', (t) => {
  const err = t.throws(() => compile('[peering]\nenabled = true'), { instanceOf: ConfigError });
  t.regex(err.message, /peering\.enabled: requires server\.listen/);
  t.regex(err.message, /peering\.enabled: requires \[tls\] ca, cert, key/);
});

test('a peer without tls defaults to TLS on', (t) => {
  const options = compile(`[[peering.peers]]\nhost = "a.example"\nport = 2900\ntoken = "${TOKEN}"\n`);
  t.is(options.peering.peers[0]?.tls, true);
  t.false(options.peering.enabled);
});

test('listen accepts bracketed IPv6, host names and port 0', (t) => {
  const tls = '[tls]\ncert = "/c.pem"\nkey = "/k.pem"\n';
  t.deepEqual(compile(`[server]\nlisten = "[::1]:2900"\n${tls}`).server.listen, { host: '::1', port: 2900 });
  t.deepEqual(compile(`[server]\nlisten = "localhost:0"\n${tls}`).server.listen, { host: 'localhost', port: 0 });
  t.deepEqual(compile('[metrics]\nlisten = "[::]:9901"\n').metrics, { listen: { host: '::', port: 9901 } });
});

test('relative paths resolve against the config folder, absolute ones stay', (t) => {
  const options = compile(
    `working_dir = "data"
[logging]
dir = "../log"
[server]
socket = "run/couic.sock"
[tls]
ca = "certs/ca.pem"
cert = "/abs/node.pem"
key = "./certs/node-key.pem"
`,
    '/opt/couic/etc',
  );
  t.is(options.workingDir, '/opt/couic/etc/data');
  t.is(options.logging.dir, '/opt/couic/log');
  t.is(options.server.socketPath, '/opt/couic/etc/run/couic.sock');
  t.deepEqual(options.tls, { caPath: '/opt/couic/etc/certs/ca.pem', certPath: '/abs/node.pem', keyPath: '/opt/couic/etc/certs/node-key.pem' });
});

const PEER_TLS = '[tls]\nca = "/ca.pem"\ncert = "/c.pem"\nkey = "/k.pem"\n';

// [description, config, key named, message pattern]
const invalid: Array<[string, string, string, RegExp]> = [
  ['ifaces not an array', 'ifaces = "eth0"', 'ifaces', /^ifaces: expected an array of strings, got "eth0"$/],
  ['iface not a string', 'ifaces = [1]', 'ifaces[0]', /^ifaces\[0\]: expected a string, got integer 1$/],
  ['iface name too long', 'ifaces = ["abcdefghijklmnop"]', 'ifaces[0]', /network interface name/],
  ['iface name with a slash', 'ifaces = ["eth0", "a/b"]', 'ifaces[1]', /network interface name/],
  ['iface listed twice', 'ifaces = ["eth0", "eth0"]', 'ifaces[1]', /listed twice/],
  ['working_dir not a string', 'working_dir = 3', 'working_dir', /^working_dir: expected a string, got integer 3$/],
  ['working_dir empty', 'working_dir = ""', 'working_dir', /^working_dir: must not be empty$/],
  ['user with a space', 'user = "cou ic"', 'user', /^user: expected a system user name/],
  ['group not a string', 'group = true', 'group', /^group: expected a string, got boolean true$/],
  ['node_id with a space', 'node_id = "node a"', 'node_id', /^node_id: may only contain/],
  ['node_id too long', `node_id = "${'n'.repeat(65)}"`, 'node_id', /^node_id: must be at most 64/],
  ['logging not a table', 'logging = "json"', 'logging', /^logging: expected a table \(\[logging\]\), got "json"$/],
  ['logging.format unknown', '[logging]\nformat = "xml"', 'logging.format', /^logging\.format: expected one of "json", "pretty", got "xml"$/],
  ['logging.level unknown', '[logging]\nlevel = "verbose"', 'logging.level', /^logging\.level: expected one of .*"trace".*, got "verbose"$/],
  ['logging.dir empty', '[logging]\ndir = ""', 'logging.dir', /must not be empty/],
  ['server.socket not a string', '[server]\nsocket = 1', 'server.socket', /^server\.socket: expected a string/],
  ['server.socket too long', `[server]\nsocket = "/${'s'.repeat(120)}"`, 'server.socket', /at most 107/],
  ['server.listen without port', '[server]\nlisten = "abc"', 'server.listen', /^server\.listen: expected "HOST:PORT", got "abc"$/],
  ['server.listen bare IPv6', '[server]\nlisten = "::1:2900"', 'server.listen', /in brackets/],
  ['server.listen port too big', '[server]\nlisten = "127.0.0.1:65536"', 'server.listen', /port must be between 0 and 65535, got 65536/],
  ['server.listen bad host', '[server]\nlisten = "bad_host!:2900"', 'server.listen', /host expected a host name/],
  ['server.listen IPv4 in brackets', '[server]\nlisten = "[127.0.0.1]:2900"', 'server.listen', /only IPv6/],
  ['server.listen not a string', '[server]\nlisten = 2900', 'server.listen', /^server\.listen: expected a string, got integer 2900$/],
  ['server.mtls not a boolean', '[server]\nmtls = "yes"', 'server.mtls', /^server\.mtls: expected a boolean/],
  ['listen without [tls]', '[server]\nlisten = "127.0.0.1:2900"', 'server.listen', /always uses TLS and needs \[tls\] cert and key$/],
  ['listen without tls.key', '[server]\nlisten = "127.0.0.1:2900"\n[tls]\ncert = "/c.pem"', 'tls.key', /^tls\.key: is required when tls\.cert is set$/],
  [
    'mtls without tls.ca',
    '[server]\nlisten = "127.0.0.1:2900"\nmtls = true\n[tls]\ncert = "/c.pem"\nkey = "/k.pem"',
    'server.mtls',
    /^server\.mtls: requires \[tls\] ca/,
  ],
  ['mtls without listen', '[server]\nmtls = true\n[tls]\nca = "/ca.pem"', 'server.mtls', /server\.listen is not set/],
  ['tls.cert without key', '[tls]\ncert = "/c.pem"', 'tls.key', /^tls\.key: is required when tls\.cert is set$/],
  ['tls.key without cert', '[tls]\nkey = "/k.pem"', 'tls.cert', /^tls\.cert: is required when tls\.key is set$/],
  ['tls.ca not a string', '[tls]\nca = ["a"]', 'tls.ca', /^tls\.ca: expected a string, got an array$/],
  ['metrics without listen', '[metrics]', 'metrics.listen', /is required in \[metrics\]/],
  ['metrics.listen bad', '[metrics]\nlisten = "9901"', 'metrics.listen', /^metrics\.listen: expected "HOST:PORT", got "9901"$/],
  [
    'metrics on the API address',
    '[server]\nlisten = "127.0.0.1:2900"\n[tls]\ncert = "/c"\nkey = "/k"\n[metrics]\nlisten = "127.0.0.1:2900"',
    'metrics.listen',
    /already used by server\.listen/,
  ],
  ['flush_interval_ms negative', '[persistence]\nflush_interval_ms = -1', 'persistence.flush_interval_ms', /between 0 and 60000, got -1/],
  ['flush_interval_ms a float', '[persistence]\nflush_interval_ms = 2.5', 'persistence.flush_interval_ms', /expected an integer, got float 2.5/],
  ['flush_interval_ms a string', '[persistence]\nflush_interval_ms = "20ms"', 'persistence.flush_interval_ms', /expected an integer, got "20ms"/],
  ['snapshot_every zero', '[persistence]\nsnapshot_every = 0', 'persistence.snapshot_every', /between 1 and/],
  ['peering.enabled a string', '[peering]\nenabled = "true"', 'peering.enabled', /^peering\.enabled: expected a boolean/],
  ['peering.peers a table', '[peering.peers]\nhost = "a"', 'peering.peers', /^peering\.peers: expected an array of tables/],
  ['peers item not a table', '[peering]\npeers = [1]', 'peering.peers[0]', /^peering\.peers\[0\]: expected a table, got integer 1$/],
  ['peer without host', `[[peering.peers]]\nport = 2900\ntoken = "${TOKEN}"`, 'peering.peers[0].host', /^peering\.peers\[0\]\.host: is required$/],
  ['peer bad host', `[[peering.peers]]\nhost = "a b"\nport = 2900\ntoken = "${TOKEN}"`, 'peering.peers[0].host', /host name or IP/],
  ['peer without port', `[[peering.peers]]\nhost = "a"\ntoken = "${TOKEN}"`, 'peering.peers[0].port', /^peering\.peers\[0\]\.port: is required$/],
  ['peer port zero', `[[peering.peers]]\nhost = "a"\nport = 0\ntoken = "${TOKEN}"`, 'peering.peers[0].port', /between 1 and 65535, got 0/],
  ['peer port too big', `[[peering.peers]]\nhost = "a"\nport = 70000\ntoken = "${TOKEN}"`, 'peering.peers[0].port', /between 1 and 65535, got 70000/],
  ['peer port a string', `[[peering.peers]]\nhost = "a"\nport = "2900"\ntoken = "${TOKEN}"`, 'peering.peers[0].port', /expected an integer, got "2900"/],
  ['peer tls a string', `[[peering.peers]]\nhost = "a"\nport = 1\ntls = "yes"\ntoken = "${TOKEN}"`, 'peering.peers[0].tls', /expected a boolean/],
  ['peer without token', '[[peering.peers]]\nhost = "a"\nport = 2900', 'peering.peers[0].token', /is required \(the token of a "peering" client/],
  ['peer token not a UUID', '[[peering.peers]]\nhost = "a"\nport = 2900\ntoken = "secret-ish"', 'peering.peers[0].token', /expected a UUID/],
  [
    'second peer duplicates the first',
    `[[peering.peers]]\nhost = "a"\nport = 2900\ntoken = "${TOKEN}"\n[[peering.peers]]\nhost = "a"\nport = 2900\ntoken = "${TOKEN}"`,
    'peering.peers[1]',
    /already listed as peering\.peers\[0\]/,
  ],
  ['a date where a string belongs', 'working_dir = 1979-05-27', 'working_dir', /expected a string, got a date/],
  ['peering without listen', `${PEER_TLS}[peering]\nenabled = true`, 'peering.enabled', /requires server\.listen/],
  ['peering without [tls]', '[server]\nlisten = "127.0.0.1:2900"\n[tls]\ncert = "/c"\nkey = "/k"\n[peering]\nenabled = true', 'peering.enabled', /requires \[tls\] ca \(peers authenticate/],
  [
    'peering with a plaintext peer',
    `[server]\nlisten = "127.0.0.1:2900"\n${PEER_TLS}[peering]\nenabled = true\n[[peering.peers]]\nhost = "a"\nport = 2900\ntls = false\ntoken = "${TOKEN}"`,
    'peering.peers[0].tls',
    /must be true: replication runs only over mutually authenticated TLS/,
  ],
  ['peering flush interval zero', '[peering]\nflush_interval_ms = 0', 'peering.flush_interval_ms', /between 1 and 60000, got 0/],
  ['tombstone lifetime negative', '[peering]\ntombstone_lifetime_s = -5', 'peering.tombstone_lifetime_s', /between 1 and/],
  ['reconnect cap too small', '[peering]\nreconnect_max_ms = 10', 'peering.reconnect_max_ms', /between 250 and 600000, got 10/],
  ['node id binding unknown', '[peering]\nnode_id_binding = "cn"', 'peering.node_id_binding', /expected one of "client", "certificate", "none"/],
  ['clock offset too small', '[replication]\nmax_clock_offset_ms = 10', 'replication.max_clock_offset_ms', /between 1000 and 86400000, got 10/],
];

for (const [what, toml, key, pattern] of invalid) {
  test(`refused: ${what}`, (t) => {
    const err = configError(t, toml);
    t.is(err.key, key);
    t.is(err.problems.length, 1, err.message);
    t.regex(err.message, pattern);
  });
}

// [table header or '' for top level, key path, "where" text]
const unknownKeys: Array<[string, string, string]> = [
  ['', 'foo', 'at top level'],
  ['[logging]', 'logging.foo', 'in [logging]'],
  ['[server]', 'server.foo', 'in [server]'],
  ['[tls]', 'tls.foo', 'in [tls]'],
  ['[metrics]\nlisten = "127.0.0.1:9901"', 'metrics.foo', 'in [metrics]'],
  ['[persistence]', 'persistence.foo', 'in [persistence]'],
  ['[peering]', 'peering.foo', 'in [peering]'],
  [`[[peering.peers]]\nhost = "a"\nport = 1\ntoken = "${TOKEN}"`, 'peering.peers[0].foo', 'in peering.peers[0]'],
];

for (const [header, key, where] of unknownKeys) {
  test(`unknown key refused ${where}`, (t) => {
    const err = configError(t, `${header}\nfoo = 1\n`);
    t.is(err.key, key);
    t.true(err.message.startsWith(`unknown key "foo" ${where}`), err.message);
  });
}

test('an unknown key names the known ones, to catch typos', (t) => {
  const err = configError(t, '[server]\nsokcet = "/run/x.sock"');
  t.is(err.message, 'unknown key "sokcet" in [server] (known keys: listen, mtls, socket)');
});

test('an unknown table is an unknown top-level key', (t) => {
  const err = configError(t, '[serveur]\nsocket = "/x"');
  t.is(err.key, 'serveur');
});

test('every problem is reported together, in one error', (t) => {
  const err = configError(
    t,
    `foo = 1
ifaces = ["eth0", 3]
[server]
listen = "abc"
bar = true
[logging]
level = "loud"
[persistence]
flush_interval_ms = -1
[[peering.peers]]
host = "a"
port = 70000
token = "nope"
`,
  );
  t.deepEqual(
    err.problems.map((p) => p.key).sort(),
    ['foo', 'ifaces[1]', 'logging.level', 'peering.peers[0].port', 'peering.peers[0].token', 'persistence.flush_interval_ms', 'server.bar', 'server.listen'].sort(),
  );
  t.regex(err.message, /^8 configuration problems:\n {2}- /);
  for (const p of err.problems) t.true(err.message.includes(p.message));
});

test('a malformed token is never echoed in the error', (t) => {
  const secret = 'hunter2-not-a-uuid';
  const err = configError(t, `[[peering.peers]]\nhost = "a"\nport = 1\ntoken = "${secret}"`);
  t.false(err.message.includes(secret));
});

test('a document that is not a table is refused', (t) => {
  const err = t.throws(() => compileDaemonOptions(['a'], BASE), { instanceOf: ConfigError });
  t.is(err?.key, '');
});

async function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'couic-cfg-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('loadDaemonConfig resolves relative paths against the file, not the cwd', async (t) => {
  await withTempDir(async (dir) => {
    await mkdir(join(dir, 'etc'));
    const file = join(dir, 'etc', 'couic.toml');
    await writeFile(file, 'working_dir = "../var"\n[server]\nsocket = "couic.sock"\n');
    const options = await loadDaemonConfig(file);
    t.is(options.workingDir, join(dir, 'var'));
    t.is(options.server.socketPath, join(dir, 'etc', 'couic.sock'));
  });
});

test('loadDaemonConfig names the file in validation errors', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'couic.toml');
    await writeFile(file, '[server]\nlisten = "abc"\n');
    const err = await t.throwsAsync(loadDaemonConfig(file), { instanceOf: ConfigError });
    t.is(err?.file, file);
    t.is(err?.key, 'server.listen');
    t.is(err?.message, `${file}: server.listen: expected "HOST:PORT", got "abc"`);
  });
});

test('a missing config file is a clear error naming the path', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'nope.toml');
    const err = await t.throwsAsync(loadDaemonConfig(file), { instanceOf: ConfigError });
    t.is(err?.message, `${file}: config file not found`);
    t.is(err?.file, file);
  });
});

test('a directory instead of a file is refused', async (t) => {
  await withTempDir(async (dir) => {
    const err = await t.throwsAsync(loadDaemonConfig(dir), { instanceOf: ConfigError });
    t.regex(err?.message ?? '', /is a directory/);
  });
});

test('invalid TOML reports the line', async (t) => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'couic.toml');
    await writeFile(file, 'working_dir = "/x"\n[server]\nsocket = \n');
    const err = await t.throwsAsync(loadDaemonConfig(file), { instanceOf: ConfigError });
    t.regex(err?.message ?? '', new RegExp(`^${file}: invalid TOML at line 3, column \\d+: `));
  });
});
