// JournalPersistence in the binary format against real files: round trips with every
// field, snapshots, torn and damaged records, and state left in the NDJSON format by
// the previous couic (test/fixtures/ndjson-state-v1, written by that code) loading and
// being rewritten in binary.
import test from 'ava';
import { appendFile, cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReplicatedRecord } from '../../../src/domain/replicated-record.js';
import { binaryJournalPath } from '../../../src/store/journal-files.js';
import { JournalPersistence, type JournalPersistenceOptions } from '../../../src/store/journal-persistence.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { byKey, captureLogger, del, makeEntry, Model, numberedEntry, put } from './fixtures/persistence-helpers.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/ndjson-state-v1/', import.meta.url));

async function openBinary(
  t: Parameters<typeof makeTempDir>[0],
  dir: string,
  model: Model,
  options: Partial<JournalPersistenceOptions> = {},
): Promise<JournalPersistence> {
  const persistence = await JournalPersistence.open({
    dir,
    logger: captureLogger(),
    snapshotSource: () => model.entries.values(),
    format: 'binary',
    ...options,
  });
  t.teardown(() => persistence.close());
  return persistence;
}

async function reload(t: Parameters<typeof makeTempDir>[0], dir: string, logger = captureLogger()): Promise<ReplicatedRecord[]> {
  const persistence = await openBinary(t, dir, new Model(), { logger });
  const records = await persistence.load();
  await persistence.close();
  return records;
}

/** The fixture's expected-records.json shape: cidr as text, entry fields flattened. */
function flatten(records: Iterable<ReplicatedRecord>): unknown[] {
  return [...records]
    .map((r) => (r.kind === 'live' ? { kind: 'live', ...r.entry, cidr: r.entry.cidr.text } : { ...r, cidr: r.cidr.text }))
    .sort((a, b) => `${a.policy} ${a.cidr}`.localeCompare(`${b.policy} ${b.cidr}`));
}

const varied = (): ReplicatedRecord[] => [
  put(makeEntry('10.0.0.0/8', { tag: 'plain' })),
  put(makeEntry('2001:db8::/32', { tag: 'six', expiration: 4_000_000_000, source: 'peer', originNode: 'node-b' })),
  put(makeEntry('::ffff:1.2.3.4/128', { policy: 'ignore', tag: 'mapped' })),
  put(makeEntry('192.0.2.0/24', { tag: 'ünï "q"', metadata: { kind: 'ids', detail: 'd', extra: { n: [1, 2], s: 'x' } } })),
  put(makeEntry('198.51.100.7/32', { version: { wallMs: 1_700_000_123_456, counter: 7, origin: 'node-ç' } })),
  del('drop', '203.0.113.0/24', 1_700_000_999_000, 1_800_000_000),
];

test('binary round trip: every field of live records and tombstones comes back', async (t) => {
  const dir = join(await makeTempDir(t, 'couic-bin-'), 'state');
  const model = new Model();
  const persistence = await openBinary(t, dir, model);
  t.deepEqual(await persistence.load(), []);
  model.apply(varied());
  await persistence.record(varied());
  await persistence.close();
  t.deepEqual(byKey(await reload(t, dir)), byKey(varied()));
  t.true((await readdir(dir)).every((name) => !name.endsWith('.ndjson')));
});

test('binary snapshot + journal: many records, a small snapshot interval, replacements and deletes', async (t) => {
  const dir = join(await makeTempDir(t, 'couic-bin-'), 'state');
  const model = new Model();
  const persistence = await openBinary(t, dir, model, { snapshotEvery: 500, flushIntervalMs: 1 });
  await persistence.load();
  for (let batch = 0; batch < 8; batch++) {
    const changes = [...Array(1_000).keys()].map((i) => put(numberedEntry(i + batch * 300, { tag: `b${batch}` })));
    model.apply(changes);
    await persistence.record(changes);
  }
  const deletes = [...Array(200).keys()].map((i) => del('drop', numberedEntry(i).cidr.text));
  model.apply(deletes);
  await persistence.record(deletes);
  await persistence.snapshotNow();
  t.true(persistence.stats().snapshots >= 1);
  const more = [put(numberedEntry(5, { tag: 'after-snapshot' }))];
  model.apply(more);
  await persistence.record(more);
  await persistence.close();
  const names = await readdir(dir);
  t.true(names.some((n) => /^snapshot-\d+\.bin$/.test(n)), names.join(','));
  t.deepEqual(byKey(await reload(t, dir)), byKey(model.entries.values()));
});

test('a torn binary tail is cut off with a warning; the journal keeps working after it', async (t) => {
  const dir = join(await makeTempDir(t, 'couic-bin-'), 'state');
  const model = new Model();
  const first = await openBinary(t, dir, model);
  await first.load();
  const changes = [...Array(50).keys()].map((i) => put(numberedEntry(i)));
  model.apply(changes);
  await first.record(changes);
  await first.close();
  const segment = binaryJournalPath(dir, 1);
  // A frame whose length promises more than was written, as a crash mid-append leaves it.
  await appendFile(segment, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 1, 0, 4]));
  const logger = captureLogger();
  const second = await openBinary(t, dir, model, { logger });
  t.deepEqual(byKey(await second.load()), byKey(model.entries.values()));
  t.true(logger.warnings().some((w) => /torn or corrupt/.test(w.msg)));
  const later = [put(numberedEntry(1_000))];
  model.apply(later);
  await second.record(later);
  await second.close();
  t.deepEqual(byKey(await reload(t, dir)), byKey(model.entries.values()));
});

test('a damaged record in the middle of a segment costs that record only', async (t) => {
  const dir = join(await makeTempDir(t, 'couic-bin-'), 'state');
  const model = new Model();
  const persistence = await openBinary(t, dir, model);
  await persistence.load();
  for (let i = 0; i < 3; i++) await persistence.record([put(numberedEntry(i))]);
  await persistence.close();
  const path = binaryJournalPath(dir, 1);
  const bytes = await readFile(path);
  // The header frame, then three record frames: flip a byte inside the second record.
  const headerEnd = 8 + bytes.readUInt32LE(0);
  const firstEnd = headerEnd + 8 + bytes.readUInt32LE(headerEnd);
  bytes[firstEnd + 8 + 10] = (bytes[firstEnd + 8 + 10] ?? 0) ^ 0xff;
  await writeFile(path, bytes);
  const logger = captureLogger();
  const loaded = await reload(t, dir, logger);
  t.deepEqual(byKey(loaded), byKey([put(numberedEntry(0)), put(numberedEntry(2))]));
  t.true(logger.warnings().length > 0);
});

test('NDJSON state written by the previous couic loads unchanged, and a snapshot rewrites it in binary', async (t) => {
  const root = await makeTempDir(t, 'couic-legacy-');
  await cp(join(FIXTURE, 'state'), join(root, 'state'), { recursive: true });
  const dir = join(root, 'state');
  const expected = JSON.parse(await readFile(join(FIXTURE, 'expected-records.json'), 'utf8')) as unknown[];
  const model = new Model();
  const persistence = await openBinary(t, dir, model);
  t.true(persistence.holdsLegacyFiles);
  const loaded = await persistence.load();
  t.deepEqual(flatten(loaded), expected);
  // The store holds them (the snapshot source), then the rewrite.
  model.apply(loaded);
  await persistence.snapshotNow();
  t.false(persistence.holdsLegacyFiles);
  await persistence.close();
  const names = (await readdir(dir)).sort();
  t.true(names.every((n) => n.endsWith('.bin')), names.join(','));
  t.deepEqual(flatten(await reload(t, dir)), expected);
});

test('streamed raw load into the store (no objects) gives the state a decoded load gives', async (t) => {
  const { RuleStore } = await import('../../../src/store/rule-store.js');
  const { UserspaceDataPlane } = await import('../../../src/dataplane/userspace-dataplane.js');
  const { ManualClock } = await import('../../../src/domain/clock.js');
  const dir = join(await makeTempDir(t, 'couic-bin-'), 'state');
  const model = new Model();
  const persistence = await openBinary(t, dir, model, { snapshotEvery: 300 });
  await persistence.load();
  const writes: ReplicatedRecord[] = [
    ...varied(),
    ...[...Array(900).keys()].map((i) => put(numberedEntry(i % 400, { tag: `w${i % 5}`, expiration: i % 3 === 0 ? 0 : 1_700_000_000 + (i % 7) * 100 }))),
    del('drop', numberedEntry(3).cidr.text, 1_700_000_600_000),
    put(makeEntry('10.0.0.0/8', { tag: 'replaced', version: { wallMs: 1_700_000_900_000, counter: 2, origin: 'node-z' } })),
  ];
  for (let i = 0; i < writes.length; i += 100) {
    const chunk = writes.slice(i, i + 100);
    model.apply(chunk);
    await persistence.record(chunk);
  }
  await persistence.snapshotNow();
  const tail = [put(numberedEntry(7, { tag: 'tail' })), del('drop', numberedEntry(8).cidr.text, 1_700_000_700_000)];
  model.apply(tail);
  await persistence.record(tail);
  await persistence.close();
  const clock = new ManualClock(1_700_000_350_000);
  const make = () => new RuleStore({ clock, dataPlane: new UserspaceDataPlane(), tombstoneLifetimeMs: 60_000 });
  const raw = make();
  const decoded = make();
  const reader = await openBinary(t, dir, new Model());
  t.deepEqual(await reader.load((records) => raw.restoreBatch(records), raw.rawRestore), []);
  await raw.finishRestore();
  await decoded.restore(await reader.load());
  await reader.close();
  const state = (s: InstanceType<typeof RuleStore>): unknown => ({
    records: byKey(s.records()),
    list: [...s.list({})].flat().map((e) => `${e.policy} ${e.cidr.text} ${e.tag} ${e.expiration}`).sort(),
    counts: s.countByPolicy(),
    next: s.hlc.next(),
  });
  t.deepEqual(state(raw), state(decoded));
  t.log(`${byKey(raw.records()).length} records restored`);
  t.true(byKey(raw.records()).length > 100);
});

test('the daemon path (streamed, raw) also restores NDJSON state of the previous couic into the store', async (t) => {
  const { RuleStore } = await import('../../../src/store/rule-store.js');
  const { UserspaceDataPlane } = await import('../../../src/dataplane/userspace-dataplane.js');
  const { ManualClock } = await import('../../../src/domain/clock.js');
  const root = await makeTempDir(t, 'couic-legacy-');
  await cp(join(FIXTURE, 'state'), join(root, 'state'), { recursive: true });
  const expected = JSON.parse(await readFile(join(FIXTURE, 'expected-records.json'), 'utf8')) as { expiration: number }[];
  // Late enough that nothing is collectable but the long-expired entry (expiration 1000).
  const clock = new ManualClock(1_764_000_300_000);
  const store = new RuleStore({ clock, dataPlane: new UserspaceDataPlane(), tombstoneLifetimeMs: 24 * 3600_000 });
  const persistence = await openBinary(t, join(root, 'state'), new Model(), { snapshotSource: () => store.records() });
  await persistence.load((records) => store.restoreBatch(records), store.rawRestore);
  await store.finishRestore();
  t.deepEqual(flatten(store.records()), expected.filter((r) => r.expiration !== 1_000));
  await persistence.snapshotNow();
  t.true((await readdir(join(root, 'state'))).every((n) => n.endsWith('.bin')));
});
