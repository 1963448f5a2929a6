// The operations the bridge needs from a dnsdist, as a port: the real implementation
// sends Lua through the console (ConsoleDnsdistControl); unit tests use FakeDnsdist.
import type { DynBlockRow } from './dyn-block-table.js';
import type { BlockAction } from './lua.js';

export interface BlockGroup {
  /** Addresses ("192.0.2.1", "2001:db8::1") or, for suffix groups, domain names. */
  readonly items: readonly string[];
  readonly seconds: number;
  readonly reason: string;
  /** Lua DNSAction expression, e.g. "DNSAction.Drop" ("nil" = dnsdist's default). */
  readonly action: string;
}

export interface DnsdistControl {
  /** The dynamic block table (addresses and suffixes), as showDynBlocks() prints it. */
  listDynBlocks(): Promise<DynBlockRow[]>;
  /** Adds single-address blocks: one addDynBlocks per group (each copies dnsdist's table once). */
  addHostBlocks(groups: readonly BlockGroup[]): Promise<void>;
  /**
   * Clears the whole dynamic block table and adds `hosts` and `suffixes`, the clear and
   * the adds in one console command (so no query sees the table empty in between).
   */
  replaceDynBlocks(hosts: readonly BlockGroup[], suffixes: readonly BlockGroup[]): Promise<void>;
  /** Replaces the bridge's netmask-group rule (masks may be "!cidr" exceptions); none when empty. */
  replaceNetmaskRule(masks: readonly string[], action: BlockAction): Promise<void>;
  /** A cheap round trip (showVersion()): notices a dnsdist that restarted or went away. */
  ping(): Promise<void>;
  close(): void;
}
