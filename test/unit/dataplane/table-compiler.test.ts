// The table compiler on the in-memory fake: after random changes, the tables read
// as the program reads them give, for random and edge addresses, the verdict and
// tag slot that src/domain/lpm.ts's semantics give; plus the cases that need care
// (deletes restoring a covering rule, replacements, refusals, block reuse).
import test from 'ava';
import { maskBytes, parseAddress, parseCidr, type Cidr } from '../../../src/domain/cidr.js';
import type { Policy } from '../../../src/domain/policy.js';
import { FakeKernelMaps } from '../../../src/dataplane/xdp/fake-kernel-maps.js';
import { readVerdict, TableCompiler, VERDICT_DROP, VERDICT_IGNORE, type CompiledRule } from '../../../src/dataplane/xdp/table-compiler.js';
import { Oracle, probeAddresses, randomScenario, rng } from './random-rules.js';

function slotOf(tag: string): number {
  return tag === '' ? 0 : Number(tag.slice(1)) + 1;
}

function rule(policy: Policy, cidr: Cidr, tag: string): CompiledRule {
  return { policy, family: cidr.family, prefixLength: cidr.prefixLength, bytes: cidr.bytes, slot: slotOf(tag) };
}

function setup(options: { v4Blocks?: number; v6Long?: number } = {}): { kernel: FakeKernelMaps; compiler: TableCompiler; verdict: (a: string) => number } {
  const kernel = new FakeKernelMaps(options);
  const compiler = new TableCompiler(kernel.tables, kernel.v6Long, { v4Blocks: options.v4Blocks ?? 4096, v6Long: options.v6Long ?? 65_536 });
  const verdict = (a: string): number => readVerdict(kernel.tables, (l, b) => kernel.v6Probe(l, b), parseAddress(a).bytes);
  return { kernel, compiler, verdict };
}

for (const family of [4, 6] as const) {
  for (const seed of [1, 2, 3]) {
    test.serial(`IPv${family} random rules (seed ${seed}): tables agree with the LPM semantics after every step`, async (t) => {
      const { kernel, compiler } = setup();
      const scenario = randomScenario(seed * 7 + family, family, 400, 6);
      const oracle = new Oracle();
      const probes = probeAddresses(seed, family, scenario, 2000);
      for (const step of scenario.steps) {
        const refused = await compiler.apply(
          step.upserts.map((u) => rule(u.policy, u.cidr, u.tag)),
          step.removals.map(({ policy, cidr }) => ({ policy, family, prefixLength: cidr.prefixLength, bytes: cidr.bytes })),
        );
        t.deepEqual(refused, []);
        oracle.apply(step);
        let wrong = 0;
        let first = '';
        for (const address of probes) {
          const got = readVerdict(kernel.tables, (l, b) => kernel.v6Probe(l, b), address.bytes);
          const want = oracle.verdict(address, slotOf);
          if (got !== want) {
            wrong++;
            if (first === '') first = `${address.text}: got ${got.toString(16)}, want ${want.toString(16)}`;
          }
        }
        t.is(wrong, 0, first);
      }
    });
  }
}

test.serial('ignore inside drop, drop inside ignore, deletes restore the covering rule (IPv4 short and long, IPv6)', async (t) => {
  const { compiler, verdict } = setup();
  const c = parseCidr;
  await compiler.apply([rule('drop', c('10.0.0.0/8'), 't1'), rule('ignore', c('10.1.0.0/16'), 't2'), rule('drop', c('10.1.2.128/25'), 't3')], []);
  t.is(verdict('10.9.9.9'), VERDICT_DROP | 2);
  t.is(verdict('10.1.9.9'), VERDICT_IGNORE | 3, 'ignore inside drop');
  t.is(verdict('10.1.2.200'), VERDICT_IGNORE | 3, 'drop inside ignore: ignore still wins');
  await compiler.apply([], [{ policy: 'ignore', family: 4, prefixLength: 16, bytes: c('10.1.0.0/16').bytes }]);
  t.is(verdict('10.1.2.200'), VERDICT_DROP | 4, 'the /25 decides again');
  t.is(verdict('10.1.2.1'), VERDICT_DROP | 2, 'the /8 covers again');
  await compiler.apply([rule('drop', c('10.0.0.0/8'), 't5')], []);
  t.is(verdict('10.1.2.1'), VERDICT_DROP | 6, 'tag replaced under a block');
  t.is(verdict('10.1.2.200'), VERDICT_DROP | 4);
  await compiler.apply([], [{ policy: 'drop', family: 4, prefixLength: 25, bytes: c('10.1.2.128/25').bytes }]);
  t.is(verdict('10.1.2.200'), VERDICT_DROP | 6);
  t.is(compiler.blocksInUse, 0, 'block given back');
  await compiler.apply([], [{ policy: 'drop', family: 4, prefixLength: 8, bytes: c('10.0.0.0/8').bytes }]);
  t.is(verdict('10.1.2.200'), 0);

  await compiler.apply([rule('drop', c('2001:db8::/32'), 't1'), rule('ignore', c('2001:db8:1::/48'), 't2'), rule('drop', c('2001:db8:1::5/128'), 't3'), rule('drop', c('2000::/3'), 't4')], []);
  t.is(verdict('2001:db8::1'), VERDICT_DROP | 2);
  t.is(verdict('2001:db8:1::5'), VERDICT_IGNORE | 3, 'drop /128 inside ignore /48');
  t.is(verdict('2001:db9::1'), VERDICT_DROP | 5, 'the /3 covers');
  await compiler.apply([], [{ policy: 'ignore', family: 6, prefixLength: 48, bytes: c('2001:db8:1::/48').bytes }]);
  t.is(verdict('2001:db8:1::5'), VERDICT_DROP | 4);
  t.is(verdict('2001:db8:1::6'), VERDICT_DROP | 2);
  await compiler.apply([], [{ policy: 'drop', family: 6, prefixLength: 32, bytes: c('2001:db8::/32').bytes }, { policy: 'drop', family: 6, prefixLength: 128, bytes: c('2001:db8:1::5/128').bytes }]);
  t.is(verdict('2001:db8:1::5'), VERDICT_DROP | 5, 'back to the /3');
});

test.serial('a /8 over populated /24s keeps the longer prefixes; its delete restores them alone', async (t) => {
  const { compiler, verdict } = setup();
  const inside = Array.from({ length: 300 }, (_, i) => parseCidr(`20.${i % 256}.${i >> 8}.7/32`));
  await compiler.apply(inside.map((cidr) => rule('ignore', cidr, 't1')), []);
  await compiler.apply([rule('drop', parseCidr('20.0.0.0/8'), 't2')], []);
  t.is(verdict('20.5.0.7'), VERDICT_IGNORE | 2);
  t.is(verdict('20.5.0.8'), VERDICT_DROP | 3);
  await compiler.apply([], [{ policy: 'drop', family: 4, prefixLength: 8, bytes: parseCidr('20.0.0.0/8').bytes }]);
  t.is(verdict('20.5.0.7'), VERDICT_IGNORE | 2);
  t.is(verdict('20.5.0.8'), 0);
});

test.serial('no free block: the rule is refused with ENOSPC and nothing of it is written; freed blocks are reused after a change', async (t) => {
  const { compiler, verdict } = setup({ v4Blocks: 2 });
  t.deepEqual(await compiler.apply([rule('drop', parseCidr('1.1.1.1/32'), 't1'), rule('drop', parseCidr('1.1.2.1/32'), 't1')], []), []);
  const refused = await compiler.apply([rule('drop', parseCidr('1.1.3.1/32'), 't1')], []);
  t.is(refused.length, 1);
  t.is(refused[0]?.error.code, 'ENOSPC');
  t.is(verdict('1.1.3.1'), 0);
  t.is(verdict('1.1.2.1'), VERDICT_DROP | 2);
  await compiler.apply([], [{ policy: 'drop', family: 4, prefixLength: 32, bytes: parseCidr('1.1.1.1/32').bytes }]);
  // The freed block is quarantined during that change, then reusable.
  t.deepEqual(await compiler.apply([rule('drop', parseCidr('1.1.3.1/32'), 't1')], []), []);
  t.is(verdict('1.1.3.1'), VERDICT_DROP | 2);
  t.is(verdict('1.1.1.1'), 0);
});

test.serial('a v6_long write the kernel refuses stays unwritten (the covering verdict shows) until retried', async (t) => {
  const { kernel, compiler, verdict } = setup();
  await compiler.apply([rule('drop', parseCidr('2001:db8::/32'), 't1')], []);
  kernel.v6Long.refusal = () => 12; // ENOMEM
  t.deepEqual(await compiler.apply([rule('ignore', parseCidr('2001:db8::5/128'), 't2')], []), []);
  t.is(compiler.unwrittenCount, 1);
  t.is(verdict('2001:db8::5'), VERDICT_DROP | 2, 'old state, never a state of neither');
  kernel.v6Long.refusal = undefined;
  t.is(await compiler.retryUnwritten(), 0);
  t.is(verdict('2001:db8::5'), VERDICT_IGNORE | 3);
});

test.serial('identical re-applies write nothing', async (t) => {
  const { kernel, compiler } = setup();
  const rules = [rule('drop', parseCidr('2001:db8::/32'), 't1'), rule('drop', parseCidr('2001:db8::5/128'), 't2')];
  await compiler.apply(rules, []);
  const writes = kernel.v6Long.writes;
  await compiler.apply(rules, []);
  t.is(kernel.v6Long.writes, writes);
});

test.serial('a restart over pinned tables rebuilds each block in place (no block of a live slot is handed to another) and keeps every verdict', async (t) => {
  const { kernel, compiler } = setup();
  const scenario = randomScenario(77, 4, 400, 1);
  const step = scenario.steps[0];
  if (step === undefined) return t.fail();
  // One rule per key (the scenario replaces some): the order of the changes below must not matter.
  const rules = [...new Map(step.upserts.map((u) => [`${u.policy}:${u.cidr.text}`, rule(u.policy, u.cidr, u.tag)])).values()];
  // Two changes, the second half first: blocks are not numbered in slot order.
  await compiler.apply(rules.slice(rules.length >> 1), []);
  await compiler.apply(rules.slice(0, rules.length >> 1), []);
  const pointers = new Map<number, number>();
  kernel.tables.v4Top.forEach((value, s) => {
    if (value >= 0x80000000) pointers.set(s, value);
  });
  t.true(pointers.size > 10);
  const probes = probeAddresses(5, 4, scenario, 2000);
  const before = probes.map((a) => readVerdict(kernel.tables, () => undefined, a.bytes));
  // Watch every block write of the second compiler: none may change a block another slot points to.
  const restarted = new TableCompiler(kernel.tables, kernel.v6Long, { v4Blocks: 4096, v6Long: 65_536 });
  await restarted.apply(rules, []);
  const after = new Map<number, number>();
  kernel.tables.v4Top.forEach((value, s) => {
    if (value >= 0x80000000) after.set(s, value);
  });
  t.deepEqual([...after], [...pointers], 'every slot points to the same block as before');
  t.deepEqual(probes.map((a) => readVerdict(kernel.tables, () => undefined, a.bytes)), before);
});

/**
 * First difference between two kernels' tables that does not come from which block
 * or length list each allocated: per slot, its verdict or its block's / list's
 * contents; then v6_long's entries. Undefined when equal.
 */
function tableDifference(x: FakeKernelMaps, y: FakeKernelMaps): string | undefined {
  const block = (k: FakeKernelMaps, value: number): string => {
    const b = value - 0x80000000;
    return Array.from(k.tables.v4Blocks.subarray(b * 256, b * 256 + 256)).join(',');
  };
  const list = (k: FakeKernelMaps, value: number): string => {
    const set = (value >>> 10) & 0x1fffff;
    return set === 0 ? 'all' : Array.from(k.tables.v6Lengths.subarray(set * 104, set * 104 + 104)).filter((l) => l !== 0).join(',');
  };
  for (let s = 0; s < x.tables.v4Top.length; s++) {
    const a = x.tables.v4Top[s] as number;
    const b = y.tables.v4Top[s] as number;
    if (a === b && a < 0x80000000) continue;
    if (a < 0x80000000 || b < 0x80000000 || block(x, a) !== block(y, b)) return `v4 slot ${s}: ${a.toString(16)} vs ${b.toString(16)}`;
  }
  for (let s = 0; s < x.tables.v6Top.length; s++) {
    const a = x.tables.v6Top[s] as number;
    const b = y.tables.v6Top[s] as number;
    if (a === b && a < 0x80000000) continue;
    if (a < 0x80000000 || b < 0x80000000 || (a & 0x3ff) !== (b & 0x3ff) || list(x, a) !== list(y, b)) return `v6 slot ${s}: ${a.toString(16)} vs ${b.toString(16)}`;
  }
  const entries = (k: FakeKernelMaps): string => k.v6Long.entries().map((e) => `${e.key.toString('hex')}=${e.value}`).sort().join(' ');
  if (entries(x) !== entries(y)) return 'v6_long entries differ';
  return undefined;
}

for (const family of [4, 6] as const) {
  for (const seed of [1, 2]) {
    test.serial(`IPv${family} (seed ${seed}): one bulk apply of a whole rule set writes the same tables as applying it in batches of 4`, async (t) => {
      t.timeout(120_000);
      const scenario = randomScenario(seed * 11 + family, family, family === 4 ? 300 : 200, 1);
      const rules = new Map<string, CompiledRule>();
      for (const u of scenario.steps[0]?.upserts ?? []) rules.set(`${u.policy}:${u.cidr.text}`, rule(u.policy, u.cidr, u.tag));
      // Wide rules (/9-/23) around the scenario's, so the one-pass recompute runs.
      const next = rng(seed * 13 + family);
      for (let i = 0; i < 48; i++) {
        const bytes = new Uint8Array(family === 4 ? 4 : 16);
        for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(next() * 256);
        const cidr = { family, prefixLength: 9 + (i % 15), bytes: maskBytes(bytes, 9 + (i % 15)), text: `wide${i}` };
        rules.set(`wide${i}`, rule(i % 3 === 0 ? 'ignore' : 'drop', cidr, `t${i % 5}`));
      }
      const all = [...rules.values()];
      t.true(all.filter((r) => r.prefixLength < 24).length > 32, 'enough wide rules for the one-pass recompute');
      const bulk = setup();
      t.deepEqual(await bulk.compiler.apply(all, []), []);
      // Incremental: small batches (each recomputes only the ranges it touches).
      const incremental = setup();
      for (let i = 0; i < all.length; i += 4) t.deepEqual(await incremental.compiler.apply(all.slice(i, i + 4), []), []);
      t.not(bulk.verdict(family === 4 ? '0.0.0.0' : '::'), -1);
      t.is(tableDifference(bulk.kernel, incremental.kernel), undefined);
      // And a bulk apply over tables already equal writes nothing that changes them.
      t.deepEqual(await incremental.compiler.apply(all, []), []);
      t.is(tableDifference(bulk.kernel, incremental.kernel), undefined);
    });
  }
}
