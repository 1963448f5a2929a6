// The empty-trie flags (`empty_tries`): the program skips a trie the loader marked
// empty, so a wrong mark would let dropped sources through. Checks the program's
// side (a mark really skips; zero skips nothing) and the data plane's: marks follow
// inserts and deletes, survive a restart on the pinned maps, are recomputed at
// start (a stale mark is cleared), and reconciliation marks what it empties.
// Root + BPF; no interface needed (the data plane opens with no ifaces).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { pino } from 'pino';
import { parseCidr } from '../../src/domain/cidr.js';
import type { Policy } from '../../src/domain/policy.js';
import { ALL_MAPS, arrayKey, EMPTY_TRIES_MAP, encodeKey, encodeRuleValue, XDP_PROGRAM } from '../../src/dataplane/xdp/layout.js';
import { loadObject, mapLookup, mapUpdate, testRun, type LoadedObject } from '../../src/dataplane/xdp/libbpf.js';
import { DEFAULT_OBJECT_PATH, XdpDataPlane } from '../../src/dataplane/xdp/xdp-dataplane.js';
import { uniqueId, xdpSkipReason } from '../helpers/netns.js';

const skipReason = await xdpSkipReason(DEFAULT_OBJECT_PATH);
if (skipReason !== undefined) console.log(`xdp empty-trie tests skipped: ${skipReason}`);
const test = (skipReason === undefined ? anyTest : anyTest.skip) as TestFn;

const DROP = 1;
const PASS = 2;
const logger = pino({ level: 'silent' });

function v4Frame(source: string): Buffer {
  const frame = Buffer.alloc(14 + 28);
  frame.writeUInt16BE(0x0800, 12);
  frame[14] = 0x45;
  frame.writeUInt16BE(28, 16);
  frame[23] = 17;
  frame.set(source.split('.').map(Number), 26);
  return frame;
}

function v6Frame(source: string): Buffer {
  const frame = Buffer.alloc(14 + 48);
  frame.writeUInt16BE(0x86dd, 12);
  frame.writeUInt32BE(6 << 28, 14);
  frame[20] = 17;
  frame.set(parseCidr(`${source}/128`).bytes, 22);
  return frame;
}

/** The four flags as the kernel holds them: [drop v4, drop v6, ignore v4, ignore v6]. */
function kernelFlags(object: LoadedObject): number[] {
  const value = Buffer.alloc(16);
  mapLookup(object.mapFd(EMPTY_TRIES_MAP), arrayKey(0), value);
  return [0, 4, 8, 12].map((offset) => value.readUInt32LE(offset));
}

/** A private pin dir and a second view of the same pinned maps (to run the program on them). */
async function pinnedSetup(t: ExecutionContext): Promise<{ pinDir: string; view: () => LoadedObject }> {
  const pinDir = `/sys/fs/bpf/couic-test-${uniqueId()}`;
  const views: LoadedObject[] = [];
  t.teardown(async () => {
    for (const v of views) v.close();
    await rm(pinDir, { recursive: true, force: true });
  });
  return {
    pinDir,
    view: () => {
      const object = loadObject(DEFAULT_OBJECT_PATH, new Map(ALL_MAPS.map((name) => [name, join(pinDir, name)])));
      views.push(object);
      return object;
    },
  };
}

const rule = (policy: Policy, cidr: string) => ({ policy, cidr: parseCidr(cidr), tag: '' });
const key = (policy: Policy, cidr: string) => ({ policy, cidr: parseCidr(cidr) });

test.serial('program: a trie marked empty is skipped; zero flags look every trie up', (t) => {
  const object = loadObject(DEFAULT_OBJECT_PATH);
  t.teardown(() => object.close());
  mapUpdate(object.mapFd('drop_v4'), encodeKey(parseCidr('192.0.2.0/24')), encodeRuleValue(0));
  mapUpdate(object.mapFd('ignore_v4'), encodeKey(parseCidr('192.0.2.7/32')), encodeRuleValue(0));
  const run = (source: string): number => testRun(object.programFd(XDP_PROGRAM), v4Frame(source), 1).retval;
  const flags = (dropV4: number, ignoreV4: number): void => {
    const value = Buffer.alloc(16);
    value.writeUInt32LE(dropV4, 0);
    value.writeUInt32LE(ignoreV4, 8);
    mapUpdate(object.mapFd(EMPTY_TRIES_MAP), arrayKey(0), value);
  };
  t.deepEqual(kernelFlags(object), [0, 0, 0, 0], 'a fresh map marks nothing');
  t.is(run('192.0.2.1'), DROP);
  t.is(run('192.0.2.7'), PASS);
  flags(1, 0);
  t.is(run('192.0.2.1'), PASS, 'drop trie skipped');
  flags(0, 1);
  t.is(run('192.0.2.7'), DROP, 'ignore trie skipped: the drop /24 decides');
  flags(0, 0);
  t.is(run('192.0.2.7'), PASS);
});

test.serial('data plane: marks follow inserts and deletes, per policy and family', async (t) => {
  const { pinDir, view } = await pinnedSetup(t);
  const plane = await XdpDataPlane.open({ ifaces: [], pinDir, mode: 'auto', logger });
  t.teardown(() => plane.close());
  const kernel = view();
  const run = (frame: Buffer): number => testRun(kernel.programFd(XDP_PROGRAM), frame, 1).retval;
  t.deepEqual(kernelFlags(kernel), [1, 1, 1, 1], 'nothing pinned: every trie marked empty');

  await plane.apply({ upserts: [rule('drop', '198.51.100.0/24'), rule('drop', '198.51.100.9/32')], removals: [] });
  t.deepEqual(kernelFlags(kernel), [0, 1, 1, 1]);
  t.is(run(v4Frame('198.51.100.1')), DROP);
  t.false(plane.skipsTrie('drop', 4));

  await plane.apply({ upserts: [rule('ignore', '2001:db8::/32'), rule('drop', '2001:db8::/32')], removals: [key('drop', '198.51.100.9/32')] });
  t.deepEqual(kernelFlags(kernel), [0, 0, 1, 0], 'one drop v4 entry left: still looked up');
  t.is(run(v6Frame('2001:db8::1')), PASS, 'ignore wins');

  await plane.apply({ upserts: [], removals: [key('drop', '198.51.100.0/24'), key('ignore', '2001:db8::/32')] });
  t.deepEqual(kernelFlags(kernel), [1, 0, 1, 1], 'emptied tries marked');
  t.is(run(v4Frame('198.51.100.1')), PASS);
  t.is(run(v6Frame('2001:db8::1')), DROP);

  // Delete and re-add in one update: the trie ends non-empty and stays looked up.
  await plane.apply({ upserts: [rule('drop', '2001:db8::/32')], removals: [key('drop', '2001:db8::/32')] });
  t.is(kernelFlags(kernel)[1], 0);
  t.is(run(v6Frame('2001:db8::1')), DROP);
});

test.serial('restart: marks recomputed from the pinned tries (a stale mark is cleared); reconcile marks what it empties', async (t) => {
  const { pinDir, view } = await pinnedSetup(t);
  const first = await XdpDataPlane.open({ ifaces: [], pinDir, mode: 'auto', logger });
  await first.apply({ upserts: [rule('drop', '203.0.113.0/24'), rule('ignore', '203.0.113.5/32')], removals: [] });
  await first.close();
  const kernel = view();
  t.deepEqual(kernelFlags(kernel), [0, 1, 0, 1]);

  // A wrong mark left in the pinned map (e.g. written by hand): start must not trust it.
  const stale = Buffer.alloc(16, 0);
  stale.writeUInt32LE(1, 0);
  mapUpdate(kernel.mapFd(EMPTY_TRIES_MAP), arrayKey(0), stale);

  const second = await XdpDataPlane.open({ ifaces: [], pinDir, mode: 'auto', logger });
  t.teardown(() => second.close());
  t.deepEqual(kernelFlags(kernel), [0, 1, 0, 1], 'recomputed at start, before anything runs');
  t.is(testRun(kernel.programFd(XDP_PROGRAM), v4Frame('203.0.113.1'), 1).retval, DROP);

  // The store kept only the ignore entry: reconciliation removes the drop /24.
  await second.apply({ upserts: [rule('ignore', '203.0.113.5/32')], removals: [] });
  t.is(await second.reconcile(), 1);
  t.deepEqual(kernelFlags(kernel), [1, 1, 0, 1]);
  t.is(testRun(kernel.programFd(XDP_PROGRAM), v4Frame('203.0.113.1'), 1).retval, PASS);
});
