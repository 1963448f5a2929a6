// ManualScheduler runs due callbacks in time order and moves its clock; cancels work.
import test from 'ava';
import { ManualClock } from '../../../src/domain/clock.js';
import { ManualScheduler, systemScheduler } from '../../../src/domain/scheduler.js';

test('advance runs one-shot and periodic timers in time order (ties in creation order), at their due times', (t) => {
  const clock = new ManualClock(1000);
  const s = new ManualScheduler(clock);
  const seen: string[] = [];
  s.after(300, () => seen.push(`after300@${clock.nowMs()}`));
  const stop = s.every(100, () => seen.push(`every@${clock.nowMs()}`));
  s.after(150, () => seen.push(`after150@${clock.nowMs()}`));
  s.advance(350);
  t.deepEqual(seen, ['every@1100', 'after150@1150', 'every@1200', 'after300@1300', 'every@1300']);
  t.is(clock.nowMs(), 1350);
  stop();
  s.advance(1000);
  t.is(seen.length, 5);
  t.is(s.pending, 0);
});

test('callbacks may schedule more work within the same advance; cancelled timers never run', (t) => {
  const clock = new ManualClock(0);
  const s = new ManualScheduler(clock);
  const seen: number[] = [];
  s.after(10, () => s.after(10, () => seen.push(clock.nowMs())));
  const cancel = s.after(15, () => seen.push(-1));
  cancel();
  cancel();
  s.advance(25);
  t.deepEqual(seen, [20]);
  t.is(s.nextDueMs(), undefined);
});

test('runNext steps one timer at a time up to a bound', (t) => {
  const clock = new ManualClock(0);
  const s = new ManualScheduler(clock);
  let runs = 0;
  s.every(10, () => runs++);
  t.true(s.runNext(25));
  t.true(s.runNext(25));
  t.false(s.runNext(25));
  t.is(runs, 2);
  t.is(clock.nowMs(), 20);
});

test('systemScheduler timers fire and cancel', async (t) => {
  let fired = 0;
  // The scheduler's timers are unref'd (they must not keep a daemon alive): hold the
  // event loop open with a ref'd guard while waiting, or the worker may exit first.
  const guard = setTimeout(() => undefined, 60_000);
  await new Promise<void>((resolve) => systemScheduler.after(1, () => { fired++; resolve(); }));
  clearTimeout(guard);
  const cancel = systemScheduler.after(1, () => fired++);
  cancel();
  await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(fired, 1);
});
