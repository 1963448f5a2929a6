// The XDP data plane: loads bpf/couic.bpf.o with its maps pinned under the pin
// directory, attaches it to the configured interfaces, and keeps the kernel maps
// equal to the store. Batches go through BPF batch syscalls; an entry the kernel
// refuses is reported (apply rejects, a warning is logged) and retried until it
// lands, so the store and the kernel never silently differ. At start it adopts
// what the pinned maps already hold (a restart keeps filtering), and reconcile()
// removes what the store no longer has once the store is restored.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { AddressFamily } from '../../domain/cidr.js';
import { POLICIES, type Policy } from '../../domain/policy.js';
import {
  XDP_ACTIONS,
  type DataPlane,
  type DataPlaneCounters,
  type DataPlaneUpdate,
  type TrafficCounter,
  type XdpActionName,
} from '../dataplane.js';
import { BpfError } from './bpf-error.js';
import { preparePinDir } from './bpffs.js';
import { EmptyTries } from './empty-tries.js';
import {
  ACTION_STATS_MAP,
  ALL_MAPS,
  arrayKey,
  COUNTER_SIZE,
  encodeKey,
  encodeRuleValue,
  keySize,
  RULE_MAPS,
  RULE_VALUE_SIZE,
  TAG_NAME_LEN,
  TAG_NAMES_MAP,
  TAG_SLOTS,
  TAG_STATS_MAPS,
  TAG_UNTRACKED,
  UNTRACKED_TAG_NAME,
  XDP_PROGRAM,
} from './layout.js';
import { closeFd, loadObject, mapLookup, mapNextKey, mapUpdate, possibleCpus, type LoadedObject } from './libbpf.js';
import { MapWriter, type WriteFailure } from './map-writer.js';
import { TagSlots } from './tag-slots.js';
import { attachAll, resolveInterfaces, type XdpMode } from './xdp-links.js';

/** Where `npm run build:bpf` puts the object (relative to src/ or dist/ alike). */
export const DEFAULT_OBJECT_PATH = fileURLToPath(new URL('../../../build/bpf/couic.bpf.o', import.meta.url));
export const DEFAULT_PIN_DIR = '/sys/fs/bpf/couic';
/** Delay before failed kernel writes are tried again (doubles up to 30 s). */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

export interface XdpDataPlaneOptions {
  readonly ifaces: readonly string[];
  readonly pinDir: string;
  readonly mode: XdpMode;
  readonly objectPath?: string;
  readonly logger: Logger;
}

/** One rule as the kernel holds it. */
interface KernelEntry {
  readonly policy: Policy;
  readonly family: AddressFamily;
  readonly key: Buffer;
  readonly slot: number;
}

/** A write the kernel has not confirmed yet: an entry, or a deletion (slot undefined). */
interface PendingWrite {
  readonly id: string;
  readonly policy: Policy;
  readonly family: AddressFamily;
  readonly key: Buffer;
  readonly slot: number | undefined;
}

const ACTION_INDEX: Readonly<Record<XdpActionName, number>> = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 };

export class XdpDataPlane implements DataPlane {
  readonly kind = 'xdp';
  /** What the store wants in the kernel, by map and key. */
  private readonly entries = new Map<string, KernelEntry>();
  /** Entries found in the pinned maps at start and not (yet) confirmed by the store. */
  private readonly stale = new Set<string>();
  /** Slot of each adopted entry (identical entries are not rewritten). */
  private readonly adoptedSlots = new Map<string, number>();
  private readonly pending = new Map<string, PendingWrite>();
  private readonly writers = new Map<string, MapWriter>();
  private readonly tags: TagSlots;
  private readonly emptyTries: EmptyTries;
  private readonly cpus = possibleCpus();
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = RETRY_FIRST_MS;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  private linkFds: readonly number[] = [];

  private constructor(
    private readonly object: LoadedObject,
    private readonly logger: Logger,
  ) {
    for (const policy of POLICIES) {
      for (const family of [4, 6] as const) {
        const name = RULE_MAPS[policy][family];
        this.writers.set(name, new MapWriter(object.mapFd(name), keySize(family), RULE_VALUE_SIZE));
      }
    }
    this.tags = new TagSlots({ assign: (slot, name) => this.assignSlot(slot, name) });
    this.emptyTries = new EmptyTries(object);
  }

  /** Loads, reuses pinned maps, attaches. Throws BpfError with a one-line reason. */
  static async open(options: XdpDataPlaneOptions): Promise<XdpDataPlane> {
    const { logger, pinDir } = options;
    const objectPath = options.objectPath ?? DEFAULT_OBJECT_PATH;
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new BpfError('XDP data plane', 1, 'needs root (CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN to load and attach XDP); run couic as root or set ifaces = []');
    }
    await access(objectPath).catch(() => {
      throw new BpfError(`XDP object ${objectPath}`, 2, `not found at ${objectPath}: build it with "npm run build:bpf" (needs clang and libbpf-dev)`);
    });
    const interfaces = resolveInterfaces(options.ifaces);
    if (await preparePinDir(pinDir)) logger.info('XDP: mounted bpffs on /sys/fs/bpf');
    const object = loadWithPins(objectPath, pinDir);
    let links: number[] = [];
    try {
      const plane = new XdpDataPlane(object, logger);
      plane.adoptPinnedState();
      // Before the program runs (or replaces the previous one in the pinned links):
      // mark exactly the tries that hold nothing now.
      plane.emptyTries.syncAll();
      const attached = await attachAll(object.programFd(XDP_PROGRAM), interfaces, pinDir, options.mode, logger);
      links = attached.map((l) => l.fd);
      plane.linkFds = links;
      logger.info(
        { pinDir, ifaces: options.ifaces, adoptedEntries: plane.stale.size },
        'data plane: XDP (maps pinned; a restart keeps filtering)',
      );
      return plane;
    } catch (error) {
      for (const fd of links) closeFd(fd);
      object.close();
      throw error;
    }
  }

  /** Entries per policy (both families) as this data plane believes the kernel holds them. */
  entryCount(policy: Policy): number {
    let n = 0;
    for (const entry of this.entries.values()) if (entry.policy === policy) n++;
    for (const id of this.stale) if (id.startsWith(`${policy}:`)) n++;
    return n;
  }

  /** Writes not yet accepted by the kernel (being retried). */
  get pendingWrites(): number {
    return this.pending.size;
  }

  apply(update: DataPlaneUpdate): Promise<void> {
    const run = this.chain.then(() => this.applyNow(update));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * After the store restored its rules and sets: deletes what the pinned maps held
   * that the store no longer has. Returns how many entries were removed.
   */
  reconcile(): Promise<number> {
    const run = this.chain.then(async () => {
      const writes: PendingWrite[] = [...this.stale].map((id) => {
        this.dropStale(id);
        const [policy, family, hex] = id.split(':') as [Policy, string, string];
        return { id, policy, family: Number(family) as AddressFamily, key: Buffer.from(hex, 'hex'), slot: undefined };
      });
      const failures = await this.write(writes);
      this.logger.info({ removed: writes.length - failures.length, failed: failures.length }, 'XDP: pinned maps reconciled with the store');
      if (failures.length > 0) this.reportFailures(failures, writes.length);
      return writes.length - failures.length;
    });
    this.chain = run.then(() => undefined, () => undefined);
    return run;
  }

  async readCounters(): Promise<DataPlaneCounters> {
    const actionsFd = this.object.mapFd(ACTION_STATS_MAP);
    const actions = Object.fromEntries(
      XDP_ACTIONS.map((action) => [action, this.readPerCpu(actionsFd, ACTION_INDEX[action])]),
    ) as Record<XdpActionName, TrafficCounter>;
    const tags: Record<Policy, Map<string, TrafficCounter>> = { drop: new Map(), ignore: new Map() };
    for (const policy of POLICIES) {
      const fd = this.object.mapFd(TAG_STATS_MAPS[policy]);
      for (let slot = 0; slot < TAG_SLOTS; slot++) {
        const name = slot === TAG_UNTRACKED ? UNTRACKED_TAG_NAME : this.tags.nameOf(slot);
        if (name === undefined) continue;
        const counter = this.readPerCpu(fd, slot);
        if (counter.packets > 0) tags[policy].set(name, counter);
      }
    }
    return { actions, tags };
  }

  /** Closes fds; the pinned links and maps stay, so the program keeps filtering. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (this.pending.size > 0) this.logger.warn({ pending: this.pending.size }, 'XDP: stopping with kernel writes still failing');
    for (const fd of this.linkFds) closeFd(fd);
    this.object.close();
  }

  // --- internals -----------------------------------------------------------

  private async applyNow(update: DataPlaneUpdate): Promise<void> {
    const writes: PendingWrite[] = [];
    for (const { policy, cidr } of update.removals) {
      const id = entryId(policy, cidr.family, encodeKey(cidr));
      const current = this.entries.get(id);
      const wasStale = this.dropStale(id) !== undefined;
      if (current === undefined && !wasStale && !this.pending.has(id)) continue;
      this.entries.delete(id);
      if (current !== undefined) this.tags.release(current.slot);
      writes.push({ id, policy, family: cidr.family, key: encodeKey(cidr), slot: undefined });
    }
    for (const { policy, cidr, tag } of update.upserts) {
      const key = encodeKey(cidr);
      const id = entryId(policy, cidr.family, key);
      const current = this.entries.get(id);
      const slot = this.tags.acquire(tag);
      if (current !== undefined) this.tags.release(current.slot);
      const adoptedSlot = this.dropStale(id);
      this.entries.set(id, { policy, family: cidr.family, key, slot });
      // Already in the kernel with that slot (adopted from the pins, or unchanged).
      if (this.pending.has(id)) this.pending.delete(id);
      else if (adoptedSlot === slot || current?.slot === slot) continue;
      writes.push({ id, policy, family: cidr.family, key, slot });
    }
    const failures = await this.write(writes);
    if (failures.length > 0) this.reportFailures(failures, writes.length);
  }

  private async write(writes: readonly PendingWrite[]): Promise<WriteFailure<PendingWrite>[]> {
    const failures: WriteFailure<PendingWrite>[] = [];
    for (const policy of POLICIES) {
      for (const family of [4, 6] as const) {
        const writer = this.writers.get(RULE_MAPS[policy][family]);
        if (writer === undefined) continue;
        const mine = writes.filter((w) => w.policy === policy && w.family === family);
        const deletes = mine.filter((w) => w.slot === undefined);
        const upserts = mine.filter((w) => w.slot !== undefined);
        if (deletes.length > 0) failures.push(...(await writer.delete(deletes, (w) => w.key)));
        if (upserts.length > 0) {
          // The program must look this trie up before it holds anything.
          const unmarked = this.unmarkEmpty(policy, family);
          if (unmarked !== undefined) failures.push(...upserts.map((item) => ({ item, error: unmarked })));
          else failures.push(...(await writer.upsert(upserts, (w) => w.key, (w) => encodeRuleValue(w.slot ?? 0))));
        } else if (deletes.length > 0) {
          this.markIfEmpty(policy, family);
        }
      }
    }
    const failed = new Set(failures.map((f) => f.item.id));
    for (const w of writes) if (!failed.has(w.id)) this.pending.delete(w.id);
    for (const { item } of failures) this.pending.set(item.id, item);
    return failures;
  }

  /** Clears the trie's empty mark; the error when it could not be cleared. */
  private unmarkEmpty(policy: Policy, family: AddressFamily): BpfError | undefined {
    try {
      this.emptyTries.beforeInsert(policy, family);
      return undefined;
    } catch (error) {
      return error instanceof BpfError ? error : new BpfError('mark trie non-empty', 5, String(error));
    }
  }

  /** Marks the trie empty when the kernel holds nothing in it; failing only costs speed. */
  private markIfEmpty(policy: Policy, family: AddressFamily): void {
    try {
      this.emptyTries.afterDelete(policy, family);
    } catch (error) {
      this.logger.debug({ policy, family, err: String(error) }, 'XDP: could not mark an empty trie (lookups continue)');
    }
  }

  /** Whether the program skips this trie now (tests). */
  skipsTrie(policy: Policy, family: AddressFamily): boolean {
    return this.emptyTries.isMarkedEmpty(policy, family);
  }

  private reportFailures(failures: readonly WriteFailure<PendingWrite>[], total: number): never {
    const first = failures[0];
    this.logger.warn(
      { failed: failures.length, of: total, pending: this.pending.size, firstError: first?.error.message },
      'XDP: the kernel refused map writes; retrying in the background',
    );
    this.scheduleRetry();
    throw new BpfError(
      'XDP data plane',
      first?.error.errno ?? 5,
      `the kernel refused ${failures.length} of ${total} map writes (${first?.error.message ?? 'unknown'}); they are retried until they land`,
    );
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const run = this.chain.then(async () => {
        const writes = [...this.pending.values()].map((w) => {
          // The store may have changed the entry since: write what it wants now.
          const wanted = this.entries.get(w.id);
          return { ...w, slot: wanted?.slot };
        });
        const failures = await this.write(writes);
        if (failures.length === 0) {
          this.logger.info({ written: writes.length }, 'XDP: retried map writes landed; kernel and store agree again');
          this.retryDelayMs = RETRY_FIRST_MS;
          return;
        }
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, RETRY_MAX_MS);
        this.logger.warn({ pending: failures.length, firstError: failures[0]?.error.message }, 'XDP: map writes still refused; retrying');
        this.scheduleRetry();
      });
      this.chain = run.catch(() => undefined);
    }, this.retryDelayMs);
    this.retryTimer.unref();
  }

  /** Reads what the pinned maps hold: entries (as stale until the store confirms) and tag names. */
  private adoptPinnedState(): void {
    const slots: number[] = [];
    const value = Buffer.alloc(RULE_VALUE_SIZE);
    for (const policy of POLICIES) {
      for (const family of [4, 6] as const) {
        const fd = this.object.mapFd(RULE_MAPS[policy][family]);
        let key: Buffer | null = null;
        const next = Buffer.alloc(keySize(family));
        while (mapNextKey(fd, key, next)) {
          key = Buffer.from(next);
          if (!mapLookup(fd, key, value)) continue;
          const id = entryId(policy, family, key);
          const slot = value.readUInt32LE(0);
          this.stale.add(id);
          this.adoptedSlots.set(id, slot);
          slots.push(slot);
        }
      }
    }
    const names = new Map<number, string>();
    const namesFd = this.object.mapFd(TAG_NAMES_MAP);
    const raw = Buffer.alloc(TAG_NAME_LEN);
    for (let slot = 1; slot < TAG_UNTRACKED; slot++) {
      if (!mapLookup(namesFd, arrayKey(slot), raw)) continue;
      const end = raw.indexOf(0);
      const name = raw.subarray(0, end === -1 ? raw.length : end).toString('utf8');
      if (name !== '') names.set(slot, name);
    }
    // Adopted entries hold their slot until the store confirms or drops them.
    this.tags.restore(names, slots);
  }

  /** Forgets an adopted entry (its slot reference goes); returns the slot it had. */
  private dropStale(id: string): number | undefined {
    if (!this.stale.delete(id)) return undefined;
    const slot = this.adoptedSlots.get(id);
    this.adoptedSlots.delete(id);
    if (slot !== undefined) this.tags.release(slot);
    return slot;
  }

  private assignSlot(slot: number, name: string): void {
    const raw = Buffer.alloc(TAG_NAME_LEN);
    raw.write(name.slice(0, TAG_NAME_LEN - 1), 'utf8');
    mapUpdate(this.object.mapFd(TAG_NAMES_MAP), arrayKey(slot), raw);
    const zero = Buffer.alloc(COUNTER_SIZE * this.cpus);
    for (const policy of POLICIES) mapUpdate(this.object.mapFd(TAG_STATS_MAPS[policy]), arrayKey(slot), zero);
  }

  private readPerCpu(fd: number, index: number): TrafficCounter {
    const buffer = Buffer.alloc(COUNTER_SIZE * this.cpus);
    if (!mapLookup(fd, arrayKey(index), buffer)) return { packets: 0, bytes: 0 };
    let packets = 0n;
    let bytes = 0n;
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      packets += buffer.readBigUInt64LE(cpu * COUNTER_SIZE);
      bytes += buffer.readBigUInt64LE(cpu * COUNTER_SIZE + 8);
    }
    return { packets: Number(packets), bytes: Number(bytes) };
  }
}

function entryId(policy: Policy, family: AddressFamily, key: Uint8Array): string {
  return `${policy}:${family}:${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex')}`;
}

function loadWithPins(objectPath: string, pinDir: string): LoadedObject {
  const pins = new Map(ALL_MAPS.map((name) => [name, join(pinDir, name)]));
  try {
    return loadObject(objectPath, pins);
  } catch (error) {
    if (error instanceof BpfError && (error.errno === 1 || error.errno === 13)) {
      throw new BpfError('load the XDP program', error.errno, 'not permitted: needs root (CAP_BPF, CAP_NET_ADMIN)');
    }
    if (error instanceof BpfError && error.errno === 22 && error.operation.startsWith('load')) {
      throw new BpfError(
        'load the XDP program',
        22,
        `refused (invalid argument): pinned maps in ${pinDir} may not match this program; "couic --detach" removes them`,
      );
    }
    throw error;
  }
}
