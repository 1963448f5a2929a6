// The cli-start benchmark cannot rot: one round against a real daemon gives positive
// figures for every variant (no timing assertion).
import test from 'ava';
import { runCliStart, timeCommand } from '../../../bench/cli-start.js';

test('timeCommand reports wall and CPU of a child, and fails on a failing command', (t) => {
  const timing = timeCommand([process.execPath, '-e', 'let x = 0; for (let i = 0; i < 1e7; i++) x += i;'], process.env);
  t.true(timing.wallMs > 0 && timing.cpuMs > 0);
  t.throws(() => timeCommand([process.execPath, '-e', 'process.exit(3)'], process.env));
});

test('one round of cli-start yields five positive figures beside node -e 0', async (t) => {
  t.timeout(5 * 60_000);
  const result = await runCliStart(1);
  t.is(result.scenario, 'cli-start');
  t.is(result.figures.length, 5);
  for (const figure of result.figures) t.true(figure.couic.p50 > 0 && figure.baseline.p50 > 0, figure.name);
});
