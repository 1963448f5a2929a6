// Bus nodes on the in-memory stream, driven by a manual clock and scheduler: used
// by the bus link's unit tests and by the replication simulation (mesh + bus).
import pino from 'pino';
import type { BusOptions } from '../../../src/replication/bus/bus-options.js';
import { ManualClock, type Clock } from '../../../src/domain/clock.js';
import { HybridClock } from '../../../src/domain/version.js';
import { MemoryReplicaStore } from '../../../src/replication/core/memory-replica-store.js';
import { ReplicationHub } from '../../../src/replication/core/replication-hub.js';
import { ManualScheduler } from '../../../src/domain/scheduler.js';
import { MemoryBusCursorStore } from '../../../src/replication/bus/bus-cursor.js';
import { BusLink, type BusHub } from '../../../src/replication/bus/bus-link.js';
import { MemoryBusServer, type MemoryBusFaults } from '../../../src/replication/bus/memory-bus-stream.js';
import type { ReplicaStore } from '../../../src/replication/replica-store.js';
import { prng } from '../replication/fixtures.js';

export const silentLogger = pino({ level: process.env['BUS_TEST_LOG'] ?? 'silent' });

export type BusRole = 'both' | 'publish' | 'consume';

export interface BusLinkSpec {
  readonly hub: BusHub;
  readonly store: ReplicaStore;
  /** The node's own (maybe skewed) clock. */
  readonly clock: Clock;
  readonly role: BusRole;
  readonly compactMinBytes?: number;
  readonly compactCheckIntervalMs?: number;
  /** Kept across a simulated restart. */
  readonly cursorStore?: MemoryBusCursorStore;
}

/** Lets every promise chain started by the last timer run to its end (nothing here does real I/O). */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function busLinkOn(server: MemoryBusServer, spec: BusLinkSpec, random: () => number): BusLink {
  const bus: BusOptions = {
    enabled: true,
    servers: ['nats://memory'],
    publish: spec.role !== 'consume',
    consume: spec.role !== 'publish',
    prefix: 'couic',
    replicas: 1,
    compactMinBytes: spec.compactMinBytes ?? 64 * 1024 * 1024,
  };
  return new BusLink({
    hub: spec.hub,
    store: spec.store,
    bus,
    clock: spec.clock,
    logger: silentLogger,
    openStream: server.open,
    cursorStore: spec.cursorStore ?? new MemoryBusCursorStore(),
    reconnectMaxMs: 5_000,
    random,
    ...(spec.compactCheckIntervalMs !== undefined ? { compactCheckIntervalMs: spec.compactCheckIntervalMs } : {}),
  });
}

export interface WorldNode {
  readonly id: string;
  readonly hlc: HybridClock;
  readonly store: MemoryReplicaStore;
  readonly hub: ReplicationHub;
  readonly cursorStore: MemoryBusCursorStore;
  link: BusLink;
}

/** A few bus-only nodes on one in-memory server, for the unit tests. */
export class BusWorld {
  readonly clock = new ManualClock(1_700_000_000_000);
  readonly scheduler = new ManualScheduler(this.clock);
  readonly random: () => number;
  readonly server: MemoryBusServer;
  readonly nodes: WorldNode[] = [];

  constructor(seed = 1, faults: Partial<MemoryBusFaults> = {}) {
    this.random = prng(seed);
    this.server = new MemoryBusServer({ scheduler: this.scheduler, clock: this.clock, random: this.random, faults });
  }

  addNode(id: string, role: BusRole, extra: Partial<BusLinkSpec> = {}): WorldNode {
    const store = new MemoryReplicaStore({ clock: this.clock, tombstoneLifetimeMs: 3_600_000 });
    const hlc = new HybridClock(this.clock, id);
    const hub = new ReplicationHub({ store, hlc, clock: this.clock, scheduler: this.scheduler });
    const cursorStore = extra.cursorStore ?? new MemoryBusCursorStore();
    const link = busLinkOn(this.server, { hub, store, clock: this.clock, role, cursorStore, ...extra }, this.random);
    hub.start();
    link.start();
    const node: WorldNode = { id, hlc, store, hub, cursorStore, link };
    this.nodes.push(node);
    return node;
  }

  /** Stops a node's link (saving its cursor) and starts a new one on the same store and cursor. */
  async restart(node: WorldNode, role: BusRole, extra: Partial<BusLinkSpec> = {}): Promise<void> {
    const stopping = node.link.stop();
    await this.advance(10);
    await stopping;
    node.link = busLinkOn(this.server, { hub: node.hub, store: node.store, clock: this.clock, role, cursorStore: node.cursorStore, ...extra }, this.random);
    node.link.start();
  }

  async advance(ms: number): Promise<void> {
    const until = this.clock.nowMs() + ms;
    await flushMicrotasks();
    while (this.scheduler.runNext(until)) await flushMicrotasks();
    if (this.clock.nowMs() < until) this.clock.set(until);
  }

  /** Advances in steps until `check` holds; false after `maxMs` of simulated time. */
  async until(check: () => boolean, maxMs = 120_000, stepMs = 50): Promise<boolean> {
    for (let waited = 0; waited <= maxMs; waited += stepMs) {
      if (check()) return true;
      await this.advance(stepMs);
    }
    return check();
  }

  async stopAll(): Promise<void> {
    const stops = this.nodes.map((n) => n.link.stop());
    await this.advance(10);
    await Promise.all(stops);
    for (const n of this.nodes) n.hub.stop();
  }
}
