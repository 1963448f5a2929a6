// The sync state machine's per-rule index: one index per (policy, prefix), found
// again by value, grown past its initial size, reused after release.
import test from 'ava';
import { parseCidr } from '../../../src/domain/cidr.js';
import { RuleState } from '../../../src/dataplane/xdp/rule-state.js';

test('same rule, same index; policies and families apart; grows; released indices are reused and found no more', (t) => {
  const state = new RuleState(4);
  const a = state.indexOf('drop', parseCidr('10.0.0.0/8'));
  t.is(state.indexOf('drop', parseCidr('10.0.0.0/8')), a);
  t.not(state.indexOf('ignore', parseCidr('10.0.0.0/8')), a);
  t.not(state.indexOf('drop', parseCidr('10.0.0.0/9')), a);
  t.not(state.indexOf('drop', parseCidr('a00::/8')), a);
  const many: number[] = [];
  for (let i = 0; i < 5000; i++) many.push(state.indexOf('drop', parseCidr(`2001:db8:${i.toString(16)}::/48`)));
  t.is(new Set(many).size, 5000);
  for (let i = 0; i < 5000; i++) t.is(state.indexOf('drop', parseCidr(`2001:db8:${i.toString(16)}::/48`)), many[i] as number);
  state.wanted[a] = 3;
  state.setEnforced(a, 3);
  t.is(state.enforcedPerPolicy[0], 1);
  state.releaseIfDead(a);
  t.is(state.indexOf('drop', parseCidr('10.0.0.0/8')), a, 'a live rule is not released');
  state.wanted[a] = -1;
  state.setEnforced(a, -1);
  t.is(state.enforcedPerPolicy[0], 0);
  state.releaseIfDead(a);
  const b = state.indexOf('drop', parseCidr('192.0.2.0/24'));
  t.is(b, a, 'the released index is reused');
  const again = state.indexOf('drop', parseCidr('10.0.0.0/8'));
  t.not(again, a, 'the released rule got a new index');
  t.is(state.wanted[again], -1);
  // Churn: tombstones never make lookups loop or lose a rule.
  for (let round = 0; round < 20; round++) {
    const idx: number[] = [];
    for (let i = 0; i < 300; i++) idx.push(state.indexOf('ignore', parseCidr(`198.51.${round}.${i % 256}/32`)));
    for (const i of idx) state.releaseIfDead(i);
  }
  for (let i = 0; i < 5000; i += 499) t.is(state.indexOf('drop', parseCidr(`2001:db8:${i.toString(16)}::/48`)), many[i] as number);
});
