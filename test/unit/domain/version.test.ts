import test from 'ava';
import { ManualClock } from '../../../src/domain/clock.js';
import { clockOffsetExcessMs, compareVersions, HybridClock, MAX_VERSION_COUNTER } from '../../../src/domain/version.js';

const NOW = 1_700_000_000_000;

test('issue 14 (4): a full counter carries into the wall part: never beyond uint32, still increasing', (t) => {
  const clock = new ManualClock(NOW);
  const hlc = new HybridClock(clock, 'a');
  hlc.observe({ wallMs: NOW + 600_000, counter: MAX_VERSION_COUNTER, origin: 'evil' });
  const first = hlc.next();
  t.deepEqual([first.wallMs, first.counter], [NOW + 600_001, 0]);
  t.true(compareVersions(first, { wallMs: NOW + 600_000, counter: MAX_VERSION_COUNTER, origin: 'evil' }) > 0);
  const second = hlc.next();
  t.deepEqual([second.wallMs, second.counter], [NOW + 600_001, 1]);
  for (let i = 0; i < 1000; i++) t.true(hlc.next().counter <= MAX_VERSION_COUNTER);
});

test('clockOffsetExcessMs: 0 within the bound, the distance beyond it', (t) => {
  const at = (wallMs: number) => ({ wallMs, counter: 0, origin: 'x' });
  t.is(clockOffsetExcessMs(at(NOW + 60_000), NOW, 60_000), 0);
  t.is(clockOffsetExcessMs(at(NOW - 1e9), NOW, 60_000), 0);
  t.is(clockOffsetExcessMs(at(NOW + 60_001), NOW, 60_000), 60_001);
  t.true(clockOffsetExcessMs(at(Number.MAX_SAFE_INTEGER), NOW, 60_000) > 0);
});
