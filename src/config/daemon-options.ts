// The daemon's fully defaulted options, as compiled from couic.toml. Units are in the
// names; paths are absolute. Everything downstream reads these, never the raw TOML.

import type { NodeIdBinding, PeerOptions } from '../replication/mesh/peer-options.js';
import type { BusOptions } from '../replication/bus/bus-options.js';
import type { XdpOptions } from './xdp-config.js';
import type { HostPort } from '../domain/host-port.js';

export const DEFAULT_DAEMON_CONFIG_PATH = '/etc/couic/couic.toml';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggingOptions {
  /** Directory for log files; undefined means stdout. */
  dir?: string;
  format: LogFormat;
  level: LogLevel;
}

export interface ServerOptions {
  /** Unix socket of the API, always served. */
  socketPath: string;
  /** Optional TCP listener, always TLS ([tls] cert and key are then present). */
  listen?: HostPort;
  /** Require client certificates on `listen` ([tls] ca is then present). */
  mtls: boolean;
}

export interface TlsOptions {
  caPath?: string;
  certPath?: string;
  keyPath?: string;
}

export interface MetricsOptions {
  listen: HostPort;
}

export interface PersistenceOptions {
  /** Group-commit window of the journal. */
  flushIntervalMs: number;
  /** Journal records between snapshots. */
  snapshotEvery: number;
}

export type { NodeIdBinding, PeerOptions } from '../replication/mesh/peer-options.js';
export { NODE_ID_BINDINGS } from '../replication/mesh/peer-options.js';

export interface PeeringOptions {
  enabled: boolean;
  peers: PeerOptions[];
  /** Coalesced deltas are flushed to each peer this often. */
  flushIntervalMs: number;
  /** Tombstones (and expired entries) are kept this long past the moment they stop mattering. */
  tombstoneLifetimeS: number;
  /** Cap of the exponential reconnect backoff (jittered, from 250 ms). */
  reconnectMaxMs: number;
  /** What an inbound peer's announced node id must match: its peering client name, its certificate CN, or nothing. */
  nodeIdBinding: NodeIdBinding;
}

export interface ReplicationOptions {
  /** Received record versions further ahead of this node's clock are refused (HLC max offset). */
  maxClockOffsetMs: number;
  /** Changed keys a Watch client may fall behind by before its stream is ended (its memory bound). */
  watchMaxPendingKeys: number;
}

export interface DaemonOptions {
  /** Interfaces to attach XDP to; empty means the userspace data plane. */
  ifaces: string[];
  workingDir: string;
  user?: string;
  group?: string;
  /** From the config; when undefined, resolveNodeId() derives and persists one. */
  nodeId?: string;
  logging: LoggingOptions;
  server: ServerOptions;
  /** Present when [tls] sets at least one key. */
  tls?: TlsOptions;
  metrics?: MetricsOptions;
  persistence: PersistenceOptions;
  peering: PeeringOptions;
  /** [replication]: what every replication transport (mesh, bus) applies to received records. */
  replication: ReplicationOptions;
  /** Present when [bus] is in the config (NATS bus replication). */
  bus?: BusOptions;
  /** Present when [xdp] is in the config; used only when `ifaces` is non-empty. */
  xdp?: XdpOptions;
}

export const DAEMON_DEFAULTS = {
  workingDir: '/var/lib/couic',
  socketPath: '/run/couic/couic.sock',
  logFormat: 'json' as LogFormat,
  logLevel: 'info' as LogLevel,
  mtls: false,
  flushIntervalMs: 2,
  snapshotEvery: 100_000,
  peeringEnabled: false,
  peerTls: true,
  peeringFlushIntervalMs: 250,
  tombstoneLifetimeS: 86_400,
  reconnectMaxMs: 30_000,
  maxClockOffsetMs: 60_000,
  watchMaxPendingKeys: 524_288,
  nodeIdBinding: 'client' as NodeIdBinding,
} as const;

/** Limits of the numeric settings (also shown in docs/config.md). */
export const DAEMON_LIMITS = {
  flushIntervalMs: { min: 0, max: 60_000 },
  snapshotEvery: { min: 1, max: 1_000_000_000 },
  peeringFlushIntervalMs: { min: 1, max: 60_000 },
  tombstoneLifetimeS: { min: 1, max: 31_536_000 },
  reconnectMaxMs: { min: 250, max: 600_000 },
  /** Below a second, ordinary NTP jitter would refuse records; above a day, the bound protects little. */
  maxClockOffsetMs: { min: 1_000, max: 86_400_000 },
  watchMaxPendingKeys: { min: 1_000, max: 10_000_000 },
  /** Linux sockaddr_un.sun_path is 108 bytes including the terminating NUL. */
  socketPathBytes: 107,
} as const;
