// The XDP program alone, through BPF_PROG_TEST_RUN on hand-built frames (root + BPF,
// no network namespaces): header parsing (VLAN up to two tags, truncated or foreign
// frames pass), ignore-before-drop, longest-prefix match, tag slot counting.
import anyTest, { type TestFn } from 'ava';
import { pino } from 'pino';
import { parseCidr } from '../../src/domain/cidr.js';
import type { Policy } from '../../src/domain/policy.js';
import { systemScheduler } from '../../src/domain/scheduler.js';
import { TAG_UNTRACKED, XDP_PROGRAM } from '../../src/dataplane/xdp/layout.js';
import { LibbpfKernelMaps } from '../../src/dataplane/xdp/libbpf-kernel-maps.js';
import { loadObject, testRun, type LoadedObject } from '../../src/dataplane/xdp/libbpf.js';
import { DEFAULT_OBJECT_PATH, XdpDataPlane } from '../../src/dataplane/xdp/xdp-dataplane.js';
import { xdpSkipReason } from '../helpers/netns.js';

const skipReason = await xdpSkipReason(DEFAULT_OBJECT_PATH);
if (skipReason !== undefined) console.log(`xdp program tests skipped: ${skipReason}`);
const test = (skipReason === undefined ? anyTest : anyTest.skip) as TestFn;

const DROP = 1;
const PASS = 2;

function ipv4(source: string): Buffer {
  const ip = Buffer.alloc(28);
  ip[0] = 0x45;
  ip.writeUInt16BE(28, 2);
  ip[9] = 17;
  ip.set(source.split('.').map(Number), 12);
  ip.set([10, 0, 0, 2], 16);
  return ip;
}

function ipv6(source: Uint8Array): Buffer {
  const ip = Buffer.alloc(48);
  ip.writeUInt32BE(6 << 28, 0);
  ip.writeUInt16BE(8, 4);
  ip[6] = 17;
  ip.set(source, 8);
  return ip;
}

/** Ethernet frame: tags as [TPID, VID] outermost first, then the ethertype and payload. */
function frame(ethertype: number, payload: Buffer, tags: [number, number][] = []): Buffer {
  const header = Buffer.alloc(12 + 4 * tags.length + 2);
  tags.forEach(([tpid, vid], i) => {
    header.writeUInt16BE(tpid, 12 + 4 * i);
    header.writeUInt16BE(vid, 14 + 4 * i);
  });
  header.writeUInt16BE(ethertype, 12 + 4 * tags.length);
  return Buffer.concat([header, payload]);
}

const v4 = (source: string, tags: [number, number][] = []): Buffer => frame(0x0800, ipv4(source), tags);
const v6 = (source: string, tags: [number, number][] = []): Buffer => frame(0x86dd, ipv6(parseCidr(`${source}/128`).bytes), tags);

let object: LoadedObject;
let kernel: LibbpfKernelMaps;
let plane: XdpDataPlane;
test.before(async () => {
  if (skipReason !== undefined) return;
  object = loadObject(DEFAULT_OBJECT_PATH);
  kernel = new LibbpfKernelMaps(object);
  plane = await XdpDataPlane.overKernel(kernel, pino({ level: 'silent' }), systemScheduler);
  const rule = (policy: Policy, cidr: string, tag: string): { policy: Policy; cidr: ReturnType<typeof parseCidr>; tag: string } => ({ policy, cidr: parseCidr(cidr), tag });
  await plane.apply({
    upserts: [
      rule('drop', '192.0.2.0/24', 't1'),
      rule('drop', '192.0.2.128/25', 't2'),
      rule('ignore', '192.0.2.200/32', 't3'),
      rule('drop', '2001:db8::/32', 't4'),
      rule('ignore', '2001:db8:1::/48', 't5'),
    ],
    removals: [],
  });
});
test.after.always(async () => {
  await plane?.close();
  object?.close();
});

function run(packet: Buffer): number {
  return testRun(object.programFd(XDP_PROGRAM), packet, 1).retval;
}

function counter(map: 'drop' | 'ignore', slot: number): { packets: number; bytes: number } {
  return kernel.readCounter(map, slot);
}

test.serial('IPv4 and IPv6 verdicts: drop, ignore wins, no match passes', (t) => {
  t.is(run(v4('192.0.2.1')), DROP);
  t.is(run(v4('192.0.2.200')), PASS, 'ignore /32 inside a drop /24');
  t.is(run(v4('192.0.3.1')), PASS);
  t.is(run(v6('2001:db8::1')), DROP);
  t.is(run(v6('2001:db8:1::1')), PASS, 'ignore /48 inside a drop /32');
  t.is(run(v6('2001:db9::1')), PASS);
});

test.serial('VLAN: 802.1Q, 802.1ad and QinQ are parsed; a third tag passes', (t) => {
  t.is(run(v4('192.0.2.1', [[0x8100, 10]])), DROP);
  t.is(run(v4('192.0.2.1', [[0x88a8, 10]])), DROP);
  t.is(run(v4('192.0.2.1', [[0x88a8, 20], [0x8100, 10]])), DROP);
  t.is(run(v6('2001:db8::1', [[0x88a8, 20], [0x8100, 10]])), DROP);
  t.is(run(v4('192.0.2.1', [[0x88a8, 1], [0x8100, 2], [0x8100, 3]])), PASS);
});

test.serial('unparsable frames pass: truncated headers, other ethertypes', (t) => {
  const full = v4('192.0.2.1');
  t.is(run(full.subarray(0, 14 + 19)), PASS, 'IPv4 header cut short');
  t.is(run(v6('2001:db8::1').subarray(0, 14 + 39)), PASS, 'IPv6 header cut short');
  t.is(run(frame(0x8100, Buffer.alloc(2))), PASS, 'VLAN tag cut short');
  t.is(run(frame(0x0806, ipv4('192.0.2.1'))), PASS, 'ARP');
  t.is(run(Buffer.alloc(14)), PASS, 'Ethernet header only');
});

test.serial('counters: per tag slot (longest prefix decides), ignore counted under its own slot', (t) => {
  const before = { one: counter('drop', 1), two: counter('drop', 2), ign: counter('ignore', 3) };
  const small = v4('192.0.2.1');
  const deep = v4('192.0.2.129');
  run(small);
  run(deep);
  run(deep);
  run(v4('192.0.2.200'));
  t.deepEqual(counter('drop', 1), { packets: before.one.packets + 1, bytes: before.one.bytes + small.length });
  t.deepEqual(counter('drop', 2), { packets: before.two.packets + 2, bytes: before.two.bytes + 2 * deep.length }, '/25 wins over /24');
  t.is(counter('ignore', 3).packets, before.ign.packets + 1);
  t.is(TAG_UNTRACKED, 255);
});
