// Scenario "xdp": the kernel side, at full tables (262,144 IPv4 + 262,144 IPv6 drop
// rules of mixed prefix lengths, 65,536 IPv4 ignore rules), loaded through the
// daemon's data plane (XdpDataPlane over the real maps: record + compiled tables).
// (1) ns per packet through BPF_PROG_TEST_RUN for IPv4 dropped / ignored / passing
// near the root / passing deep in a populated range, IPv6 dropped / passing, each
// beside, in the same run and interleaved: the same program built without its
// table lookups (couic-nolookup.bpf.o: same parse, key and counters; the target's
// baseline), the trivial XDP_PASS program, and the previous LPM-trie program
// (couic-lpm.bpf.o) on the same rules. (2) Cold cache: one run per source, sources
// spread over the whole table, compiled tables vs the LPM tries. (3) Kernel memory
// of the maps. (4) A /8 insert and delete at full tables. (5) Loading the 589,824
// rules, and (6) a restart over the loaded maps (adopt, store re-feed, reconcile).
// Needs root, BPF and build/bpf/*.o.
//
// Run alone: `node --import tsx bench/xdp.ts [--quick] [--record]`.
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { Cidr } from '../src/domain/cidr.js';
import type { Policy } from '../src/domain/policy.js';
import { systemScheduler } from '../src/domain/scheduler.js';
import { keySize, PASS_PROGRAM, RULE_VALUE_SIZE, XDP_PROGRAM } from '../src/dataplane/xdp/layout.js';
import { LibbpfKernelMaps } from '../src/dataplane/xdp/libbpf-kernel-maps.js';
import { loadObject, mapMemoryBytes, mapUpdate, testRun, type LoadedObject } from '../src/dataplane/xdp/libbpf.js';
import { MapWriter } from '../src/dataplane/xdp/map-writer.js';
import { DEFAULT_OBJECT_PATH, XdpDataPlane } from '../src/dataplane/xdp/xdp-dataplane.js';
import { runCli, type RunOptions, type Scenario } from './lib/cli.js';
import { isMain } from './lib/is-main.js';
import { formatInt, type Figure, type ScenarioResult } from './lib/results.js';
import { summarize } from './lib/stats.js';

const PASS_OBJECT_PATH = fileURLToPath(new URL('../build/bpf/pass.bpf.o', import.meta.url));
const NO_LOOKUP_OBJECT_PATH = fileURLToPath(new URL('../build/bpf/couic-nolookup.bpf.o', import.meta.url));
const LPM_OBJECT_PATH = fileURLToPath(new URL('../build/bpf/couic-lpm.bpf.o', import.meta.url));

export interface XdpSizes {
  readonly dropPerFamily: number;
  readonly ignoreV4: number;
  /** Program runs per BPF_PROG_TEST_RUN call (the kernel reports the mean). */
  readonly repeat: number;
  /** Calls per packet kind and program. */
  readonly runs: number;
  /** Loads of the full rule set (fresh maps each). */
  readonly loadEntries: number;
  readonly loadRuns: number;
  /** Sources of the cold-cache case (one run each). */
  readonly coldSources?: number;
  /** /8 inserts and deletes measured. */
  readonly changeRuns?: number;
}

export const FULL_SIZES: XdpSizes = { dropPerFamily: 262_144, ignoreV4: 65_536, repeat: 1_000_000, runs: 5, loadEntries: 589_824, loadRuns: 2, coldSources: 20_000, changeRuns: 5 };
export const QUICK_SIZES: XdpSizes = { dropPerFamily: 5_000, ignoreV4: 1_000, repeat: 10_000, runs: 2, loadEntries: 11_000, loadRuns: 1, coldSources: 500, changeRuns: 2 };

/** Deterministic pseudo-random bytes (xorshift32): the same maps every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * `count` distinct LPM keys ({u32 prefixlen LE, address}) of mixed prefix lengths.
 * First bytes avoid 0 and 127 (v4) or 0 (v6), which the passing packets use, and
 * 100 (the ignored range), unless `firstByte` fixes it.
 */
export function makeKeys(family: 4 | 6, count: number, seed: number, prefixes: readonly number[], firstByte?: number): Buffer[] {
  const next = rng(seed);
  const size = keySize(family);
  const seen = new Set<string>();
  const keys: Buffer[] = [];
  // Cycling on attempts, not on keys made: a short prefix whose space is used up
  // (e.g. all /16s taken) gives way to the others instead of looping forever.
  for (let attempt = 0; keys.length < count; attempt++) {
    const prefix = prefixes[attempt % prefixes.length] ?? 32;
    const key = Buffer.alloc(size);
    key.writeUInt32LE(prefix, 0);
    for (let i = 4; i < size; i += 4) key.writeUInt32BE(next(), i);
    if (firstByte !== undefined) key[4] = firstByte;
    else if (key[4] === 0 || key[4] === 127 || key[4] === 100) key[4] = 1 + ((key[4] ?? 0) % 90);
    for (let bit = prefix; bit < (size - 4) * 8; bit++) key[4 + (bit >> 3)] = (key[4 + (bit >> 3)] ?? 0) & ~(0x80 >> (bit & 7));
    const id = key.toString('hex');
    if (seen.has(id)) continue;
    seen.add(id);
    keys.push(key);
  }
  return keys;
}

export function frame(source: Uint8Array): Buffer {
  const v6 = source.length === 16;
  const payload = 64;
  const ip = Buffer.alloc(v6 ? 40 : 20);
  if (v6) {
    ip.writeUInt32BE(6 << 28, 0);
    ip.writeUInt16BE(8 + payload, 4);
    ip[6] = 17;
    ip[7] = 64;
    ip.set(source, 8);
    ip.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 24);
  } else {
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + 8 + payload, 2);
    ip[8] = 64;
    ip[9] = 17;
    ip.set(source, 12);
    ip.set([10, 0, 0, 2], 16);
  }
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  const udp = Buffer.alloc(8 + payload);
  udp.writeUInt16BE(8 + payload, 4);
  return Buffer.concat([eth, ip, udp]);
}

interface BenchRules {
  readonly drop4: readonly Buffer[];
  readonly drop6: readonly Buffer[];
  readonly ignore4: readonly Buffer[];
}

export function benchRules(sizes: XdpSizes): BenchRules {
  return {
    drop4: makeKeys(4, sizes.dropPerFamily, 1, [32, 32, 32, 28, 24, 24, 20, 16]),
    drop6: makeKeys(6, sizes.dropPerFamily, 2, [128, 128, 64, 64, 56, 48]),
    ignore4: makeKeys(4, sizes.ignoreV4, 3, [32, 24], 100),
  };
}

function cidrOfKey(key: Buffer): Cidr {
  const family = key.length === 8 ? 4 : 6;
  return { family, prefixLength: key.readUInt32LE(0), bytes: Uint8Array.from(key.subarray(4)), text: '' };
}

export function upsertsOf(rules: BenchRules): { policy: Policy; cidr: Cidr; tag: string }[] {
  const out: { policy: Policy; cidr: Cidr; tag: string }[] = [];
  const add = (policy: Policy, keys: readonly Buffer[]): void => {
    keys.forEach((key, i) => out.push({ policy, cidr: cidrOfKey(key), tag: `t${i % 8}` }));
  };
  add('drop', rules.drop4);
  add('drop', rules.drop6);
  add('ignore', rules.ignore4);
  return out;
}

/** The daemon's data plane over a fresh (unpinned) object, loaded with every rule; returns the load time. */
export async function compiledPlane(rules: BenchRules): Promise<{ object: LoadedObject; plane: XdpDataPlane; seconds: number; cpuSeconds: number }> {
  const object = loadObject(DEFAULT_OBJECT_PATH);
  const plane = await XdpDataPlane.overKernel(new LibbpfKernelMaps(object), pino({ level: 'silent' }), systemScheduler);
  const upserts = upsertsOf(rules);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  await plane.apply({ upserts, removals: [] });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (plane.pendingWrites > 0) throw new Error(`compiled tables: ${plane.pendingWrites} rules pending`);
  return { object, plane, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** The previous layout: the same rules in LPM tries (empty IPv6 ignore trie flagged, as that daemon did). */
async function lpmObject(rules: BenchRules): Promise<{ object: LoadedObject; seconds: number }> {
  const object = loadObject(LPM_OBJECT_PATH);
  const value = Buffer.alloc(RULE_VALUE_SIZE);
  value.writeUInt32LE(1, 0);
  const started = performance.now();
  for (const [name, family, keys] of [['drop_v4', 4, rules.drop4], ['drop_v6', 6, rules.drop6], ['ignore_v4', 4, rules.ignore4]] as const) {
    const writer = new MapWriter(object.mapFd(name), keySize(family), RULE_VALUE_SIZE);
    const failures = await writer.upsert(keys, (k) => k, () => value);
    if (failures.length > 0) throw new Error(`${name}: ${failures.length} refused`);
  }
  const seconds = (performance.now() - started) / 1000;
  const flags = Buffer.alloc(16);
  flags.writeUInt32LE(1, 12); // ignore_v6 empty
  const zero = Buffer.alloc(4);
  mapUpdate(object.mapFd('empty_tries'), zero, flags);
  return { object, seconds };
}

/** Whether an IPv4 LPM key covers `address`. */
function covers(key: Buffer, address: number): boolean {
  const prefix = key.readUInt32LE(0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ((key.readUInt32BE(4) ^ address) & mask) >>> 0 === 0;
}

/**
 * An IPv4 source no rule covers inside a /24 that holds a /32 rule: the deepest
 * path of both layouts (DIR-24-8: the slot points to a block; LPM: a walk as deep
 * as for a hit).
 */
function deepMiss(rules: BenchRules): Buffer {
  const all = [...rules.drop4, ...rules.ignore4];
  for (const key of rules.drop4) {
    if (key.readUInt32LE(0) !== 32) continue;
    const base = key.readUInt32BE(4) & 0xffffff00;
    const candidates = all.filter((k) => covers(k, base) || (k.readUInt32BE(4) & 0xffffff00) === base);
    for (let low = 1; low < 255; low += 7) {
      const address = (base | low) >>> 0;
      if (!candidates.some((k) => covers(k, address))) {
        const bytes = Buffer.alloc(4);
        bytes.writeUInt32BE(address, 0);
        return bytes;
      }
    }
  }
  throw new Error('no uncovered IPv4 source found next to the drop rules');
}

/** An IPv6 source inside a populated /24 that no rule covers (every length in use is probed). */
function deepMiss6(rules: BenchRules): Buffer {
  const key = rules.drop6.find((k) => k.readUInt32LE(0) === 128) ?? rules.drop6[0];
  const bytes = Buffer.from((key ?? Buffer.alloc(20)).subarray(4));
  bytes[3] = (bytes[3] ?? 0) ^ 0x5a;
  bytes[15] = 0x99;
  return bytes;
}

interface BenchPacket {
  readonly name: string;
  readonly short: string;
  readonly packet: Buffer;
  readonly expect: number;
}

function benchPackets(rules: BenchRules): BenchPacket[] {
  const hostIn = (key: Buffer): Buffer => Buffer.from(key.subarray(4));
  const deep = deepMiss(rules);
  const drop4 = rules.drop4.find((k) => k.readUInt32LE(0) === 32) ?? Buffer.alloc(8);
  const drop6 = rules.drop6.find((k) => k.readUInt32LE(0) === 128) ?? Buffer.alloc(20);
  const drop6Short = rules.drop6.find((k) => k.readUInt32LE(0) === 48) ?? Buffer.alloc(20);
  return [
    { name: 'IPv4 dropped (source in a /32: top slot -> block)', short: 'v4 dropped', packet: frame(hostIn(drop4)), expect: 1 },
    { name: 'IPv4 ignored (source in an ignore rule)', short: 'v4 ignored', packet: frame(hostIn(rules.ignore4[0] ?? Buffer.alloc(8))), expect: 2 },
    { name: 'IPv4 passing near the root (127.1.2.3, no rule)', short: 'v4 passing 127.x', packet: frame(Buffer.from([127, 1, 2, 3])), expect: 2 },
    { name: `IPv4 passing deep in a populated range (${[...deep].join('.')}: its /24 holds a /32)`, short: 'v4 passing deep', packet: frame(deep), expect: 2 },
    { name: 'IPv6 dropped (source in a /128: first v6_long probe)', short: 'v6 dropped /128', packet: frame(hostIn(drop6)), expect: 1 },
    { name: 'IPv6 dropped (source in a /48: 4th probe, lengths 128 64 56 48)', short: 'v6 dropped /48', packet: frame(hostIn(drop6Short)), expect: 1 },
    { name: 'IPv6 passing (1::9, an empty /24)', short: 'v6 passing', packet: frame(Buffer.from([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9])), expect: 2 },
    { name: 'IPv6 passing inside a populated /24 (every length probed, no hit)', short: 'v6 passing deep', packet: frame(deepMiss6(rules)), expect: 2 },
  ];
}

interface Programs {
  readonly couic: number;
  readonly noLookup: number;
  readonly trivial: number;
  readonly lpm: number;
}

export async function runXdp(sizes: XdpSizes, options: RunOptions = {}): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('bench xdp: needs root (BPF)');
  const rules = benchRules(sizes);
  const total = rules.drop4.length + rules.drop6.length + rules.ignore4.length;
  const compiled = await compiledPlane(rules);
  log(`xdp: ${formatInt(total)} rules compiled into the tables in ${compiled.seconds.toFixed(2)} s`);
  const lpm = await lpmObject(rules);
  log(`xdp: the same rules into the LPM tries in ${lpm.seconds.toFixed(2)} s`);
  const noLookup = loadObject(NO_LOOKUP_OBJECT_PATH);
  const trivial = loadObject(PASS_OBJECT_PATH);
  const figures: Figure[] = [];
  const notes: string[] = [];
  try {
    const programs: Programs = {
      couic: compiled.object.programFd(XDP_PROGRAM),
      noLookup: noLookup.programFd(XDP_PROGRAM),
      trivial: trivial.programFd(PASS_PROGRAM),
      lpm: lpm.object.programFd(XDP_PROGRAM),
    };
    const rows: string[] = [];
    for (const { name, short, packet, expect } of benchPackets(rules)) {
      const samples = { couic: [] as number[], noLookup: [] as number[], trivial: [] as number[], lpm: [] as number[] };
      for (let run = 0; run < sizes.runs; run++) {
        for (const which of ['couic', 'noLookup', 'trivial', 'lpm'] as const) {
          const result = testRun(programs[which], packet, sizes.repeat);
          if ((which === 'couic' || which === 'lpm') && result.retval !== expect) throw new Error(`${name} (${which}): returned ${result.retval}, expected ${expect}`);
          samples[which].push(Math.max(result.durationNs, 1));
        }
      }
      const m = {
        couic: summarize(samples.couic).median,
        noLookup: summarize(samples.noLookup).median,
        trivial: summarize(samples.trivial).median,
        lpm: summarize(samples.lpm).median,
      };
      log(`xdp: ${short}: couic ${m.couic} ns, lookup-free ${m.noLookup}, trivial ${m.trivial}, LPM ${m.lpm}`);
      figures.push({
        name: `per packet, ${name}: ratio vs the lookup-free program`,
        kind: 'throughput',
        unit: 'ns/packet',
        couic: summarize(samples.couic),
        baseline: summarize(samples.noLookup),
        baselineName: 'the same program without its table lookups (couic-nolookup.bpf.o), same packet',
      });
      rows.push(
        `| ${short} | ${m.couic} | ${m.noLookup} | **${(m.couic / m.noLookup).toFixed(2)}x** | ${m.trivial} | ${(m.couic / m.trivial).toFixed(2)}x | ${m.lpm} | ${(m.lpm / m.noLookup).toFixed(2)}x |`,
      );
    }
    notes.push(
      `per-packet medians (ns, ${sizes.runs} calls × ${formatInt(sizes.repeat)} repeats, interleaved); **bold: the ratio vs the lookup-free program** (the target's baseline):\n\n| case | compiled tables | lookup-free | ratio | trivial XDP_PASS | ratio | old LPM tries | LPM / lookup-free |\n|---|---:|---:|---:|---:|---:|---:|---:|\n${rows.join('\n')}\n`,
    );

    const cold = coldCache(rules, programs, sizes.coldSources ?? 1000);
    figures.push(cold.figure);
    notes.push(cold.note);

    const memory = compiled.plane.memoryBytes();
    const lpmMemory = ['drop_v4', 'drop_v6', 'ignore_v4', 'ignore_v6'].reduce((sum, m) => sum + (mapMemoryBytes(lpm.object.mapFd(m)) ?? 0), 0);
    figures.push({
      name: `kernel memory of the maps at ${formatInt(total)} rules (fdinfo memlock, all maps)`,
      kind: 'memory',
      unit: 'MiB',
      couic: summarize([memory]),
      baseline: summarize([lpmMemory]),
      baselineName: 'the four LPM tries of the previous layout, same rules (fdinfo memlock)',
    });

    const change = await slashEightChanges(compiled.plane, sizes.changeRuns ?? 3);
    for (const figure of change.figures) figures.push(figure);
    for (const note of change.notes) notes.push(note);
  } finally {
    await compiled.plane.close();
    compiled.object.close();
    lpm.object.close();
    noLookup.close();
    trivial.close();
  }

  const load = await measureLoad(rules, sizes, log);
  figures.push(load.figure, load.restartFigure);
  notes.push(
    `rules: ${formatInt(rules.drop4.length)} IPv4 drop (/32 /28 /24 /20 /16), ${formatInt(rules.drop6.length)} IPv6 drop (/128 /64 /56 /48), ${formatInt(rules.ignore4.length)} IPv4 ignore (/32 /24 in 100.0.0.0/8), 8 tags; 64-byte UDP payload (106-byte IPv4, 126-byte IPv6 frames)`,
    'each per-packet call repeats one packet, so its table lines stay in cache; the cold-cache figure runs each source once',
    ...load.notes,
  );
  return { scenario: 'xdp', figures, notes };
}

/** One run per source, sources spread over the whole IPv4 table: lookups miss the caches as a flood's do. */
function coldCache(rules: BenchRules, programs: Programs, count: number): { figure: Figure; note: string } {
  const next = rng(99);
  const sources: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const key = rules.drop4[next() % rules.drop4.length] ?? Buffer.alloc(8);
    const bytes = Buffer.from(key.subarray(4));
    const prefix = key.readUInt32LE(0);
    // A host inside the rule: random low bits.
    const host = prefix >= 32 ? 0 : next() & ((1 << (32 - prefix)) - 1);
    bytes.writeUInt32BE((bytes.readUInt32BE(0) | host) >>> 0, 0);
    sources.push(frame(bytes));
  }
  const samples = { couic: [] as number[], noLookup: [] as number[], trivial: [] as number[], lpm: [] as number[] };
  for (const packet of sources) {
    for (const which of ['couic', 'lpm', 'noLookup', 'trivial'] as const) samples[which].push(testRun(programs[which], packet, 1).durationNs);
  }
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    figure: {
      name: `cold cache: ${formatInt(count)} dropped IPv4 sources spread over the table, one run each (ns, kernel-measured, includes the ~timer overhead of a 1-repeat run)`,
      kind: 'throughput',
      unit: 'ns/packet',
      couic: summarize(samples.couic),
      baseline: summarize(samples.lpm),
      baselineName: 'the previous LPM-trie program on the same rules and sources',
    },
    note: `cold cache (means over ${formatInt(count)} sources, 1 repeat each): compiled tables ${mean(samples.couic).toFixed(0)} ns, LPM tries ${mean(samples.lpm).toFixed(0)} ns, lookup-free ${mean(samples.noLookup).toFixed(0)} ns, trivial ${mean(samples.trivial).toFixed(0)} ns`,
  };
}

/** A /8 drop over populated ranges inserted then deleted through the data plane, beside a /32 change. */
async function slashEightChanges(plane: XdpDataPlane, runs: number): Promise<{ figures: Figure[]; notes: string[] }> {
  const cidr = (text: string, bytes: number[], prefixLength: number): Cidr => ({ family: 4, bytes: Uint8Array.from(bytes), prefixLength, text });
  const wide = cidr('55.0.0.0/8', [55, 0, 0, 0], 8);
  const host = cidr('55.1.2.3/32', [55, 1, 2, 3], 32);
  const insert: number[] = [];
  const remove: number[] = [];
  const small: number[] = [];
  for (let run = 0; run < runs; run++) {
    let started = performance.now();
    await plane.apply({ upserts: [{ policy: 'drop', cidr: wide, tag: 'wide' }], removals: [] });
    insert.push(performance.now() - started);
    started = performance.now();
    await plane.apply({ upserts: [], removals: [{ policy: 'drop', cidr: wide }] });
    remove.push(performance.now() - started);
    started = performance.now();
    await plane.apply({ upserts: [{ policy: 'drop', cidr: host, tag: 'host' }], removals: [] });
    await plane.apply({ upserts: [], removals: [{ policy: 'drop', cidr: host }] });
    small.push((performance.now() - started) / 2);
  }
  const base = summarize(small);
  return {
    figures: [
      { name: 'a /8 drop inserted at full tables (55.0.0.0/8: 65,536 slots, its /24s full of longer rules kept)', kind: 'latency', unit: 'ms', couic: summarize(insert), baseline: base, baselineName: 'a /32 insert or delete, same data plane' },
      { name: 'the /8 deleted again (covering rules restored)', kind: 'latency', unit: 'ms', couic: summarize(remove), baseline: base, baselineName: 'a /32 insert or delete, same data plane' },
    ],
    notes: ['/8 change: apply() of the data plane from call to resolve: record write, recompile of the /8 (shortest rules first, blocks under it rebuilt only where their base changed), mmapped stores into the kernel tables'],
  };
}

async function measureLoad(rules: BenchRules, sizes: XdpSizes, log: (line: string) => void): Promise<{ figure: Figure; restartFigure: Figure; notes: string[] }> {
  const mine: number[] = [];
  const base: number[] = [];
  const total = rules.drop4.length + rules.drop6.length + rules.ignore4.length;
  const restarts: { adopt: number; refeed: number; reconcile: number; cpu: number }[] = [];
  const loadCpu: number[] = [];
  for (let run = 0; run < sizes.loadRuns; run++) {
    const compiled = await compiledPlane(rules);
    await compiled.plane.close();
    // Restart at capacity: a new data plane over the same (pinned) maps adopts the
    // record, then the restored store feeds its rules in chunks, then reconciles.
    const restart = await restartOver(compiled.object, rules);
    restarts.push(restart);
    compiled.object.close();
    mine.push(total / compiled.seconds);
    loadCpu.push(compiled.cpuSeconds);
    const lpm = await lpmObject(rules);
    lpm.object.close();
    base.push(total / lpm.seconds);
    log(`xdp: load run ${run + 1}/${sizes.loadRuns}: compiled ${compiled.seconds.toFixed(2)} s (CPU ${compiled.cpuSeconds.toFixed(2)} s), LPM tries ${lpm.seconds.toFixed(2)} s; restart: adopt ${restart.adopt.toFixed(2)} s, store re-feed ${restart.refeed.toFixed(2)} s, reconcile ${restart.reconcile.toFixed(2)} s (CPU ${restart.cpu.toFixed(2)} s)`);
  }
  const summary = summarize(mine);
  const adoptSummary = summarize(restarts.map((r) => r.adopt * 1000));
  const totalSummary = summarize(restarts.map((r) => (r.adopt + r.refeed + r.reconcile) * 1000));
  return {
    figure: {
      name: `loading ${formatInt(total)} rules into fresh maps through the data plane (one apply: record + compiled tables)`,
      kind: 'throughput',
      unit: 'rules/s',
      couic: summary,
      baseline: summarize(base),
      baselineName: 'the same rules into the previous layout\'s LPM tries (MapWriter batches)',
    },
    restartFigure: {
      name: `restart over the pinned maps holding ${formatInt(total)} rules: adopt (record read, tables verified by one recompile; then the program can be swapped in) + store re-feed in 4,096-rule chunks + reconcile`,
      kind: 'latency',
      unit: 'ms',
      couic: totalSummary,
      baseline: summarize(base.map((rate) => (total / rate) * 1000)),
      baselineName: 'loading the same rules into the LPM tries (same run)',
    },
    notes: [
      `full load: ${formatInt(total)} rules in ${(total / summary.median).toFixed(2)} s (median of ${sizes.loadRuns}; CPU ${loadCpu.map((c) => `${c.toFixed(2)} s`).join(', ')}: wall time on a shared machine includes waiting for a core)`,
      `restart at capacity: adopt p50 ${(adoptSummary.median / 1000).toFixed(2)} s (serving: the pinned tables filter throughout; the new program is attached after adopt), adopt + re-feed + reconcile p50 ${(totalSummary.median / 1000).toFixed(2)} s; per run: ${restarts.map((r) => `adopt ${r.adopt.toFixed(2)} s, re-feed ${r.refeed.toFixed(2)} s, reconcile ${r.reconcile.toFixed(2)} s, CPU ${r.cpu.toFixed(2)} s`).join('; ')}`,
    ],
  };
}

/** A daemon restart over the maps of `object` (which hold `rules`): adopt, store re-feed, reconcile; seconds each. */
async function restartOver(object: LoadedObject, rules: BenchRules): Promise<{ adopt: number; refeed: number; reconcile: number; cpu: number }> {
  const upserts = upsertsOf(rules);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const plane = await XdpDataPlane.overKernel(new LibbpfKernelMaps(object), pino({ level: 'silent' }), systemScheduler);
  const t1 = performance.now();
  for (let i = 0; i < upserts.length; i += 4096) await plane.apply({ upserts: upserts.slice(i, i + 4096), removals: [] });
  const t2 = performance.now();
  const removed = await plane.reconcile();
  const t3 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  if (removed !== 0 || plane.pendingWrites !== 0) throw new Error(`restart: ${removed} removed, ${plane.pendingWrites} pending`);
  await plane.close();
  return { adopt: (t1 - t0) / 1000, refeed: (t2 - t1) / 1000, reconcile: (t3 - t2) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}

export const xdpScenario: Scenario = {
  name: 'xdp',
  run: (quick, options) => runXdp(quick ? QUICK_SIZES : FULL_SIZES, options),
};

if (isMain(import.meta.url)) {
  await runCli([xdpScenario], undefined, 'node --import tsx bench/xdp.ts');
}
