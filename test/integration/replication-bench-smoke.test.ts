// Smoke test of the replication benchmarks with tiny sizes, so they cannot rot: real
// peered daemons, no lost rules, figures present and finite (the 0-differing
// reconciliation may exchange 0 bytes). No timing assertions. Needs dist/ built.
import test from 'ava';
import { runPropagation } from '../../bench/replication-propagation.js';
import { runReconcile } from '../../bench/replication-reconcile.js';
import { runReplicationMemory } from '../../bench/replication-memory.js';
import { renderSection } from '../../bench/lib/results.js';
import { machineInfo } from '../../bench/lib/machine.js';
import { REPO_ROOT } from '../../bench/lib/paths.js';

test.serial('replication-propagation: 2 and 3 nodes, nothing lost, one latency figure per size and rate', async (t) => {
  const result = await runPropagation({ rates: [{ rulesPerSecond: 100, seconds: 0.3 }], nodeCounts: [2, 3], tickMs: 10, drainTimeoutMs: 15_000 });
  t.is(result.figures.length, 2);
  t.is(result.figures[0]?.couic.n, 30, '2 nodes: every rule seen on the peer');
  const figure = result.figures[1];
  t.is(figure?.couic.n, 2 * 30, '3 nodes: every rule seen on both peers');
  t.is(figure?.baseline.n, 30);
  t.true(result.notes.some((n) => n.includes('lost: node1 0, node2 0, node3 0')), result.notes.join('\n'));
  t.true(result.notes.some((n) => n.includes('lost: node1 0, node2 0') && n.startsWith('2 nodes')), result.notes.join('\n'));
  t.true(result.notes.some((n) => /TCP round trip p50 \d+ µs/.test(n)), 'loopback RTT floor measured');
  t.true(renderSection({ machine: machineInfo(REPO_ROOT), mode: 'quick', command: 'smoke', results: [result] }).includes('replication-propagation'));
});

test.serial('replication-reconcile: three cases with finite byte counts', async (t) => {
  const result = await runReconcile({ rules: 300, batch: 150, someDiffering: 10 });
  t.is(result.figures.length, 3);
  for (const figure of result.figures) {
    t.true(Number.isFinite(figure.couic.median) && figure.couic.median >= 0);
    t.true(figure.baseline.median > 0);
  }
  t.true((result.figures[2]?.couic.median ?? 0) > 0, 'all differing exchanges records');
});

test.serial('replication-memory: RSS, heap used after GC and peak RSS, before and after the changes', async (t) => {
  const result = await runReplicationMemory({ rules: 300, changes: 200, batch: 100, settleMs: 0 });
  t.is(result.figures.length, 3);
  for (const figure of result.figures) t.true(figure.couic.median > 0 && figure.baseline.median > 0);
});
