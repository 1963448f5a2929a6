// The test kit's own pieces that tests and benchmarks share: scopes, temp dirs,
// polling, child output and ready lines (real child processes, no daemon).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import test from 'ava';
import { OutputBuffer, stopChild, waitForLine } from '../helpers/child.js';
import { makeTempDir, ownedScope, withScope, type Scope } from '../helpers/tmp.js';
import { eventually, waitUntil } from '../helpers/wait.js';

test('an owned scope runs its teardowns once, in reverse order', async (t) => {
  const scope = ownedScope();
  const order: number[] = [];
  scope.teardown(() => order.push(1));
  scope.teardown(() => order.push(2));
  await scope.close();
  await scope.close();
  t.deepEqual(order, [2, 1]);
  t.true(scope.passed);
});

test('withScope closes after the body and marks the scope failed when it throws', async (t) => {
  let seen: Scope | undefined;
  let dir = '';
  await t.throwsAsync(
    withScope(async (scope) => {
      seen = scope;
      dir = await makeTempDir(scope, 'couic-kit-');
      t.true(existsSync(dir));
      throw new Error('body failed');
    }),
    { message: 'body failed' },
  );
  t.false(seen?.passed ?? true);
  t.false(existsSync(dir));
  t.is(await withScope(async () => 42), 42);
});

test('eventually says whether the check held in time; waitUntil throws naming what it waited for', async (t) => {
  let calls = 0;
  t.true(await eventually(() => ++calls >= 3, 5_000, 1));
  t.is(calls, 3);
  t.false(await eventually(() => false, 20, 5));
  await t.throwsAsync(waitUntil('the moon', () => false, 20), { message: 'the moon not reached within 20 ms' });
});

test('waitForLine resolves on the line a child prints, rejects when it exits without it', async (t) => {
  const output = new OutputBuffer();
  const talker = output.attach(spawn(process.execPath, ['-e', 'console.error("warming up"); setTimeout(() => console.log("ready on port 4242"), 50); setInterval(() => {}, 1000)'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  t.teardown(() => stopChild(talker, 'SIGKILL', 5_000));
  const match = await waitForLine(talker, /ready on port (\d+)/, 30_000);
  t.is(match[1], '4242');
  t.regex(output.toString(), /warming up/);
  const stopped = await stopChild(talker, 'SIGTERM', 10_000);
  t.is(stopped.signal, 'SIGTERM');

  const quitter = spawn(process.execPath, ['-e', 'console.log("something else")'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await t.throwsAsync(waitForLine(quitter, /ready/, 30_000), { message: /exited \(code 0/ });
});

test('an output buffer keeps the tail past its limit', (t) => {
  const output = new OutputBuffer(10);
  const child = spawn(process.execPath, ['-e', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
  output.attach(child);
  child.stdout.emit('data', Buffer.from('0123456789abcdef'));
  t.is(output.toString(), 'bcdef');
  child.kill('SIGKILL');
});
