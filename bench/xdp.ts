// Scenario "xdp": the kernel side. (1) ns per packet of couic_xdp with full maps
// (262,144 IPv4 + 262,144 IPv6 drop entries of mixed prefix lengths, 65,536 IPv4
// ignore entries) through BPF_PROG_TEST_RUN, for a dropped, an ignored and a passing
// packet, beside the trivial XDP_PASS program (the floor) on the same packet, same
// run, interleaved. (2) Map load rate: 262,144 entries written through the daemon's
// binding (MapWriter: batch syscalls via koffi/libbpf) beside `bpftool batch file`
// doing the same updates on a pinned map. Needs root, BPF and build/bpf/*.o.
//
// The maps' `empty_tries` flags are set as the daemon sets them at start (here:
// ignore_v6 is empty, so its lookup is skipped).
//
// Run alone: `node --import tsx bench/xdp.ts [--quick] [--record]`.
// `node --import tsx bench/xdp.ts --breakdown [--quick]`: where the per-packet time
// goes; measures cut-down builds of the program (bpf/couic.bpf.c COUIC_STAGE,
// built by `scripts/build-bpf.sh --stages`) on the same maps and prints a table
// (nothing is recorded). bpf/README.md keeps the latest one.
import { spawnSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { preparePinDir } from '../src/dataplane/xdp/bpffs.js';
import { EmptyTries } from '../src/dataplane/xdp/empty-tries.js';
import { ALL_MAPS, arrayKey, EMPTY_TRIES_MAP, encodeRuleValue, keySize, PASS_PROGRAM, RULE_VALUE_SIZE, XDP_PROGRAM } from '../src/dataplane/xdp/layout.js';
import { loadObject, mapUpdate, testRun, type LoadedObject } from '../src/dataplane/xdp/libbpf.js';
import { MapWriter } from '../src/dataplane/xdp/map-writer.js';
import { DEFAULT_OBJECT_PATH } from '../src/dataplane/xdp/xdp-dataplane.js';
import { runCli, type RunOptions, type Scenario } from './lib/cli.js';
import { isMain } from './lib/is-main.js';
import { formatInt, type Figure, type ScenarioResult } from './lib/results.js';
import { summarize } from './lib/stats.js';
import { withTempDir } from './lib/temp-dir.js';

const PASS_OBJECT_PATH = fileURLToPath(new URL('../build/bpf/pass.bpf.o', import.meta.url));
const STAGES_DIR = fileURLToPath(new URL('../build/bpf/stages/', import.meta.url));
const BUILD_SCRIPT = fileURLToPath(new URL('../scripts/build-bpf.sh', import.meta.url));

export interface XdpSizes {
  readonly dropPerFamily: number;
  readonly ignoreV4: number;
  /** Program runs per BPF_PROG_TEST_RUN call (the kernel reports the mean). */
  readonly repeat: number;
  /** Calls per packet kind and program. */
  readonly runs: number;
  readonly loadEntries: number;
  readonly loadRuns: number;
}

export const FULL_SIZES: XdpSizes = { dropPerFamily: 262_144, ignoreV4: 65_536, repeat: 1_000_000, runs: 5, loadEntries: 262_144, loadRuns: 3 };
export const QUICK_SIZES: XdpSizes = { dropPerFamily: 5_000, ignoreV4: 1_000, repeat: 10_000, runs: 2, loadEntries: 5_000, loadRuns: 1 };

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
 * `count` distinct LPM keys of mixed prefix lengths. First bytes avoid 0 and 127 (v4)
 * or 0 (v6), which the passing packets use, and `avoidFirst` (the ignored range).
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
    // Mask to the prefix, as the store does (network address).
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

export async function fill(object: LoadedObject, name: string, family: 4 | 6, keys: readonly Buffer[]): Promise<void> {
  const writer = new MapWriter(object.mapFd(name), keySize(family), RULE_VALUE_SIZE);
  const value = encodeRuleValue(1);
  const failures = await writer.upsert(keys, (k) => k, () => value);
  if (failures.length > 0) throw new Error(`${name}: ${failures.length} entries refused (${failures[0]?.error.message})`);
}

interface BenchMaps {
  readonly drop4: readonly Buffer[];
  readonly drop6: readonly Buffer[];
  readonly ignore4: readonly Buffer[];
}

interface BenchPacket {
  readonly name: string;
  /** Short column name for the breakdown table. */
  readonly short: string;
  readonly packet: Buffer;
  readonly expect: number;
}

/** Fills the tries as the daemon would (batch writes), then sets the empty-trie flags as it does at start. */
async function fillMaps(object: LoadedObject, sizes: XdpSizes, log: (line: string) => void): Promise<BenchMaps> {
  const drop4 = makeKeys(4, sizes.dropPerFamily, 1, [32, 32, 32, 28, 24, 24, 20, 16]);
  const drop6 = makeKeys(6, sizes.dropPerFamily, 2, [128, 128, 64, 64, 56, 48]);
  const ignore4 = makeKeys(4, sizes.ignoreV4, 3, [32, 24], 100);
  const started = performance.now();
  await fill(object, 'drop_v4', 4, drop4);
  await fill(object, 'drop_v6', 6, drop6);
  await fill(object, 'ignore_v4', 4, ignore4);
  new EmptyTries(object).syncAll();
  log(`xdp: maps filled (${formatInt(drop4.length + drop6.length + ignore4.length)} entries) in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  return { drop4, drop6, ignore4 };
}

/** Whether an IPv4 LPM key (prefixlen LE + 4 bytes) covers `address`. */
function covers(key: Buffer, address: number): boolean {
  const prefix = key.readUInt32LE(0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ((key.readUInt32BE(4) ^ address) & mask) >>> 0 === 0;
}

/**
 * An IPv4 source no entry covers but whose /16 holds entries: the trie walk goes
 * deep before it misses (unlike 127.x, which leaves the trie near its root).
 */
function deepMiss(maps: BenchMaps): Buffer {
  const all = [...maps.drop4, ...maps.ignore4];
  for (const key of maps.drop4) {
    for (let low = 1; low < 0xffff; low += 97) {
      const address = ((key.readUInt32BE(4) & 0xffff0000) | low) >>> 0;
      if (!all.some((k) => covers(k, address))) {
        const bytes = Buffer.alloc(4);
        bytes.writeUInt32BE(address, 0);
        return bytes;
      }
    }
  }
  throw new Error('no uncovered IPv4 source found next to the drop entries');
}

function benchPackets(maps: BenchMaps): BenchPacket[] {
  const { drop4, drop6, ignore4 } = maps;
  // A source inside a deep (/32 or /128) drop entry, one inside an ignore entry, and
  // sources no entry covers (ignore miss, then drop miss): one the walk leaves
  // early (127.x, ::-range), one it follows deep (inside a populated /16).
  const hostIn = (key: Buffer): Buffer => Buffer.from(key.subarray(4));
  const deep = deepMiss(maps);
  return [
    { name: `IPv4 dropped (source in a /32 of ${formatInt(drop4.length)} mixed-prefix drop entries)`, short: 'v4 dropped', packet: frame(hostIn(drop4[0] ?? Buffer.alloc(8))), expect: 1 },
    { name: 'IPv4 ignored (source in the ignore trie)', short: 'v4 ignored', packet: frame(hostIn(ignore4[0] ?? Buffer.alloc(8))), expect: 2 },
    { name: 'IPv4 passing (no entry covers the source)', short: 'v4 passing 127.x', packet: frame(Buffer.from([127, 1, 2, 3])), expect: 2 },
    { name: `IPv4 passing, source ${[...deep].join('.')} inside a populated /16 (no entry covers it)`, short: 'v4 passing, deep miss', packet: frame(deep), expect: 2 },
    { name: 'IPv6 dropped (source in a /128)', short: 'v6 dropped', packet: frame(hostIn(drop6[0] ?? Buffer.alloc(20))), expect: 1 },
    { name: 'IPv6 passing (no entry covers the source)', short: 'v6 passing', packet: frame(Buffer.from([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9])), expect: 2 },
  ];
}

export async function runXdp(sizes: XdpSizes, options: RunOptions = {}): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('bench xdp: needs root (BPF)');
  const couic = loadObject(DEFAULT_OBJECT_PATH);
  const floor = loadObject(PASS_OBJECT_PATH);
  try {
    const maps = await fillMaps(couic, sizes, log);
    const { drop4, drop6, ignore4 } = maps;
    const packets = benchPackets(maps);
    const couicProg = couic.programFd(XDP_PROGRAM);
    const floorProg = floor.programFd(PASS_PROGRAM);
    const figures: Figure[] = [];
    for (const { name, packet, expect } of packets) {
      const mine: number[] = [];
      const base: number[] = [];
      for (let run = 0; run < sizes.runs; run++) {
        const result = testRun(couicProg, packet, sizes.repeat);
        if (result.retval !== expect) throw new Error(`${name}: program returned ${result.retval}, expected ${expect}`);
        mine.push(Math.max(result.durationNs, 1));
        base.push(Math.max(testRun(floorProg, packet, sizes.repeat).durationNs, 1));
      }
      log(`xdp: ${name}: ${mine.join('/')} ns vs floor ${base.join('/')} ns`);
      figures.push({ name: `per packet, ${name}`, kind: 'latency', unit: 'ns/packet', couic: summarize(mine), baseline: summarize(base), baselineName: 'trivial XDP_PASS program, same packet (floor)' });
    }

    const load = await measureLoad(sizes, log);
    figures.push(load.figure);
    return {
      scenario: 'xdp',
      figures,
      notes: [
        `per-packet figures: BPF_PROG_TEST_RUN (bpf_prog_test_run_opts through koffi), ${formatInt(sizes.repeat)} repeats per call (the kernel's mean), ${sizes.runs} calls per program, couic and floor interleaved; maps: ${formatInt(drop4.length)} IPv4 drop (/32 /28 /24 /20 /16), ${formatInt(drop6.length)} IPv6 drop (/128 /64 /56 /48), ${formatInt(ignore4.length)} IPv4 ignore, IPv6 ignore empty (flagged in empty_tries as the daemon does, so its lookup is skipped); 64-byte UDP payload (106-byte IPv4, 126-byte IPv6 frames)`,
        `every call repeats one packet, so the trie nodes on its path stay in cache: a best case for the trie walk; where the time goes: bpf/README.md (\`bench/xdp.ts --breakdown\`)`,
        `the floor is the kernel's cost of one test run of an XDP program that does nothing; couic's figure includes it, so couic − floor is what the program itself costs`,
        ...load.notes,
      ],
    };
  } finally {
    couic.close();
    floor.close();
  }
}

async function measureLoad(sizes: XdpSizes, log: (line: string) => void): Promise<{ figure: Figure; notes: string[] }> {
  const keys = makeKeys(4, sizes.loadEntries, 7, [32, 32, 32, 24, 16]);
  const value = encodeRuleValue(1);
  const mine: number[] = [];
  const base: number[] = [];
  let batches = true;
  for (let run = 0; run < sizes.loadRuns; run++) {
    // Binding: a fresh object (empty maps) per run.
    const object = loadObject(DEFAULT_OBJECT_PATH);
    try {
      const writer = new MapWriter(object.mapFd('drop_v4'), keySize(4), RULE_VALUE_SIZE);
      const started = performance.now();
      const failures = await writer.upsert(keys, (k) => k, () => value);
      const seconds = (performance.now() - started) / 1000;
      if (failures.length > 0) throw new Error(`load: ${failures.length} refused`);
      batches = writer.usesBatches;
      mine.push(keys.length / seconds);
    } finally {
      object.close();
    }
    // bpftool: the same updates on a freshly pinned map, one `bpftool batch file`.
    base.push(
      await withTempDir('couic-bench-xdp-', async (dir) => {
        const pinDir = `/sys/fs/bpf/couic-bench-${process.pid}-${run}`;
        await preparePinDir(pinDir);
        const pinned = loadObject(DEFAULT_OBJECT_PATH, new Map([['drop_v4', join(pinDir, 'drop_v4')]]));
        try {
          const file = join(dir, 'batch.txt');
          const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
          await writeFile(file, keys.map((k) => `map update pinned ${pinDir}/drop_v4 key hex ${hex(k)} value hex ${hex(value)}\n`).join(''));
          const started = performance.now();
          const result = spawnSync('bpftool', ['batch', 'file', file], { stdio: ['ignore', 'ignore', 'pipe'] });
          const seconds = (performance.now() - started) / 1000;
          if (result.status !== 0) throw new Error(`bpftool batch failed: ${result.stderr.toString().slice(0, 300)}`);
          return keys.length / seconds;
        } finally {
          pinned.close();
          await rm(pinDir, { recursive: true, force: true });
        }
      }),
    );
    log(`xdp: load run ${run + 1}/${sizes.loadRuns}: binding ${formatInt(mine.at(-1) ?? 0)} entries/s, bpftool batch ${formatInt(base.at(-1) ?? 0)} entries/s`);
  }
  const couicSummary = summarize(mine);
  return {
    figure: {
      name: `map load, ${formatInt(keys.length)} IPv4 drop entries (mostly /32, some /24 and /16) into an empty LPM trie`,
      kind: 'throughput',
      unit: 'entries/s',
      couic: couicSummary,
      baseline: summarize(base),
      baselineName: '`bpftool batch file` with the same `map update` lines (pinned map)',
    },
    notes: [
      `map load through the daemon's binding (src/dataplane/xdp/map-writer.ts, ${batches ? 'BPF_MAP_UPDATE_BATCH' : 'single updates (no batch support)'} in chunks of 4,096, yielding between chunks): ${formatInt(keys.length)} entries in ${(keys.length / couicSummary.median).toFixed(2)} s (median); bpftool's time includes parsing its text file and reopening the pinned map per line`,
    ],
  };
}

interface Variant {
  readonly name: string;
  readonly path: string;
  readonly program: string;
  /** Zero the empty_tries flags before measuring it (every trie looked up). */
  readonly noSkip?: boolean;
  /** Only meaningful for IPv4 packets. */
  readonly v4Only?: boolean;
}

const BREAKDOWN_VARIANTS: readonly Variant[] = [
  { name: 'trivial XDP_PASS (the floor)', path: PASS_OBJECT_PATH, program: PASS_PROGRAM },
  { name: 'trivial + reads the Ethernet header', path: PASS_OBJECT_PATH, program: 'xdp_pass_read' },
  { name: 'stage 0: parse (Ethernet, VLAN, IP), build the key', path: join(STAGES_DIR, 'couic-stage0.bpf.o'), program: XDP_PROGRAM },
  { name: 'stage 1: + ignore trie lookup', path: join(STAGES_DIR, 'couic-stage1.bpf.o'), program: XDP_PROGRAM },
  { name: 'stage 2: + drop trie lookup', path: join(STAGES_DIR, 'couic-stage2.bpf.o'), program: XDP_PROGRAM },
  { name: 'stage 3: + action counter', path: join(STAGES_DIR, 'couic-stage3.bpf.o'), program: XDP_PROGRAM },
  { name: 'stage 4: + tag counter (the real program)', path: DEFAULT_OBJECT_PATH, program: XDP_PROGRAM },
  { name: 'the real program, empty_tries flags zeroed (no lookup skipped)', path: DEFAULT_OBJECT_PATH, program: XDP_PROGRAM, noSkip: true },
  { name: 'parse + drop trie lookup alone (no ignore, no counters)', path: join(STAGES_DIR, 'couic-stage10.bpf.o'), program: XDP_PROGRAM },
  { name: 'sketch: parse + one 2^24-entry array lookup (IPv4 /24 table, not LPM)', path: join(STAGES_DIR, 'couic-stage11.bpf.o'), program: XDP_PROGRAM, v4Only: true },
];

/**
 * Where the per-packet time goes: every variant runs on the same pinned maps (filled
 * once), interleaved per call; prints a markdown table of medians (ns/packet).
 */
export async function runBreakdown(sizes: XdpSizes, log: (line: string) => void): Promise<string> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('bench xdp --breakdown: needs root (BPF)');
  const built = spawnSync('bash', [BUILD_SCRIPT, '--stages'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) throw new Error('scripts/build-bpf.sh --stages failed');
  const pinDir = `/sys/fs/bpf/couic-breakdown-${process.pid}`;
  await preparePinDir(pinDir);
  const pins = new Map(ALL_MAPS.map((name) => [name, join(pinDir, name)]));
  const objects = new Map<string, LoadedObject>();
  try {
    const owner = loadObject(DEFAULT_OBJECT_PATH, pins);
    objects.set(DEFAULT_OBJECT_PATH, owner);
    const maps = await fillMaps(owner, sizes, log);
    const packets = benchPackets(maps);
    for (const v of BREAKDOWN_VARIANTS) {
      if (!objects.has(v.path)) objects.set(v.path, loadObject(v.path, v.path === PASS_OBJECT_PATH ? new Map() : pins));
    }
    // The sketch's array says "drop" for the dropped IPv4 packet's /24.
    const sketch = objects.get(join(STAGES_DIR, 'couic-stage11.bpf.o'));
    const dropped = maps.drop4[0];
    if (sketch !== undefined && dropped !== undefined) mapUpdate(sketch.mapFd('sketch_v4_24'), arrayKey(dropped.readUInt32BE(4) >>> 8), encodeRuleValue(1));
    const flagsFd = owner.mapFd(EMPTY_TRIES_MAP);
    const emptyTries = new EmptyTries(owner);
    const medians = new Map<string, (number | undefined)[]>(BREAKDOWN_VARIANTS.map((v) => [v.name, []]));
    for (const [column, { packet, expect, short }] of packets.entries()) {
      const samples = BREAKDOWN_VARIANTS.map(() => [] as number[]);
      for (let run = 0; run < sizes.runs; run++) {
        for (const [i, v] of BREAKDOWN_VARIANTS.entries()) {
          if (v.v4Only === true && !short.startsWith('v4')) continue;
          if (v.noSkip === true) mapUpdate(flagsFd, arrayKey(0), Buffer.alloc(16));
          const result = testRun((objects.get(v.path) as LoadedObject).programFd(v.program), packet, sizes.repeat);
          if (v.noSkip === true) emptyTries.syncAll();
          if (v.path === DEFAULT_OBJECT_PATH && result.retval !== expect) throw new Error(`${v.name}, ${short}: returned ${result.retval}, expected ${expect}`);
          samples[i]?.push(result.durationNs);
        }
      }
      for (const [i, v] of BREAKDOWN_VARIANTS.entries()) {
        const mine = samples[i] ?? [];
        (medians.get(v.name) as (number | undefined)[])[column] = mine.length > 0 ? summarize(mine).median : undefined;
      }
      log(`xdp breakdown: ${short} done`);
    }
    const header = `| variant (ns/packet, median of ${sizes.runs} calls × ${formatInt(sizes.repeat)} repeats) | ${packets.map((p) => p.short).join(' | ')} |`;
    const rule = `|---|${packets.map(() => '---:').join('|')}|`;
    const rows = BREAKDOWN_VARIANTS.map((v) => `| ${v.name} | ${(medians.get(v.name) ?? []).map((m) => (m === undefined ? '–' : String(m))).join(' | ')} |`);
    return [header, rule, ...rows].join('\n');
  } finally {
    for (const object of objects.values()) object.close();
    await rm(pinDir, { recursive: true, force: true });
  }
}

export const xdpScenario: Scenario = {
  name: 'xdp',
  run: (quick, options) => runXdp(quick ? QUICK_SIZES : FULL_SIZES, options),
};

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  if (argv.includes('--breakdown')) {
    const table = await runBreakdown(argv.includes('--quick') ? QUICK_SIZES : FULL_SIZES, (line) => process.stderr.write(`${line}\n`));
    process.stdout.write(`${table}\n`);
  } else {
    await runCli([xdpScenario], undefined, 'node --import tsx bench/xdp.ts');
  }
}
