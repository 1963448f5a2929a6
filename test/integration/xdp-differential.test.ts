// Differential test of the compiled tables against the LPM semantics, on the real
// kernel: random rule sets (nested prefixes, ignore inside drop and drop inside
// ignore, /1-/32 and /1-/128, deletes that must restore a covering rule,
// tag-changing replacements) applied step by step through the daemon's data plane
// (XdpDataPlane over the real maps), then for >= 10,000 random and edge source
// addresses per family the program's verdict (BPF_PROG_TEST_RUN's return value)
// and tag slot (which per-tag counter moved) must equal src/domain/lpm.ts's answer.
// Root + BPF; no interface needed.
import anyTest, { type TestFn } from 'ava';
import { pino } from 'pino';
import { systemScheduler } from '../../src/domain/scheduler.js';
import { TAG_SLOTS, XDP_PROGRAM } from '../../src/dataplane/xdp/layout.js';
import { LibbpfKernelMaps } from '../../src/dataplane/xdp/libbpf-kernel-maps.js';
import { loadObject, testRun } from '../../src/dataplane/xdp/libbpf.js';
import { VERDICT_DROP, VERDICT_IGNORE } from '../../src/dataplane/xdp/table-compiler.js';
import { DEFAULT_OBJECT_PATH, XdpDataPlane } from '../../src/dataplane/xdp/xdp-dataplane.js';
import { xdpSkipReason } from '../helpers/netns.js';
import { Oracle, probeAddresses, randomScenario } from '../unit/dataplane/random-rules.js';

const skipReason = await xdpSkipReason(DEFAULT_OBJECT_PATH);
if (skipReason !== undefined) console.log(`xdp differential tests skipped: ${skipReason}`);
const test = (skipReason === undefined ? anyTest : anyTest.skip) as TestFn;

const XDP_DROP = 1;
const XDP_PASS = 2;

function frame(source: Uint8Array): Buffer {
  const v6 = source.length === 16;
  const out = Buffer.alloc(14 + (v6 ? 40 : 20) + 8);
  out.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  if (v6) {
    out.writeUInt32BE(6 << 28, 14);
    out.writeUInt16BE(8, 18);
    out[20] = 17;
    out.set(source, 22);
  } else {
    out[14] = 0x45;
    out.writeUInt16BE(28, 16);
    out[23] = 17;
    out.set(source, 26);
  }
  return out;
}

for (const family of [4, 6] as const) {
  for (const seed of [11, 12]) {
    test.serial(`IPv${family}, seed ${seed}: BPF_PROG_TEST_RUN verdict and tag slot equal the LPM answer for every probed source`, async (t) => {
      const object = loadObject(DEFAULT_OBJECT_PATH);
      const kernel = new LibbpfKernelMaps(object);
      const plane = await XdpDataPlane.overKernel(kernel, pino({ level: 'silent' }), systemScheduler);
      t.teardown(async () => {
        await plane.close();
        object.close();
      });
      const scenario = randomScenario(seed * 31 + family, family, 3000, 8);
      const oracle = new Oracle();
      for (const step of scenario.steps) {
        await plane.apply(step);
        oracle.apply(step);
      }
      t.is(plane.pendingWrites, 0);
      const probes = probeAddresses(seed, family, scenario, 10_000);
      t.true(probes.length >= 10_000);
      const slotOf = (tag: string): number => plane.tagSlot(tag) ?? -1;
      // Expected per-tag counters: start from what the kernel says, add each expected hit.
      const expected = { drop: new Array<number>(TAG_SLOTS).fill(0), ignore: new Array<number>(TAG_SLOTS).fill(0) };
      for (let slot = 0; slot < TAG_SLOTS; slot++) {
        expected.drop[slot] = kernel.readCounter('drop', slot).packets;
        expected.ignore[slot] = kernel.readCounter('ignore', slot).packets;
      }
      const prog = object.programFd(XDP_PROGRAM);
      let wrong = 0;
      const examples: string[] = [];
      let kinds = { drop: 0, ignore: 0, none: 0 };
      for (const address of probes) {
        const want = oracle.verdict(address, slotOf);
        const kind = want & VERDICT_IGNORE ? 'ignore' : want & VERDICT_DROP ? 'drop' : 'none';
        kinds = { ...kinds, [kind]: kinds[kind] + 1 };
        const retval = testRun(prog, frame(address.bytes), 1).retval;
        let ok = retval === (kind === 'drop' ? XDP_DROP : XDP_PASS);
        if (kind !== 'none') {
          const slot = want & 0xff;
          const counts = expected[kind];
          counts[slot] = (counts[slot] ?? 0) + 1;
          if (kernel.readCounter(kind, slot).packets !== counts[slot]) {
            ok = false;
            counts[slot] = kernel.readCounter(kind, slot).packets;
          }
        }
        if (!ok) {
          wrong++;
          if (examples.length < 5) examples.push(`${Buffer.from(address.bytes).toString('hex')}: want ${want.toString(16)}, program returned ${retval}`);
        }
      }
      // No hit was counted under a slot it does not belong to.
      for (let slot = 0; slot < TAG_SLOTS; slot++) {
        if (kernel.readCounter('drop', slot).packets !== expected.drop[slot]) wrong++;
        if (kernel.readCounter('ignore', slot).packets !== expected.ignore[slot]) wrong++;
      }
      t.log(`${probes.length} sources: ${kinds.drop} dropped, ${kinds.ignore} ignored, ${kinds.none} without a rule`);
      t.true(kinds.drop > 200 && kinds.ignore > 200 && kinds.none > 200, 'every kind of verdict probed');
      t.is(wrong, 0, examples.join('\n'));
    });
  }
}
