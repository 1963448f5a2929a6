// Big outputs are written in pieces: the same bytes as the one-string renderers, with
// waits on 'drain' when the sink asks for them, and list orders kept without spreads.
import test from 'ava';
import { displayKey } from '../../../src/cli/commands/rules/list.js';
import { batches } from '../../../src/cli/input/cidr-lines.js';
import { writeJsonArray, writeLines } from '../../../src/cli/output/json.js';
import { renderTable, writeTable } from '../../../src/cli/output/table.js';
import { Policy } from '../../../src/generated/couic/v1/entry.js';

/** A sink that says "full" on every write and counts the drains waited for. */
class SlowSink {
  text = '';
  writes = 0;
  drainsAwaited = 0;
  write(chunk: string): boolean {
    this.text += chunk;
    this.writes += 1;
    return false;
  }
  once(_event: 'drain', listener: () => void): void {
    this.drainsAwaited += 1;
    setImmediate(listener);
  }
}

test('writeJsonArray writes exactly JSON.stringify(list, null, 2), in pieces', async (t) => {
  const items = Array.from({ length: 5_000 }, (_, i) => ({ cidr: `10.0.${i >> 8}.${i & 255}/32`, tag: i % 2 === 0 ? '' : 'x"y', nested: { a: [i], b: null } }));
  for (const list of [[], items.slice(0, 1), items]) {
    const sink = new SlowSink();
    await writeJsonArray(sink, list);
    t.is(sink.text, `${JSON.stringify(list, null, 2)}\n`);
    if (list.length === items.length) t.true(sink.writes > 1 && sink.drainsAwaited === sink.writes);
  }
});

test('writeTable writes exactly renderTable, in pieces; 200,000 rows need no spread', async (t) => {
  const rows = Array.from({ length: 200_000 }, (_, i) => ['drop', `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`, i === 7 ? 'a-longer-tag' : '', 'never']);
  const sink = new SlowSink();
  await writeTable(sink, ['Policy', 'CIDR', 'Tag', 'Expiration'], rows);
  t.is(sink.text, renderTable(['Policy', 'CIDR', 'Tag', 'Expiration'], rows));
  t.true(sink.writes > 100);
  t.regex(sink.text, /│ drop   ┆ 10\.0\.0\.7\/32 +┆ a-longer-tag ┆ never      │/);
});

test('writeLines: one per line, nothing for none', async (t) => {
  const sink = new SlowSink();
  await writeLines(sink, []);
  t.is(sink.text, '');
  await writeLines(sink, ['a', 'b']);
  t.is(sink.text, 'a\nb\n');
});

test('displayKey sorts by policy, family, address, then prefix length', (t) => {
  const cidrs = ['2001:db8::/32', '10.0.0.0/8', '10.0.0.0/16', '9.255.255.255/32', '::1/128', '192.0.2.0/24'];
  const drop = cidrs.map((cidr) => ({ policy: Policy.POLICY_DROP, cidr }));
  const ignore = { policy: Policy.POLICY_IGNORE, cidr: '1.1.1.1/32' };
  const sorted = [...drop, ignore].sort((a, b) => (displayKey(a) < displayKey(b) ? -1 : 1)).map((e) => e.cidr);
  t.deepEqual(sorted, ['9.255.255.255/32', '10.0.0.0/8', '10.0.0.0/16', '192.0.2.0/24', '::1/128', '2001:db8::/32', '1.1.1.1/32']);
});

test('batches cut a list into slices of at most the given size', (t) => {
  t.deepEqual([...batches([1, 2, 3, 4, 5], 2)], [[1, 2], [3, 4], [5]]);
  t.deepEqual([...batches([], 2)], []);
});
