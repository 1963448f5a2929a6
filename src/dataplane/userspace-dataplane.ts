// The embedded default data plane: mirrors the kernel maps in process memory and
// classifies packets handed to it (`classify`), counting per action and per tag
// exactly as the XDP program does. Nothing feeds it real traffic: it lets couic run
// without root, BPF or a NIC, and keeps the store/data-plane contract honest.
import type { Address } from '../domain/cidr.js';
import { LpmTable } from '../domain/lpm.js';
import type { Policy } from '../domain/policy.js';
import {
  XDP_ACTIONS,
  type DataPlane,
  type DataPlaneCounters,
  type DataPlaneUpdate,
  type TrafficCounter,
  type XdpActionName,
} from './dataplane.js';

/** Per-tag counters tracked, as in the kernel program. */
export const MAX_TRACKED_TAGS = 64;

export class UserspaceDataPlane implements DataPlane {
  readonly kind = 'userspace';
  private readonly maps: Record<Policy, LpmTable<string>> = { drop: new LpmTable(), ignore: new LpmTable() };
  private readonly actions = Object.fromEntries(XDP_ACTIONS.map((a) => [a, { packets: 0, bytes: 0 }])) as Record<
    XdpActionName,
    TrafficCounter
  >;
  private readonly tags: Record<Policy, Map<string, TrafficCounter>> = { drop: new Map(), ignore: new Map() };

  async apply(update: DataPlaneUpdate): Promise<void> {
    for (const { policy, cidr } of update.removals) this.maps[policy].delete(cidr);
    for (const { policy, cidr, tag } of update.upserts) this.maps[policy].set(cidr, tag);
  }

  /** Size of one map (both families). */
  entryCount(policy: Policy): number {
    return this.maps[policy].size;
  }

  /** What the XDP program would do with a packet from `source`: ignore first, then drop. */
  classify(source: Address, bytes: number): 'PASS' | 'DROP' {
    const ignored = this.maps.ignore.lookup(source);
    if (ignored !== undefined) {
      this.count('ignore', ignored.value, bytes);
      return this.countAction('PASS', bytes);
    }
    const dropped = this.maps.drop.lookup(source);
    if (dropped !== undefined) {
      this.count('drop', dropped.value, bytes);
      return this.countAction('DROP', bytes);
    }
    return this.countAction('PASS', bytes);
  }

  async readCounters(): Promise<DataPlaneCounters> {
    const copy = (c: TrafficCounter): TrafficCounter => ({ packets: c.packets, bytes: c.bytes });
    return {
      actions: Object.fromEntries(XDP_ACTIONS.map((a) => [a, copy(this.actions[a])])) as Record<XdpActionName, TrafficCounter>,
      tags: {
        drop: new Map([...this.tags.drop].map(([t, c]) => [t, copy(c)])),
        ignore: new Map([...this.tags.ignore].map(([t, c]) => [t, copy(c)])),
      },
    };
  }

  async close(): Promise<void> {
    this.maps.drop.clear();
    this.maps.ignore.clear();
  }

  private countAction<A extends XdpActionName>(action: A, bytes: number): A {
    const counter = this.actions[action];
    counter.packets++;
    counter.bytes += bytes;
    return action;
  }

  private count(policy: Policy, tag: string, bytes: number): void {
    const tags = this.tags[policy];
    let counter = tags.get(tag);
    if (counter === undefined) {
      if (tags.size >= MAX_TRACKED_TAGS) return;
      counter = { packets: 0, bytes: 0 };
      tags.set(tag, counter);
    }
    counter.packets++;
    counter.bytes += bytes;
  }
}
