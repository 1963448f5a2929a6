// The table renderer against the reference's own sample tables, character by character.
import test from 'ava';
import { renderClients } from '../../../src/cli/commands/clients/view.js';
import { renderRules } from '../../../src/cli/commands/rules/view.js';
import { renderTable } from '../../../src/cli/output/table.js';
import { Entry, EntrySource, Policy } from '../../../src/generated/couic/v1/entry.js';

// Copied verbatim from couic-behaviour.md and the reference peering walkthrough.
const BEHAVIOUR_SAMPLE = `┌────────┬────────────┬──────┬────────────┐
│ Policy ┆ CIDR       ┆ Tag  ┆ Expiration │
╞════════╪════════════╪══════╪════════════╡
│ drop   ┆ 3.3.3.0/24 ┆ test ┆ 55s        │
├╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌┤
│ drop   ┆ 8.8.8.8/32 ┆      ┆ never      │
└────────┴────────────┴──────┴────────────┘
`;

const PEERING_DROP_ADD = `┌────────┬────────────┬─────┬────────────┐
│ Policy ┆ CIDR       ┆ Tag ┆ Expiration │
╞════════╪════════════╪═════╪════════════╡
│ drop   ┆ 1.1.1.1/32 ┆     ┆ 59s        │
└────────┴────────────┴─────┴────────────┘
`;

const PEERING_CLIENT_COUIC2 = `┌─────────────┬────────────┬──────────────────────────────────────┐
│ Name        ┆ Group      ┆ Token                                │
╞═════════════╪════════════╪══════════════════════════════════════╡
│ couic2      ┆ peering    ┆ e78336b3-8128-4c84-88c7-e2fad9c32d99 │
└─────────────┴────────────┴──────────────────────────────────────┘
`;

const PEERING_CLIENT_COUIC1 = `┌─────────────┬────────────┬──────────────────────────────────────┐
│ Name        ┆ Group      ┆ Token                                │
╞═════════════╪════════════╪══════════════════════════════════════╡
│ couic1      ┆ peering    ┆ bbfa1388-3218-463c-9722-6805507c14bb │
└─────────────┴────────────┴──────────────────────────────────────┘
`;

const NOW_MS = 1_700_000_000_250;
const nowS = Math.floor(NOW_MS / 1000);

function entry(cidr: string, tag: string, expiration: number): Entry {
  return Entry.fromPartial({ policy: Policy.POLICY_DROP, cidr, tag, expiration, source: EntrySource.ENTRY_SOURCE_API });
}

test('generic renderer reproduces the behaviour sample', (t) => {
  const out = renderTable(
    ['Policy', 'CIDR', 'Tag', 'Expiration'],
    [
      ['drop', '3.3.3.0/24', 'test', '55s'],
      ['drop', '8.8.8.8/32', '', 'never'],
    ],
  );
  t.is(out, BEHAVIOUR_SAMPLE);
});

test('rules view reproduces the behaviour sample from entries', (t) => {
  const out = renderRules([entry('3.3.3.0/24', 'test', nowS + 56), entry('8.8.8.8/32', '', 0)], NOW_MS);
  t.is(out, BEHAVIOUR_SAMPLE);
});

test('rules view reproduces the peering `drop add` output (header wider than empty tag)', (t) => {
  t.is(renderRules([entry('1.1.1.1/32', '', nowS + 60)], NOW_MS), PEERING_DROP_ADD);
});

test('clients view reproduces both peering `clients add` outputs', (t) => {
  const couic2 = { name: 'couic2', group: 'peering', token: 'e78336b3-8128-4c84-88c7-e2fad9c32d99' };
  const couic1 = { name: 'couic1', group: 'peering', token: 'bbfa1388-3218-463c-9722-6805507c14bb' };
  t.is(renderClients([couic2]), PEERING_CLIENT_COUIC2);
  t.is(renderClients([couic1]), PEERING_CLIENT_COUIC1);
});

test('columns grow with their widest cell, and min widths never truncate', (t) => {
  const out = renderTable(['A', 'B'], [['x', 'a-much-longer-value']], { minWidths: [3, 4] });
  const expected = [
    '┌─────┬─────────────────────┐',
    '│ A   ┆ B                   │',
    '╞═════╪═════════════════════╡',
    '│ x   ┆ a-much-longer-value │',
    '└─────┴─────────────────────┘',
    '',
  ].join('\n');
  t.is(out, expected);
  const clients = renderClients([{ name: 'a-client-name-longer-than-eleven', group: 'monitoring', token: 't' }]);
  t.true(clients.includes('│ a-client-name-longer-than-eleven ┆ monitoring ┆ t     │'));
});

test('an empty table is just the header box', (t) => {
  t.is(renderTable(['Tag', 'Packets'], []), '┌─────┬─────────┐\n│ Tag ┆ Packets │\n└─────┴─────────┘\n');
});

test('every line of a table has the same width', (t) => {
  const out = renderTable(['Policy', 'CIDR'], [['ignore', '2001:db8::/32'], ['drop', '10.0.0.0/8']]);
  const widths = new Set(out.trimEnd().split('\n').map((line) => [...line].length));
  t.is(widths.size, 1);
});
