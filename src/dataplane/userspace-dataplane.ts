// The embedded default data plane: mirrors the kernel maps in process memory and
// classifies packets handed to it (`classify`), counting per action and per tag
// exactly as the XDP program does. Nothing feeds it real traffic: it lets couic run
// without root, BPF or a NIC, and keeps the store/data-plane contract honest.
import type { Address, AddressFamily, Cidr } from '../domain/cidr.js';
import { Interner } from '../domain/interner.js';
import { KeyIndex } from '../domain/key-index.js';
import type { Policy } from '../domain/policy.js';
import { encodeCidrKey, encodePrefixKey, KEY_WORDS, policyCode } from '../domain/rule-key.js';
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
  private readonly maps = new CompactLpmMap();
  private readonly actions = Object.fromEntries(XDP_ACTIONS.map((a) => [a, { packets: 0, bytes: 0 }])) as Record<
    XdpActionName,
    TrafficCounter
  >;
  private readonly tags: Record<Policy, Map<string, TrafficCounter>> = { drop: new Map(), ignore: new Map() };

  async apply(update: DataPlaneUpdate): Promise<void> {
    for (const { policy, cidr } of update.removals) this.maps.delete(policy, cidr);
    for (const { policy, cidr, tag } of update.upserts) this.maps.set(policy, cidr, tag);
  }

  /** Size of one map (both families). */
  entryCount(policy: Policy): number {
    return this.maps.size(policy);
  }

  /** What the XDP program would do with a packet from `source`: ignore first, then drop. */
  classify(source: Address, bytes: number): 'PASS' | 'DROP' {
    const ignored = this.maps.lookup('ignore', source);
    if (ignored !== undefined) {
      this.count('ignore', ignored, bytes);
      return this.countAction('PASS', bytes);
    }
    const dropped = this.maps.lookup('drop', source);
    if (dropped !== undefined) {
      this.count('drop', dropped, bytes);
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
    this.maps.clear();
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

/**
 * The two policies' LPM maps, as compact as the store's table: binary keys in a
 * KeyIndex, the tag id per slot, the prefix lengths in use per (policy, family).
 */
class CompactLpmMap {
  private index = new KeyIndex();
  private tagIds = new Uint32Array(this.index.capacity);
  private readonly tags = new Interner();
  private readonly key = new Uint32Array(KEY_WORDS);
  private readonly keyBytes = new Uint8Array(this.key.buffer);
  /** [policyCode * 2 + family index][length] = entries */
  private lengthCounts = [new Int32Array(129), new Int32Array(129), new Int32Array(129), new Int32Array(129)];
  private lengths: number[][] = [[], [], [], []];
  private readonly sizes = new Int32Array(2);

  constructor() {
    this.index.onGrow = (capacity) => this.grow(capacity);
  }

  set(policy: Policy, cidr: Cidr, tag: string): void {
    encodeCidrKey(policy, cidr, this.keyBytes);
    const slot = this.index.insert(this.key);
    if (this.index.created) {
      this.tagIds[slot] = this.tags.acquire(tag);
      this.countLength(policy, cidr.family, cidr.prefixLength, 1);
      return;
    }
    const previous = this.tagIds[slot] ?? 0;
    this.tagIds[slot] = this.tags.acquire(tag);
    this.tags.release(previous);
  }

  delete(policy: Policy, cidr: Cidr): void {
    encodeCidrKey(policy, cidr, this.keyBytes);
    const slot = this.index.find(this.key);
    if (slot < 0) return;
    this.tags.release(this.tagIds[slot] ?? 0);
    this.index.remove(slot);
    this.countLength(policy, cidr.family, cidr.prefixLength, -1);
  }

  size(policy: Policy): number {
    return this.sizes[policyCode(policy)] ?? 0;
  }

  /** Tag of the longest prefix of `policy` containing `address`, if any. */
  lookup(policy: Policy, address: Address): string | undefined {
    const code = policyCode(policy);
    for (const length of this.lengths[code * 2 + (address.family === 4 ? 0 : 1)] as number[]) {
      encodePrefixKey(code, address.family, address.bytes, length, this.keyBytes);
      const slot = this.index.find(this.key);
      if (slot >= 0) return this.tags.text(this.tagIds[slot] ?? 0);
    }
    return undefined;
  }

  clear(): void {
    this.index = new KeyIndex();
    this.index.onGrow = (capacity) => this.grow(capacity);
    this.tagIds = new Uint32Array(this.index.capacity);
    this.lengthCounts = [new Int32Array(129), new Int32Array(129), new Int32Array(129), new Int32Array(129)];
    this.lengths = [[], [], [], []];
    this.sizes.fill(0);
  }

  private countLength(policy: Policy, family: AddressFamily, length: number, delta: 1 | -1): void {
    const code = policyCode(policy);
    const t = code * 2 + (family === 4 ? 0 : 1);
    const counts = this.lengthCounts[t] as Int32Array;
    const n = (counts[length] ?? 0) + delta;
    counts[length] = n;
    this.sizes[code] = (this.sizes[code] ?? 0) + delta;
    if (delta === 1 && n === 1) this.lengths[t] = [...(this.lengths[t] as number[]), length].sort((a, b) => b - a);
    if (delta === -1 && n === 0) this.lengths[t] = (this.lengths[t] as number[]).filter((l) => l !== length);
  }

  private grow(capacity: number): void {
    const tagIds = new Uint32Array(capacity);
    tagIds.set(this.tagIds);
    this.tagIds = tagIds;
  }
}
