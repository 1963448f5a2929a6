// Fully defaulted options of one couic-dnsdist bridge (units in the names).
import type { BlockAction } from './lua.js';

export type CouicEndpoint =
  | { readonly kind: 'unix'; readonly socketPath: string }
  | {
      readonly kind: 'tls';
      readonly host: string;
      readonly port: number;
      readonly caPath: string;
      readonly certPath?: string;
      readonly keyPath?: string;
      readonly serverName?: string;
    };

export interface BridgeOptions {
  readonly dnsdist: {
    readonly host: string;
    readonly port: number;
    /** The 32-byte key of dnsdist's setKey(). Never logged. */
    readonly key: Uint8Array;
    /** What the bridge's blocks do to a query. */
    readonly action: BlockAction;
  };
  readonly couic: {
    readonly endpoint: CouicEndpoint;
    /** Bearer token (clientrw to publish, clientro is enough to consume). Never logged. */
    readonly token: string;
  };
  readonly sync: {
    readonly publish: boolean;
    readonly consume: boolean;
    readonly publishNetmasks: boolean;
    readonly publishSuffixes: boolean;
    /** How often the dnsdist's block table is read for publish. */
    readonly pollIntervalMs: number;
    /** At most one round of dnsdist changes per interval (1.7.3 copies its table per call). */
    readonly batchIntervalMs: number;
    /** Where the Watch cursor (with the rules it covers) is kept; none = snapshot on every start. */
    readonly stateFile: string | undefined;
    /** How often the state file is rewritten when the cursor moved (and on shutdown). */
    readonly stateSaveIntervalMs: number;
    readonly reconnectMinMs: number;
    readonly reconnectMaxMs: number;
  };
  readonly logLevel: string;
}

export const SYNC_DEFAULTS = {
  publish: false,
  consume: true,
  publishNetmasks: true,
  publishSuffixes: true,
  pollIntervalMs: 1000,
  batchIntervalMs: 1000,
  stateSaveIntervalMs: 5000,
  reconnectMinMs: 200,
  reconnectMaxMs: 30_000,
} as const;

/** Reason prefix of every block the bridge installs (how publish recognises them). */
export const BRIDGE_REASON_PREFIX = 'couic:';
