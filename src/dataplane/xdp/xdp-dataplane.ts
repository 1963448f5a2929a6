// The XDP data plane: loads bpf/couic.bpf.o with its maps pinned under the pin
// directory, adopts what they hold (a restart keeps filtering; so does an upgrade
// from the previous LPM-trie layout, whose tries are read once, compiled, and
// unpinned after the program swap), attaches it to the configured interfaces, and
// keeps the kernel equal to the store through RuleSync (record + compiled tables).
// A write the kernel refuses leaves the rule accepted with enforcement pending
// (reported in apply's outcome, stats and metrics; retried), never an error.
import { access, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { AddressFamily, Cidr } from '../../domain/cidr.js';
import { POLICIES, type Policy } from '../../domain/policy.js';
import { Backoff } from '../../domain/backoff.js';
import { systemScheduler, type Scheduler } from '../../domain/scheduler.js';
import {
  XDP_ACTIONS,
  type DataPlane,
  type DataPlaneCounters,
  type DataPlaneUpdate,
  type PendingEnforcement,
  type TrafficCounter,
  type XdpActionName,
} from '../dataplane.js';
import { BpfError } from './bpf-error.js';
import { preparePinDir } from './bpffs.js';
import type { KernelMaps } from './kernel-maps.js';
import { ALL_MAPS, keySize, LEGACY_ONLY_MAPS, LEGACY_RULE_MAPS, TAG_SLOTS, TAG_UNTRACKED, UNTRACKED_TAG_NAME, V4_BLOCKS, V6_LONG_ENTRIES, XDP_PROGRAM } from './layout.js';
import { LibbpfKernelMaps } from './libbpf-kernel-maps.js';
import { closeFd, loadObject, mapLookup, mapNextKey, openPinned, type LoadedObject } from './libbpf.js';
import { RuleSync } from './rule-sync.js';
import { TableCompiler } from './table-compiler.js';
import { TagSlots } from './tag-slots.js';
import { attachAll, resolveInterfaces, type XdpMode } from './xdp-links.js';

/** Where `npm run build:bpf` puts the object (relative to src/ or dist/ alike). */
export const DEFAULT_OBJECT_PATH = fileURLToPath(new URL('../../../build/bpf/couic.bpf.o', import.meta.url));
export const DEFAULT_PIN_DIR = '/sys/fs/bpf/couic';
/** Delay before refused kernel writes are tried again (doubles, with jitter, up to 30 s). */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

export interface XdpDataPlaneOptions {
  readonly ifaces: readonly string[];
  readonly pinDir: string;
  readonly mode: XdpMode;
  readonly objectPath?: string;
  readonly logger: Logger;
  /** Timers for retries (tests inject a manual one). */
  readonly scheduler?: Scheduler;
}

const ACTION_INDEX: Readonly<Record<XdpActionName, number>> = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 };

export class XdpDataPlane implements DataPlane {
  readonly kind = 'xdp';
  private linkFds: readonly number[] = [];
  private closed = false;

  private constructor(
    private readonly object: LoadedObject | undefined,
    private readonly kernel: KernelMaps,
    private readonly tags: TagSlots,
    private readonly sync: RuleSync,
  ) {}

  /** A data plane over any KernelMaps, attached to nothing (unit tests, on the fake). */
  static async overKernel(kernel: KernelMaps, logger: Logger, scheduler: Scheduler, limits = { v4Blocks: V4_BLOCKS, v6Long: V6_LONG_ENTRIES }): Promise<XdpDataPlane> {
    const { tags, sync } = makeSync(kernel, logger, scheduler, limits);
    await sync.adopt();
    return new XdpDataPlane(undefined, kernel, tags, sync);
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
    let kernel: LibbpfKernelMaps | undefined;
    let links: number[] = [];
    try {
      kernel = new LibbpfKernelMaps(object);
      const { tags, sync } = makeSync(kernel, logger, options.scheduler ?? systemScheduler, { v4Blocks: V4_BLOCKS, v6Long: V6_LONG_ENTRIES });
      const legacy = readLegacyTries(pinDir);
      const adopted = await sync.adopt(legacy.entries);
      const plane = new XdpDataPlane(object, kernel, tags, sync);
      // The tables filter exactly what the pins held before the new program runs.
      const attached = await attachAll(object.programFd(XDP_PROGRAM), interfaces, pinDir, options.mode, logger);
      links = attached.map((l) => l.fd);
      plane.linkFds = links;
      if (legacy.found) {
        for (const name of LEGACY_ONLY_MAPS) await unlink(join(pinDir, name)).catch(() => undefined);
        logger.info({ entries: legacy.entries.length }, 'XDP: upgraded from the LPM-trie layout (tries compiled into tables, then unpinned; no gap)');
      }
      logger.info(
        { pinDir, ifaces: options.ifaces, adoptedEntries: adopted, kernelMemoryMiB: Math.round(kernel.memoryBytes() / 2 ** 20) },
        'data plane: XDP (compiled tables, maps pinned; a restart keeps filtering)',
      );
      return plane;
    } catch (error) {
      for (const fd of links) closeFd(fd);
      kernel?.close();
      object.close();
      throw error;
    }
  }

  /** Entries per policy (both families) as the kernel enforces them. */
  entryCount(policy: Policy): number {
    return this.sync.enforcedCount(policy);
  }

  /** Rules accepted whose enforcement is pending (refused writes being retried). */
  get pendingWrites(): number {
    return this.sync.pendingEnforcement;
  }

  /** Tag slot a tag's hits count under (tests). */
  tagSlot(tag: string): number | undefined {
    return this.tags.slotOf(tag);
  }

  /** Kernel memory of the maps, in bytes. */
  memoryBytes(): number {
    return this.kernel.memoryBytes();
  }

  /** Resolves even when the kernel refused writes: those rules stand, enforcement pending (pendingEnforcement()). */
  async apply(update: DataPlaneUpdate): Promise<void> {
    await this.sync.apply(update);
  }

  pendingEnforcement(): readonly PendingEnforcement[] {
    return this.sync.pendingRules().map((p) => ({ policy: p.policy, cidr: p.cidr, reason: p.error.message }));
  }

  /**
   * After the store restored its rules and sets: removes what the pinned maps held
   * that the store no longer has. Returns how many rules were removed.
   */
  reconcile(): Promise<number> {
    return this.sync.reconcile();
  }

  async readCounters(): Promise<DataPlaneCounters> {
    const actions = Object.fromEntries(XDP_ACTIONS.map((action) => [action, this.kernel.readCounter('actions', ACTION_INDEX[action])])) as Record<
      XdpActionName,
      TrafficCounter
    >;
    const tags: Record<Policy, Map<string, TrafficCounter>> = { drop: new Map(), ignore: new Map() };
    for (const policy of POLICIES) {
      for (let slot = 0; slot < TAG_SLOTS; slot++) {
        const name = slot === TAG_UNTRACKED ? UNTRACKED_TAG_NAME : this.tags.nameOf(slot);
        if (name === undefined) continue;
        const counter = this.kernel.readCounter(policy, slot);
        if (counter.packets > 0) tags[policy].set(name, { packets: counter.packets, bytes: counter.bytes });
      }
    }
    return { actions, tags, pendingEnforcement: this.sync.pendingEnforcement };
  }

  /** Closes fds; the pinned links and maps stay, so the program keeps filtering. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sync.close();
    for (const fd of this.linkFds) closeFd(fd);
    this.kernel.close();
    this.object?.close();
  }
}

function makeSync(kernel: KernelMaps, logger: Logger, scheduler: Scheduler, limits: { v4Blocks: number; v6Long: number }): { tags: TagSlots; sync: RuleSync } {
  const compiler = new TableCompiler(kernel.tables, kernel.v6Long, limits);
  const tags = new TagSlots({ assign: (slot, name) => kernel.assignTagSlot(slot, name) });
  const backoff = new Backoff({ minMs: RETRY_FIRST_MS, maxMs: RETRY_MAX_MS });
  const sync = new RuleSync({ kernel, compiler, tags, scheduler, backoff, logger });
  return { tags, sync };
}

/** Entries of the previous layout's pinned LPM tries, if there are any. */
function readLegacyTries(pinDir: string): { found: boolean; entries: { policy: Policy; cidr: Cidr; slot: number }[] } {
  const entries: { policy: Policy; cidr: Cidr; slot: number }[] = [];
  let found = false;
  for (const policy of POLICIES) {
    for (const family of [4, 6] as const satisfies readonly AddressFamily[]) {
      const fd = openPinned(join(pinDir, LEGACY_RULE_MAPS[policy][family]));
      if (fd === undefined) continue;
      found = true;
      try {
        let key: Buffer | null = null;
        const next = Buffer.alloc(keySize(family));
        const value = Buffer.alloc(4);
        while (mapNextKey(fd, key, next)) {
          key = Buffer.from(next);
          if (!mapLookup(fd, key, value)) continue;
          const prefixLength = key.readUInt32LE(0);
          const bytes = Uint8Array.from(key.subarray(4));
          entries.push({ policy, cidr: { family, prefixLength, bytes, text: '' }, slot: value.readUInt32LE(0) });
        }
      } finally {
        closeFd(fd);
      }
    }
  }
  return { found, entries };
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
