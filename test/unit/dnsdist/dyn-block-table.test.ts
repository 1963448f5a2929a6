// showDynBlocks()/showRules() text as dnsdist 1.7.3 prints it (captured from the real one).
import test from 'ava';
import { parseDynBlocks, parseRuleNames } from '../../../src/dnsdist/dyn-block-table.js';

const SHOW_DYN_BLOCKS = [
  'What                      Seconds   Blocks Warning    Action               Reason',
  '127.0.0.6/32                   60        0 false      Drop                 def',
  '127.0.0.8/32                   12        3 false      Truncate over UDP    tr',
  '2001:db8:1234:5678:9abc:def0:1234:5678/128       60        0 false      Drop                 a "quoted" reason',
  'attack.example.                30        0 false      Send Refused         smt test',
  '',
].join('\n');

test('rows: netmasks, long IPv6 that shifts the columns, suffixes, reasons with spaces', (t) => {
  const rows = parseDynBlocks(SHOW_DYN_BLOCKS);
  t.is(rows.length, 4);
  t.deepEqual(rows[0], { what: '127.0.0.6/32', kind: 'netmask', remainingSeconds: 60, blocks: 0, warning: false, action: 'Drop', reason: 'def' });
  t.like(rows[1], { action: 'Truncate over UDP', reason: 'tr', blocks: 3, remainingSeconds: 12 });
  t.like(rows[2], { what: '2001:db8:1234:5678:9abc:def0:1234:5678/128', action: 'Drop', reason: 'a "quoted" reason' });
  t.like(rows[3], { what: 'attack.example', kind: 'suffix', action: 'Send Refused', reason: 'smt test' });
});

test('an empty table has no rows', (t) => {
  t.deepEqual(parseDynBlocks('What                      Seconds   Blocks Warning    Action               Reason\n'), []);
});

test('rule names from showRules()', (t) => {
  const out = [
    '#   Name                             Matches Rule                                                     Action',
    '0   couic-netmasks-17                      0 Src: !10.1.0.0/16, 10.0.0.0/8                            set rcode 5',
    '1                                          2 All                                                      spoof in 192.0.2.1 ',
  ].join('\n');
  t.deepEqual(parseRuleNames(out), ['couic-netmasks-17']);
});
