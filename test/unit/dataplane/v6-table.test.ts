// The IPv6 open-addressing table (v6_long) on a tiny array: prefixes spill into
// their second window when the first is full, deletes keep every remaining prefix
// findable, a full table refuses with ENOSPC, and a table re-read from memory
// (restart) finds the same prefixes.
import test from 'ava';
import { rng } from './random-rules.js';
import { v6LongKey } from '../../../src/dataplane/xdp/table-compiler.js';
import { V6_ENTRY_WORDS, V6Table } from '../../../src/dataplane/xdp/v6-table.js';

function randomPrefix(next: () => number): { length: number; bytes: Uint8Array } {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = Math.floor(next() * 256);
  return { length: 128, bytes };
}

test('spill into the second window, deletes, ENOSPC, re-read after a restart', async (t) => {
  const memory = new Uint32Array(64 * V6_ENTRY_WORDS);
  const table = new V6Table(memory);
  const next = rng(5);
  const live = new Map<string, { length: number; bytes: Uint8Array; value: number }>();
  let refused = 0;
  for (let i = 0; i < 200; i++) {
    const p = randomPrefix(next);
    const failures = await table.upsert([{ key: v6LongKey(p.length, p.bytes), value: 0x100 | (i & 0xff) }]);
    if (failures.length > 0) {
      t.is(failures[0]?.error.code, 'ENOSPC');
      refused++;
      continue;
    }
    live.set(Buffer.from(p.bytes).toString('hex'), { ...p, value: 0x100 | (i & 0xff) });
    // Delete one in three: holes in first windows while others sit in their second one.
    if (i % 3 === 0) {
      const [victim] = live.keys();
      const entry = victim === undefined ? undefined : live.get(victim);
      if (victim !== undefined && entry !== undefined) {
        await table.delete([v6LongKey(entry.length, entry.bytes)]);
        live.delete(victim);
        t.is(table.probe(entry.length, entry.bytes), undefined);
      }
    }
    for (const e of live.values()) if (table.probe(e.length, e.bytes) !== e.value) t.fail(`lost ${Buffer.from(e.bytes).toString('hex')}`);
  }
  t.true(refused > 0, 'a 64-entry table fills up');
  t.true(live.size > 30);
  const reread = new V6Table(memory);
  for (const e of live.values()) t.is(reread.probe(e.length, e.bytes), e.value);
  t.is(reread.entries().length, live.size);
});
