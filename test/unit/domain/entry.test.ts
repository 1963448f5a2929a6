// Entries, policies and the injectable clock.
import test from 'ava';
import { parseCidr } from '../../../src/domain/cidr.js';
import { ManualClock, nowSeconds, systemClock } from '../../../src/domain/clock.js';
import { isExpired, ruleKey } from '../../../src/domain/entry.js';
import { CAPACITY_PER_FAMILY, isPolicy, POLICIES } from '../../../src/domain/policy.js';

test('policies are drop and ignore with the reference capacities', (t) => {
  t.deepEqual([...POLICIES], ['drop', 'ignore']);
  t.is(CAPACITY_PER_FAMILY.drop, 262_144);
  t.is(CAPACITY_PER_FAMILY.ignore, 65_536);
});

test('isPolicy accepts only the exact lower-case names', (t) => {
  t.true(isPolicy('drop'));
  t.true(isPolicy('ignore'));
  for (const value of ['', 'DROP', 'Drop', 'pass', 'allow', ' drop', 'drop ', 'POLICY_DROP']) t.false(isPolicy(value), value);
});

test('ruleKey normalises through the CIDR and separates policies', (t) => {
  t.is(ruleKey('drop', parseCidr('192.168.1.200/24')), ruleKey('drop', parseCidr('192.168.1.0/24')));
  t.not(ruleKey('drop', parseCidr('10.0.0.0/8')), ruleKey('ignore', parseCidr('10.0.0.0/8')));
  t.not(ruleKey('drop', parseCidr('10.0.0.0/8')), ruleKey('drop', parseCidr('10.0.0.0/9')));
});

test('isExpired: 0 never expires; expires at its second, not before', (t) => {
  t.false(isExpired({ expiration: 0 }, 0));
  t.false(isExpired({ expiration: 0 }, Number.MAX_SAFE_INTEGER));
  t.false(isExpired({ expiration: 1000 }, 999));
  t.true(isExpired({ expiration: 1000 }, 1000));
  t.true(isExpired({ expiration: 1000 }, 1001));
});

test('ManualClock moves only by hand', (t) => {
  const clock = new ManualClock(5_000);
  t.is(clock.nowMs(), 5_000);
  t.is(clock.nowMs(), 5_000);
  clock.advanceMs(1_500);
  t.is(clock.nowMs(), 6_500);
  clock.set(42);
  t.is(clock.nowMs(), 42);
});

test('nowSeconds floors milliseconds', (t) => {
  const clock = new ManualClock(1_700_000_000_999);
  t.is(nowSeconds(clock), 1_700_000_000);
  clock.advanceMs(1);
  t.is(nowSeconds(clock), 1_700_000_001);
});

test('expiry with an injected clock', (t) => {
  const clock = new ManualClock(1_700_000_000_000);
  const entry = { expiration: nowSeconds(clock) + 2 };
  t.false(isExpired(entry, nowSeconds(clock)));
  clock.advanceMs(1_999);
  t.false(isExpired(entry, nowSeconds(clock)));
  clock.advanceMs(1);
  t.true(isExpired(entry, nowSeconds(clock)));
});

test('systemClock follows Date.now', (t) => {
  const before = Date.now();
  const now = systemClock.nowMs();
  t.true(now >= before && now <= Date.now());
});
