// Scenario "dnsdist-latency": how long a dynamic block made by dnsdist 1 takes to be
// enforced by dnsdist 2. Two real dnsdist 1.7.3 (Debian) on loopback, each with its
// couic node (peered over mTLS, default 250 ms flush) and its couic-dnsdist bridge
// (publish + consume). A block is made on dnsdist 1 through its console (what its
// DynBlockRulesGroup does on a flood: addDynBlocks with a reason), then dnsdist 2 is
// queried from that source every 5 ms until it answers REFUSED.
// Baseline (same run, same cluster): a rule added with AddRules on couic 1, until
// dnsdist 2 refuses it - the same path without the publish side (no block-table poll).
// Measured at the bridge's default intervals (poll 1000 ms, batch 1000 ms) and at
// 250/250 ms; the notes give the designed waits beside the figures.
//
// Run: `npm run build && node --import tsx bench/dnsdist-latency.ts [--quick] [--record]`
// (needs Debian's dnsdist: scripts/system-deps.sh). Not part of run-all.ts yet.
import { fileURLToPath } from 'node:url';
import { addClientWithCli, startCluster } from '../test/helpers/cluster.js';
import { query, startBridge, startDnsdist, dnsdistMissing, type Dnsdist } from '../test/helpers/dnsdist.js';
import type { Scope } from '../test/helpers/tmp.js';
import { dropSpec } from '../test/helpers/rules.js';
import type { CouicClients } from '../test/helpers/clients.js';
import { machineInfo } from './lib/machine.js';
import { appendSection, renderSection, type Figure, type ScenarioResult } from './lib/results.js';
import { summarize } from './lib/stats.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const PROBE_EVERY_MS = 5;
const PROBE_LIMIT_MS = 20_000;

interface Intervals {
  readonly pollMs: number;
  readonly batchMs: number;
}

function scope(): Scope & { close(): Promise<void> } {
  const teardowns: (() => unknown)[] = [];
  return {
    teardown: (fn) => teardowns.push(fn),
    passed: true,
    log: (...values) => console.error(...values),
    close: async () => {
      for (const fn of teardowns.reverse()) await fn();
    },
  };
}

/** Milliseconds until dnsdist refuses `source` (bounded). */
async function untilRefused(dnsdist: Dnsdist, source: string, since: number): Promise<number> {
  while (performance.now() - since < PROBE_LIMIT_MS) {
    if ((await query(dnsdist.dnsPort, source, 'bench.example', 200)) === 'REFUSED') return performance.now() - since;
    await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
  }
  throw new Error(`${source} not refused by dnsdist ${dnsdist.dnsPort} within ${PROBE_LIMIT_MS} ms`);
}

async function measure(intervals: Intervals, samples: number, base: number): Promise<{ block: number[]; rule: number[] }> {
  const s = scope();
  try {
    const cluster = await startCluster(s, { names: ['dns1', 'dns2'], links: [['dns1', 'dns2']], daemon: { loggingExtra: 'level = "warn"' } });
    const sites: { dnsdist: Dnsdist; clients: CouicClients }[] = [];
    for (const name of ['dns1', 'dns2']) {
      const node = cluster.get(name);
      if (node === undefined) throw new Error(name);
      const dnsdist = await startDnsdist(s);
      const { token } = await addClientWithCli(node.daemon, `bridge-${name}`, 'clientrw');
      await startBridge(s, { dnsdist, couicSocket: node.daemon.socketPath, token, publish: true, consume: true, pollIntervalMs: intervals.pollMs, batchIntervalMs: intervals.batchMs });
      sites.push({ dnsdist, clients: node.clients });
    }
    const [one, two] = sites as [(typeof sites)[0], (typeof sites)[0]];
    // Warm-up: both bridges connected and synced before the first sample.
    const warmUp = `127.0.${base + 2}.250`;
    await one.clients.rules.addRules({ rules: [dropSpec(`${warmUp}/32`)] });
    await untilRefused(two.dnsdist, warmUp, performance.now());
    const block: number[] = [];
    const rule: number[] = [];
    // Samples start at random moments: back to back they would lock onto the bridges' ticks.
    const jitter = () => new Promise((r) => setTimeout(r, Math.random() * Math.max(intervals.pollMs, intervals.batchMs)));
    for (let i = 1; i <= samples; i++) {
      await jitter();
      const blockSource = `127.0.${base}.${i}`;
      const t0 = performance.now();
      await one.dnsdist.console(`local t = {} t[newCA("${blockSource}")] = 1 addDynBlocks(t, "bench block", 120, DNSAction.Refused)`);
      block.push(await untilRefused(two.dnsdist, blockSource, t0));
      await jitter();
      const ruleSource = `127.0.${base + 1}.${i}`;
      const t1 = performance.now();
      await one.clients.rules.addRules({ rules: [dropSpec(`${ruleSource}/32`, { tag: 'bench' })] });
      rule.push(await untilRefused(two.dnsdist, ruleSource, t1));
    }
    return { block, rule };
  } finally {
    await s.close();
  }
}

async function main(): Promise<void> {
  const missing = dnsdistMissing();
  if (missing !== undefined) throw new Error(missing);
  const quick = process.argv.includes('--quick');
  const record = process.argv.includes('--record');
  const samples = quick ? 5 : 30;
  const machine = machineInfo(REPO_ROOT);
  const figures: Figure[] = [];
  const notes: string[] = [];
  const settings: Intervals[] = [
    { pollMs: 1000, batchMs: 1000 },
    { pollMs: 250, batchMs: 250 },
  ];
  let base = 20;
  for (const intervals of settings) {
    const { block, rule } = await measure(intervals, samples, base);
    base += 3;
    const label = `poll ${intervals.pollMs} ms, batch ${intervals.batchMs} ms`;
    figures.push({
      name: `dnsdist 1 block -> refused by dnsdist 2 (${label})`,
      kind: 'latency',
      unit: 'ms',
      couic: summarize(block),
      baseline: summarize(rule),
      baselineName: 'AddRules on couic 1 -> refused by dnsdist 2 (no publish poll), same cluster, interleaved',
    });
    notes.push(
      `${label}: designed waits: publish poll 0-${intervals.pollMs} ms (mean ${intervals.pollMs / 2}), mesh flush 0-250 ms (mean 125), consume batch 0-${intervals.batchMs} ms (mean ${intervals.batchMs / 2}); ` +
        `sum of means ${intervals.pollMs / 2 + 125 + intervals.batchMs / 2} ms for a block, ${125 + intervals.batchMs / 2} ms for a rule`,
    );
  }
  notes.push(
    `2 couic nodes peered over mTLS on loopback (default 250 ms flush), one dnsdist 1.7.3 + one couic-dnsdist (publish + consume, action refused) per node; ${samples} samples per figure; ` +
      `each sample starts after a random pause of 0 to max(poll, batch) (untimed) and ends at the first REFUSED answer to queries sent every ${PROBE_EVERY_MS} ms from the blocked source (resolution about ${PROBE_EVERY_MS} ms)`,
  );
  const result: ScenarioResult = { scenario: 'dnsdist-latency', figures, notes };
  const section = renderSection({ machine, mode: quick ? 'quick' : 'full', command: `node --import tsx bench/dnsdist-latency.ts${quick ? ' --quick' : ''}`, results: [result] });
  process.stdout.write(section);
  if (record) await appendSection(fileURLToPath(new URL('./RESULTS.md', import.meta.url)), section);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
