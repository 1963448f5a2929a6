// Scenario "replication-memory": a node holding 262,144 replicated rules whose only
// peer is configured but absent (never started, so nothing is ever acknowledged),
// while 100,000 more changes (re-adds with a new tag and deletes of existing rules)
// accumulate for it. Figures: RSS and V8 heap used (live objects: read over the
// inspector after a forced full GC) after the changes, each beside the same node's
// figure before them (same run); the peer's pending deltas (distinct keys) in the
// notes. Memory for an absent peer must grow with distinct rules, never with operations.
//
// Run alone: `node --import tsx bench/replication-memory.ts [--quick] [--record]`.
import { setTimeout as sleep } from 'node:timers/promises';
import { Policy } from '../src/generated/couic/v1/entry.js';
import { runCli, type RunOptions, type Scenario } from './lib/cli.js';
import { isMain } from './lib/is-main.js';
import { startPeeredNodes } from './lib/peered-nodes.js';
import { readHeapAfterGc, type HeapFigures } from './lib/inspector-heap.js';
import { readProcessMemory } from './lib/process-memory.js';
import { formatInt, type ScenarioResult } from './lib/results.js';
import { RuleSpecSource } from './lib/rule-specs.js';
import { summarize } from './lib/stats.js';
import { withTempDir } from './lib/temp-dir.js';

export interface ReplicationMemorySizes {
  readonly rules: number;
  readonly changes: number;
  readonly batch: number;
  readonly settleMs: number;
}

export const FULL_SIZES: ReplicationMemorySizes = { rules: 262_144, changes: 100_000, batch: 10_000, settleMs: 2_000 };
export const QUICK_SIZES: ReplicationMemorySizes = { rules: 5_000, changes: 2_000, batch: 1_000, settleMs: 200 };

export async function runReplicationMemory(sizes: ReplicationMemorySizes, options: RunOptions = {}): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  return withTempDir('couic-bm-', async (dir) => {
    const cluster = await startPeeredNodes(dir, {
      names: ['node1', 'node2'],
      links: [['node1', 'node2']],
      absent: ['node2'],
      daemon: { logLevel: options.logLevel ?? 'warn', inspect: true, ...(options.cpuProfDir !== undefined ? { cpuProfDir: options.cpuProfDir } : {}) },
    });
    try {
      const node = cluster.node('node1');
      const rules = new RuleSpecSource('mem').take('v4', sizes.rules);
      for (let i = 0; i < rules.length; i += sizes.batch) await node.api.rules.addRules({ rules: rules.slice(i, i + sizes.batch) });
      await sleep(sizes.settleMs);
      const inspectPort = node.daemon.inspectPort;
      if (inspectPort === undefined) throw new Error('bench: the daemon has no inspector port');
      // RSS first: the forced GC of the heap reading may return pages to the system.
      const before = await readProcessMemory(node.daemon.pid);
      const heapBefore = await readHeapAfterGc(inspectPort);
      const pendingBefore = (await node.api.replication.listPeers({})).links[0]?.pendingDeltas ?? 0;
      // Changes over the held rules: mostly re-adds with a new tag, every fifth batch a delete.
      let done = 0;
      let round = 0;
      while (done < sizes.changes) {
        const count = Math.min(sizes.batch, sizes.changes - done);
        const offset = (done % rules.length) + 0;
        const slice = rules.slice(offset, offset + count);
        if (round % 5 === 4) {
          await node.api.rules.deleteRules({ keys: slice.map((r) => ({ policy: Policy.POLICY_DROP, cidr: r.cidr })) });
          await node.api.rules.addRules({ rules: slice });
        } else {
          await node.api.rules.addRules({ rules: slice.map((r) => ({ ...r, tag: `mem-${round}` })) });
        }
        done += count;
        round++;
      }
      await sleep(sizes.settleMs);
      const after = await readProcessMemory(node.daemon.pid);
      const heapAfter = await readHeapAfterGc(inspectPort);
      const link = (await node.api.replication.listPeers({})).links[0];
      log(
        `replication-memory: RSS ${mib(before.rssBytes)} -> ${mib(after.rssBytes)} MiB, peak ${mib(after.peakRssBytes)} MiB, ` +
          `heap used after GC ${mib(heapBefore.heapUsedBytes)} -> ${mib(heapAfter.heapUsedBytes)} MiB, ` +
          `pending deltas ${pendingBefore} -> ${link?.pendingDeltas ?? '?'} (state ${link?.state ?? '?'})`,
      );
      return {
        scenario: 'replication-memory',
        figures: [
          {
            name: `RSS holding ${formatInt(sizes.rules)} replicated rules after ${formatInt(sizes.changes)} changes accumulated for an absent peer`,
            kind: 'memory',
            unit: 'MiB',
            couic: summarize([after.rssBytes]),
            baseline: summarize([before.rssBytes]),
            baselineName: `same node with the ${formatInt(sizes.rules)} rules, before the changes`,
          },
          {
            name: `V8 heap used (after a forced full GC) holding ${formatInt(sizes.rules)} replicated rules after ${formatInt(sizes.changes)} changes for an absent peer`,
            kind: 'memory',
            unit: 'MiB',
            couic: summarize([heapAfter.heapUsedBytes]),
            baseline: summarize([heapBefore.heapUsedBytes]),
            baselineName: `same node with the ${formatInt(sizes.rules)} rules, before the changes`,
          },
          {
            name: 'peak RSS (VmHWM) over the whole run',
            kind: 'memory',
            unit: 'MiB',
            couic: summarize([after.peakRssBytes]),
            baseline: summarize([before.rssBytes]),
            baselineName: `same node with the ${formatInt(sizes.rules)} rules, before the changes`,
          },
        ],
        notes: [
          `pending deltas for the absent peer (distinct keys): ${formatInt(pendingBefore)} after loading, ${formatInt(link?.pendingDeltas ?? 0)} after the ${formatInt(sizes.changes)} changes (a peer that never connected has no outbox: the reconciliation on its first connect sends what differs)`,
          `changes in batches of ${formatInt(sizes.batch)}: re-adds with a new tag, every fifth batch deleted then re-added; the peer (node2) is configured on node1 but never started; one run; RSS read ${sizes.settleMs} ms after the last call, then the heap over the daemon's inspector after a forced full GC`,
          `after a forced full GC, before -> after the changes: ${describeHeap(heapBefore)} -> ${describeHeap(heapAfter)}`,
        ],
      };
    } finally {
      await cluster.stop();
    }
  });
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

function describeHeap(h: HeapFigures): string {
  return `heap used ${mib(h.heapUsedBytes)} MiB of ${mib(h.heapTotalBytes)} MiB, external ${mib(h.externalBytes)} MiB (array buffers ${mib(h.arrayBuffersBytes)} MiB), RSS ${mib(h.rssBytes)} MiB`;
}

export const replicationMemoryScenario: Scenario = {
  name: 'replication-memory',
  run: (quick, options) => runReplicationMemory(quick ? QUICK_SIZES : FULL_SIZES, options),
};

if (isMain(import.meta.url)) await runCli([replicationMemoryScenario], undefined, 'node --import tsx bench/replication-memory.ts');
