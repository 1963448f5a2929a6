// Keeps bench/bus-propagation.ts from rotting: runs it with tiny sizes against a
// real nats-server and checks the figures are well formed (no timing assertions).
import test from 'ava';
import { runBusPropagation } from '../../bench/bus-propagation.js';

test('bus-propagation bench runs with tiny sizes and reports no lost rules', async (t) => {
  const result = await runBusPropagation({ rates: [{ rulesPerSecond: 100, seconds: 0.5 }], tickMs: 10, drainTimeoutMs: 20_000, convergeRules: 500 }, { logLevel: 'warn' });
  t.is(result.scenario, 'bus-propagation');
  // One latency figure per rate, then convergence from daemon start and from API ready.
  t.is(result.figures.length, 3);
  for (const figure of result.figures) {
    t.true(figure.couic.n > 0 && Number.isFinite(figure.couic.p50), figure.name);
    t.true(figure.baseline.n > 0 && Number.isFinite(figure.baseline.p50), figure.name);
  }
  t.regex(result.notes.join('\n'), /lost on node2: 0/);
  t.regex(result.notes.join('\n'), /split: add -> visible on node1 itself/);
  t.regex(result.notes.join('\n'), /fresh node: start-up \(process start -> API answering\)/);
});
