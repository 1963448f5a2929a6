// An in-memory dnsdist for unit tests of the bridge: the dynamic block table with
// 1.7.3's semantics (addDynBlocks keeps the longer of two blocks, lifts nothing early;
// clearDynBlocks empties addresses and suffixes), the netmask-group rule (longest mask
// wins, "!" masks are exceptions), blocks the dnsdist "generates" itself, and a switch
// to make it unreachable. Counts the table copies 1.7.3 would make.
import { cidrContains, tryParseAddress, tryParseCidr } from '../domain/cidr.js';
import { ConsoleConnectionError } from './console/console-port.js';
import type { BlockGroup, DnsdistControl } from './dnsdist-control.js';
import type { DynBlockRow } from './dyn-block-table.js';
import type { BlockAction } from './lua.js';

interface FakeBlock {
  until: number;
  reason: string;
  action: string;
}

const ACTION_NAMES: Record<string, string> = {
  'DNSAction.Drop': 'Drop',
  'DNSAction.Refused': 'Send Refused',
  'DNSAction.Nxdomain': 'Send NXDomain',
  nil: 'Drop',
};

export class FakeDnsdist implements DnsdistControl {
  readonly hosts = new Map<string, FakeBlock>();
  readonly suffixes = new Map<string, FakeBlock>();
  netmaskRule: { masks: string[]; action: BlockAction } | undefined;
  /** addDynBlocks calls (each copies the whole table in 1.7.3). */
  tableCopies = 0;
  clears = 0;
  ruleReplacements = 0;
  /** Every mutating call, in order (a publish-only bridge must leave this empty). */
  readonly mutations: string[] = [];
  unreachable = false;

  constructor(private readonly nowSeconds: () => number) {}

  /** A block the dnsdist made itself (as a DynBlockRulesGroup rule would). */
  generate(address: string, seconds: number, reason: string, action = 'DNSAction.Refused'): void {
    this.insertHost(address, { until: this.nowSeconds() + seconds, reason, action });
  }

  async listDynBlocks(): Promise<DynBlockRow[]> {
    this.check();
    this.expire();
    const now = this.nowSeconds();
    const rows: DynBlockRow[] = [];
    for (const [what, b] of this.hosts) rows.push(row(what, 'netmask', b, now));
    for (const [what, b] of this.suffixes) rows.push(row(what, 'suffix', b, now));
    return rows;
  }

  async addHostBlocks(groups: readonly BlockGroup[]): Promise<void> {
    this.check();
    this.mutations.push('addHostBlocks');
    for (const g of groups) this.addGroup(g);
  }

  async replaceDynBlocks(hosts: readonly BlockGroup[], suffixes: readonly BlockGroup[]): Promise<void> {
    this.check();
    this.mutations.push('replaceDynBlocks');
    this.hosts.clear();
    this.suffixes.clear();
    this.clears++;
    for (const g of hosts) this.addGroup(g);
    for (const g of suffixes) {
      for (const name of g.items) this.suffixes.set(name, { until: this.nowSeconds() + g.seconds, reason: g.reason, action: g.action });
    }
  }

  async replaceNetmaskRule(masks: readonly string[], action: BlockAction): Promise<void> {
    this.check();
    this.mutations.push('replaceNetmaskRule');
    this.ruleReplacements++;
    this.netmaskRule = masks.length === 0 ? undefined : { masks: [...masks], action };
  }

  async ping(): Promise<void> {
    this.check();
  }

  close(): void {}

  /** A restart: everything dnsdist held at run time is gone. */
  restart(): void {
    this.hosts.clear();
    this.suffixes.clear();
    this.netmaskRule = undefined;
  }

  /** Would a query from `address` be blocked, and by what? */
  verdict(address: string): 'pass' | 'dynblock' | 'netmask-rule' {
    this.expire();
    const parsed = tryParseAddress(address);
    if (typeof parsed === 'string') throw new Error(parsed);
    const full = parsed.family === 4 ? 32 : 128;
    if (this.hosts.has(`${parsed.text}/${full}`)) return 'dynblock';
    if (this.netmaskRule === undefined) return 'pass';
    let best: { length: number; negated: boolean } | undefined;
    for (const mask of this.netmaskRule.masks) {
      const negated = mask.startsWith('!');
      const cidr = tryParseCidr(negated ? mask.slice(1) : mask);
      if (typeof cidr === 'string' || !cidrContains(cidr, parsed)) continue;
      if (best === undefined || cidr.prefixLength > best.length) best = { length: cidr.prefixLength, negated };
    }
    return best !== undefined && !best.negated ? 'netmask-rule' : 'pass';
  }

  private addGroup(g: BlockGroup): void {
    this.tableCopies++;
    const until = this.nowSeconds() + g.seconds;
    for (const item of g.items) {
      const address = tryParseAddress(item);
      if (typeof address === 'string') throw new Error(`newCA: ${address}`);
      this.insertHost(address.text, { until, reason: g.reason, action: g.action });
    }
  }

  private insertHost(address: string, block: FakeBlock): void {
    const parsed = tryParseAddress(address);
    if (typeof parsed === 'string') throw new Error(parsed);
    const key = `${parsed.text}/${parsed.family === 4 ? 32 : 128}`;
    const current = this.hosts.get(key);
    if (current !== undefined && current.until > this.nowSeconds() && block.until < current.until) return; // keeps the longer one
    this.hosts.set(key, block);
  }

  private expire(): void {
    const now = this.nowSeconds();
    for (const [k, b] of this.hosts) if (b.until <= now) this.hosts.delete(k);
    for (const [k, b] of this.suffixes) if (b.until <= now) this.suffixes.delete(k);
  }

  private check(): void {
    if (this.unreachable) throw new ConsoleConnectionError('fake dnsdist is unreachable');
  }
}

function row(what: string, kind: 'netmask' | 'suffix', b: FakeBlock, now: number): DynBlockRow {
  return { what, kind, remainingSeconds: Math.max(0, b.until - now), blocks: 0, warning: false, action: ACTION_NAMES[b.action] ?? 'Drop', reason: b.reason };
}
