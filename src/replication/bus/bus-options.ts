// Options of the NATS bus replication link, fully defaulted: the bus's own option type,
// which config/bus-config.ts compiles from [bus] in couic.toml.

export interface BusTlsOptions {
  /** CA bundle the NATS servers' certificates must chain to (default: system CAs). */
  caPath?: string;
  /** Client certificate presented to NATS (with keyPath). */
  certPath?: string;
  keyPath?: string;
}

/** At most one way to authenticate; undefined = none. */
export type BusAuth =
  | { readonly kind: 'user'; readonly user: string; readonly password: string }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'creds'; readonly credsPath: string };

export interface BusOptions {
  enabled: boolean;
  /** nats:// or tls:// URLs of one NATS server or of several of one cluster. */
  servers: string[];
  /** Send this node's (and relayed) rule changes to the bus. */
  publish: boolean;
  /** Apply rule changes read from the bus. */
  consume: boolean;
  /** Names the JetStream stream and subjects, so several clusters can share one NATS. */
  prefix: string;
  /** JetStream replicas of the stream when this node creates it (1, or 3 on a 3-server cluster). */
  replicas: number;
  /**
   * A publishing node compacts the stream once it holds more than max(this, twice its
   * size right after the last compaction) bytes.
   */
  compactMinBytes: number;
  /** Present when TLS to NATS is wanted (`tls = true`, any of ca/cert/key, or a tls:// URL). */
  tls?: BusTlsOptions;
  auth?: BusAuth;
}

export const BUS_DEFAULTS = {
  enabled: true,
  publish: true,
  consume: true,
  prefix: 'couic',
  replicas: 1,
  compactMinBytes: 64 * 1024 * 1024,
} as const;

export const BUS_LIMITS = {
  replicas: { min: 1, max: 5 },
  compactMinBytes: { min: 1, max: 2 ** 40 },
  /** Prefix: a NATS subject token and (upper-cased) part of a stream name. */
  prefix: /^[A-Za-z0-9_-]{1,32}$/,
} as const;
