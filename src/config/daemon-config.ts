// Turns couic.toml into DaemonOptions: every key checked (unknown keys included),
// every default filled in, relative paths resolved against the config file's folder.
// All problems are collected and thrown together as one ConfigError.

import { dirname, resolve } from 'node:path';
import {
  DAEMON_DEFAULTS,
  DAEMON_LIMITS,
  LOG_FORMATS,
  LOG_LEVELS,
  type DaemonOptions,
  type LogFormat,
  type LoggingOptions,
  type LogLevel,
  type MetricsOptions,
  type PeerOptions,
  type PeeringOptions,
  NODE_ID_BINDINGS,
  type NodeIdBinding,
  type ReplicationOptions,
  type PersistenceOptions,
  type ServerOptions,
  type TlsOptions,
} from './daemon-options.js';
import { readBus } from './bus-config.js';
import { readXdp } from './xdp-config.js';
import { ConfigError } from './errors.js';
import { checkHost, formatHostPort, parseHostPort, type HostPort } from '../domain/host-port.js';
import { checkNodeId } from './node-id.js';
import { ProblemList } from './problem-list.js';
import { TableReader } from './table-reader.js';
import { readTomlFile } from './toml-file.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Linux IFNAMSIZ is 16 including the NUL; "/", ":" (aliases) and whitespace are not allowed. */
const IFACE_NAME = /^[^\s/:]{1,15}$/;
const ACCOUNT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;

/** Reads, parses and compiles a daemon config file. Throws ConfigError naming the file. */
export async function loadDaemonConfig(path: string): Promise<DaemonOptions> {
  const absolute = resolve(path);
  const raw = await readTomlFile(absolute);
  try {
    return compileDaemonOptions(raw, dirname(absolute));
  } catch (err) {
    if (err instanceof ConfigError) throw err.inFile(absolute);
    throw err;
  }
}

/**
 * Pure: checks a parsed TOML document and returns fully defaulted options.
 * @param baseDir folder that relative paths are resolved against (the config file's)
 */
export function compileDaemonOptions(raw: unknown, baseDir: string): DaemonOptions {
  const problems = new ProblemList();
  const root = TableReader.root(raw, problems);
  const base = resolve(baseDir);
  const path = (reader: TableReader, key: string): string | undefined => {
    const value = reader.nonEmptyString(key);
    return value === undefined ? undefined : resolve(base, value);
  };

  const ifaces = readIfaces(root);
  const workingDir = path(root, 'working_dir') ?? DAEMON_DEFAULTS.workingDir;
  const user = readAccount(root, 'user');
  const group = readAccount(root, 'group');
  const nodeId = readNodeId(root);
  const logging = readLogging(root.table('logging'), path);
  const server = readServer(root.table('server'), path);
  const tls = readTls(root.table('tls'), path);
  const metrics = readMetrics(root.table('metrics'));
  const persistence = readPersistence(root.table('persistence'));
  const peering = readPeering(root.table('peering'));
  const replication = readReplication(root.table('replication'));
  const bus = readBus(root.table('bus'), base);
  const xdp = readXdp(root.table('xdp'), base);
  root.finish();

  const options: DaemonOptions = { ifaces, workingDir, logging, server, persistence, peering, replication };
  if (user !== undefined) options.user = user;
  if (group !== undefined) options.group = group;
  if (nodeId !== undefined) options.nodeId = nodeId;
  if (tls !== undefined) options.tls = tls;
  if (metrics !== undefined) options.metrics = metrics;
  if (bus !== undefined) options.bus = bus;
  if (xdp !== undefined) options.xdp = xdp;
  checkCrossKeys(options, problems);
  problems.throwIfAny();
  return options;
}

type PathReader = (reader: TableReader, key: string) => string | undefined;

function readIfaces(root: TableReader): string[] {
  const seen = new Set<string>();
  const ifaces = root.stringArray('ifaces', (name) => {
    if (!IFACE_NAME.test(name) || name === '.' || name === '..') {
      return `expected a network interface name (1-15 characters, no "/", ":" or spaces), got ${JSON.stringify(name)}`;
    }
    if (seen.has(name)) return `interface ${JSON.stringify(name)} is listed twice`;
    seen.add(name);
    return undefined;
  });
  return ifaces ?? [];
}

function readAccount(root: TableReader, key: 'user' | 'group'): string | undefined {
  const value = root.string(key);
  if (value !== undefined && !ACCOUNT_NAME.test(value)) {
    root.problems.invalid(key, `expected a system ${key} name, got ${JSON.stringify(value)}`);
    return undefined;
  }
  return value;
}

function readNodeId(root: TableReader): string | undefined {
  const value = root.string('node_id');
  if (value === undefined) return undefined;
  const problem = checkNodeId(value);
  if (problem !== undefined) {
    root.problems.invalid('node_id', problem);
    return undefined;
  }
  return value;
}

function readLogging(table: TableReader | undefined, path: PathReader): LoggingOptions {
  const logging: LoggingOptions = { format: DAEMON_DEFAULTS.logFormat, level: DAEMON_DEFAULTS.logLevel };
  if (table === undefined) return logging;
  const dir = path(table, 'dir');
  if (dir !== undefined) logging.dir = dir;
  logging.format = readChoice<LogFormat>(table, 'format', LOG_FORMATS) ?? logging.format;
  logging.level = readChoice<LogLevel>(table, 'level', LOG_LEVELS) ?? logging.level;
  table.finish();
  return logging;
}

function readServer(table: TableReader | undefined, path: PathReader): ServerOptions {
  const server: ServerOptions = { socketPath: DAEMON_DEFAULTS.socketPath, mtls: DAEMON_DEFAULTS.mtls };
  if (table === undefined) return server;
  server.socketPath = path(table, 'socket') ?? server.socketPath;
  const bytes = Buffer.byteLength(server.socketPath);
  if (bytes > DAEMON_LIMITS.socketPathBytes) {
    table.problems.invalid(
      table.keyPath('socket'),
      `resolves to ${bytes} bytes (${server.socketPath}); Unix socket paths may have at most ${DAEMON_LIMITS.socketPathBytes}`,
    );
  }
  const listen = readListen(table, 'listen');
  if (listen !== undefined) server.listen = listen;
  server.mtls = table.boolean('mtls') ?? server.mtls;
  table.finish();
  return server;
}

function readTls(table: TableReader | undefined, path: PathReader): TlsOptions | undefined {
  if (table === undefined) return undefined;
  const tls: TlsOptions = {};
  const caPath = path(table, 'ca');
  const certPath = path(table, 'cert');
  const keyPath = path(table, 'key');
  if (caPath !== undefined) tls.caPath = caPath;
  if (certPath !== undefined) tls.certPath = certPath;
  if (keyPath !== undefined) tls.keyPath = keyPath;
  table.finish();
  return Object.keys(tls).length === 0 ? undefined : tls;
}

function readMetrics(table: TableReader | undefined): MetricsOptions | undefined {
  if (table === undefined) return undefined;
  const listen = readListen(table, 'listen');
  if (listen === undefined && !table.has('listen')) {
    table.problems.invalid(table.keyPath('listen'), 'is required in [metrics] (e.g. "127.0.0.1:9901"); remove [metrics] to disable metrics');
  }
  table.finish();
  return listen === undefined ? undefined : { listen };
}

function readPersistence(table: TableReader | undefined): PersistenceOptions {
  const persistence: PersistenceOptions = {
    flushIntervalMs: DAEMON_DEFAULTS.flushIntervalMs,
    snapshotEvery: DAEMON_DEFAULTS.snapshotEvery,
  };
  if (table === undefined) return persistence;
  persistence.flushIntervalMs = table.integer('flush_interval_ms', DAEMON_LIMITS.flushIntervalMs) ?? persistence.flushIntervalMs;
  persistence.snapshotEvery = table.integer('snapshot_every', DAEMON_LIMITS.snapshotEvery) ?? persistence.snapshotEvery;
  table.finish();
  return persistence;
}

function readReplication(table: TableReader | undefined): ReplicationOptions {
  const replication: ReplicationOptions = {
    maxClockOffsetMs: DAEMON_DEFAULTS.maxClockOffsetMs,
    watchMaxPendingKeys: DAEMON_DEFAULTS.watchMaxPendingKeys,
  };
  if (table === undefined) return replication;
  replication.maxClockOffsetMs = table.integer('max_clock_offset_ms', DAEMON_LIMITS.maxClockOffsetMs) ?? replication.maxClockOffsetMs;
  replication.watchMaxPendingKeys =
    table.integer('watch_max_pending_keys', DAEMON_LIMITS.watchMaxPendingKeys) ?? replication.watchMaxPendingKeys;
  table.finish();
  return replication;
}

function readPeering(table: TableReader | undefined): PeeringOptions {
  const peering: PeeringOptions = {
    enabled: DAEMON_DEFAULTS.peeringEnabled,
    peers: [],
    flushIntervalMs: DAEMON_DEFAULTS.peeringFlushIntervalMs,
    tombstoneLifetimeS: DAEMON_DEFAULTS.tombstoneLifetimeS,
    reconnectMaxMs: DAEMON_DEFAULTS.reconnectMaxMs,
    nodeIdBinding: DAEMON_DEFAULTS.nodeIdBinding,
  };
  if (table === undefined) return peering;
  peering.nodeIdBinding = readChoice<NodeIdBinding>(table, 'node_id_binding', NODE_ID_BINDINGS) ?? peering.nodeIdBinding;
  peering.enabled = table.boolean('enabled') ?? peering.enabled;
  peering.flushIntervalMs = table.integer('flush_interval_ms', DAEMON_LIMITS.peeringFlushIntervalMs) ?? peering.flushIntervalMs;
  peering.tombstoneLifetimeS = table.integer('tombstone_lifetime_s', DAEMON_LIMITS.tombstoneLifetimeS) ?? peering.tombstoneLifetimeS;
  peering.reconnectMaxMs = table.integer('reconnect_max_ms', DAEMON_LIMITS.reconnectMaxMs) ?? peering.reconnectMaxMs;
  const firstIndexOf = new Map<string, number>();
  (table.tableArray('peers') ?? []).forEach((reader, i) => {
    const peer = readPeer(reader);
    if (peer === undefined) return;
    const address = formatHostPort(peer);
    const first = firstIndexOf.get(address);
    if (first !== undefined) {
      table.problems.invalid(reader.path, `${address} is already listed as peering.peers[${first}]`);
      return;
    }
    firstIndexOf.set(address, i);
    peering.peers.push(peer);
  });
  table.finish();
  return peering;
}

function readPeer(reader: TableReader): PeerOptions | undefined {
  const problems = reader.problems;
  const host = reader.string('host');
  const port = reader.integer('port', { min: 1, max: 65535 });
  const tls = reader.boolean('tls') ?? DAEMON_DEFAULTS.peerTls;
  const token = reader.string('token');
  reader.finish();
  const before = problems.problems.length;
  if (host === undefined && !reader.has('host')) problems.invalid(reader.keyPath('host'), 'is required');
  if (host !== undefined) {
    const hostProblem = checkHost(host);
    if (hostProblem !== undefined) problems.invalid(reader.keyPath('host'), hostProblem);
  }
  if (port === undefined && !reader.has('port')) problems.invalid(reader.keyPath('port'), 'is required');
  if (token === undefined && !reader.has('token')) {
    problems.invalid(reader.keyPath('token'), 'is required (the token of a "peering" client on that peer)');
  }
  if (token !== undefined && !UUID.test(token)) {
    // The value is a secret, even a malformed one: describe it, never echo it.
    problems.invalid(reader.keyPath('token'), `expected a UUID like "bbfa1388-3218-463c-9722-6805507c14bb", got a ${token.length}-character string`);
  }
  if (problems.problems.length > before || host === undefined || port === undefined || token === undefined) return undefined;
  return { host, port, tls, token };
}

function readListen(table: TableReader, key: string): HostPort | undefined {
  const text = table.string(key);
  if (text === undefined) return undefined;
  // Port 0 asks the system for a free port: handy for tests, logged at start.
  const parsed = parseHostPort(text, 0);
  if (!parsed.ok) {
    table.problems.invalid(table.keyPath(key), parsed.reason);
    return undefined;
  }
  return parsed.value;
}

function readChoice<T extends string>(table: TableReader, key: string, choices: readonly T[]): T | undefined {
  const value = table.string(key);
  if (value === undefined) return undefined;
  const choice = choices.find((c) => c === value);
  if (choice === undefined) {
    const list = choices.map((c) => JSON.stringify(c)).join(', ');
    table.problems.invalid(table.keyPath(key), `expected one of ${list}, got ${JSON.stringify(value)}`);
  }
  return choice;
}

/**
 * Rules that involve several keys; each is reported on the key that needs changing,
 * and stays quiet when a key it depends on was already reported as bad.
 */
function checkCrossKeys(options: DaemonOptions, problems: ProblemList): void {
  const { server, tls, metrics } = options;
  const bad = (...keys: string[]): boolean => keys.some((key) => problems.hasKey(key));
  // With only one of cert/key set, the tls.cert/tls.key rule below says what is missing.
  if (server.listen !== undefined && tls?.certPath === undefined && tls?.keyPath === undefined && !bad('tls.cert', 'tls.key')) {
    problems.invalid('server.listen', 'the TCP listener always uses TLS and needs [tls] cert and key');
  }
  if (server.mtls && tls?.caPath === undefined && !bad('tls.ca')) {
    problems.invalid('server.mtls', 'requires [tls] ca (the CA that signs client certificates)');
  }
  if (server.mtls && server.listen === undefined && !bad('server.listen')) {
    problems.invalid('server.mtls', 'only applies to the TCP listener, but server.listen is not set');
  }
  if (tls?.certPath !== undefined && tls.keyPath === undefined && !bad('tls.key')) {
    problems.invalid('tls.key', 'is required when tls.cert is set');
  }
  if (tls?.keyPath !== undefined && tls.certPath === undefined && !bad('tls.cert')) {
    problems.invalid('tls.cert', 'is required when tls.key is set');
  }
  checkPeeringKeys(options, bad, problems);
  if (metrics !== undefined && server.listen !== undefined && metrics.listen.port !== 0 && sameAddress(metrics.listen, server.listen)) {
    problems.invalid('metrics.listen', `${formatHostPort(metrics.listen)} is already used by server.listen`);
  }
}

/** Replication is mTLS-only: a node serves its peers on `listen` and presents its own certificate. */
function checkPeeringKeys(options: DaemonOptions, bad: (...keys: string[]) => boolean, problems: ProblemList): void {
  const { server, tls, peering } = options;
  if (!peering.enabled) return;
  if (server.listen === undefined && !bad('server.listen')) {
    problems.invalid('peering.enabled', 'requires server.listen (the TLS listener peers dial, e.g. "0.0.0.0:2900")');
  }
  const missing = (['ca', 'cert', 'key'] as const).filter((key) => {
    const path = key === 'ca' ? tls?.caPath : key === 'cert' ? tls?.certPath : tls?.keyPath;
    return path === undefined && !bad(`tls.${key}`);
  });
  if (missing.length > 0) {
    problems.invalid(
      'peering.enabled',
      `requires [tls] ${missing.join(', ')} (peers authenticate each other with certificates signed by the cluster CA in tls.ca; see docs/pki.md)`,
    );
  }
  peering.peers.forEach((peer, i) => {
    if (!peer.tls) {
      problems.invalid(`peering.peers[${i}].tls`, 'must be true: replication runs only over mutually authenticated TLS (remove the key or set it to true)');
    }
  });
}

function sameAddress(a: HostPort, b: HostPort): boolean {
  return a.host === b.host && a.port === b.port;
}
