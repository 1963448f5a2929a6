// Tag slot allocation of the XDP data plane (no kernel needed): untagged is slot 0,
// a tag keeps its slot while entries use it, freed slots keep their name until a new
// tag needs one (least recently freed first, counters zeroed through the sink), and
// tags beyond the tracked ones count under the untracked slot.
import test from 'ava';
import { TAG_SLOTS, TAG_UNTAGGED, TAG_UNTRACKED } from '../../../src/dataplane/xdp/layout.js';
import { TagSlots } from '../../../src/dataplane/xdp/tag-slots.js';

function slots(): { tags: TagSlots; assigned: [number, string][] } {
  const assigned: [number, string][] = [];
  return { tags: new TagSlots({ assign: (slot, name) => assigned.push([slot, name]) }), assigned };
}

const TRACKABLE = TAG_UNTRACKED - 1; // slots 1..254

test('untagged is slot 0; a tag keeps one slot for all its entries', (t) => {
  const { tags, assigned } = slots();
  t.is(tags.acquire(''), TAG_UNTAGGED);
  const a = tags.acquire('spam');
  t.is(tags.acquire('spam'), a);
  t.not(a, TAG_UNTAGGED);
  t.deepEqual(assigned, [[a, 'spam']], 'slot written (name + zeroed counters) once');
  t.is(tags.nameOf(a), 'spam');
  t.is(tags.nameOf(TAG_UNTAGGED), '');
});

test('beyond the tracked tags, new tags count under the untracked slot', (t) => {
  const { tags } = slots();
  const used = new Set<number>();
  for (let i = 0; i < TRACKABLE; i++) used.add(tags.acquire(`t${i}`));
  t.is(used.size, TRACKABLE);
  t.false(used.has(TAG_UNTAGGED) || used.has(TAG_UNTRACKED));
  t.is(tags.acquire('one-too-many'), TAG_UNTRACKED);
  t.is(tags.acquire('another'), TAG_UNTRACKED);
  t.true(TAG_SLOTS > TAG_UNTRACKED);
});

test('a freed slot keeps its name until reused; the least recently freed is reused first', (t) => {
  const { tags, assigned } = slots();
  const slotOf = new Map<string, number>();
  for (let i = 0; i < TRACKABLE; i++) slotOf.set(`t${i}`, tags.acquire(`t${i}`));
  const s5 = slotOf.get('t5') ?? -1;
  const s9 = slotOf.get('t9') ?? -1;
  tags.release(s9);
  tags.release(s5);
  t.is(tags.nameOf(s9), 't9', 'freed but still reported');
  // Re-acquiring a freed tag takes its old slot back (no reassignment).
  const before = assigned.length;
  t.is(tags.acquire('t9'), s9);
  t.is(assigned.length, before);
  tags.release(s9);
  // New tags take freed slots, least recently freed first (t5 was freed before t9's second release).
  t.is(tags.acquire('new-a'), s5);
  t.is(tags.acquire('new-b'), s9);
  t.deepEqual(assigned.slice(-2), [
    [s5, 'new-a'],
    [s9, 'new-b'],
  ]);
  t.is(tags.nameOf(s5), 'new-a');
  t.is(tags.acquire('new-c'), TAG_UNTRACKED, 'no free slot left');
});

test('a slot is freed only when its last entry goes', (t) => {
  const { tags } = slots();
  for (let i = 0; i < TRACKABLE; i++) tags.acquire(`t${i}`);
  const s = tags.acquire('t0'); // second entry of t0
  tags.release(s);
  t.is(tags.acquire('newcomer'), TAG_UNTRACKED, 't0 still has an entry');
  tags.release(s);
  t.is(tags.acquire('newcomer2'), s);
});

test('restore: names and entry counts from the pinned maps', (t) => {
  const { tags, assigned } = slots();
  tags.restore(
    new Map([
      [3, 'kept'],
      [7, 'unused'],
    ]),
    [3, 3, 0, TAG_UNTRACKED],
  );
  t.is(tags.acquire('kept'), 3);
  t.is(tags.nameOf(7), 'unused');
  t.deepEqual(assigned, []);
  // The first never-used slot goes before freed ones; "unused" (slot 7) stays reportable.
  const fresh = tags.acquire('fresh');
  t.not(fresh, 3);
  t.not(fresh, 7);
});
