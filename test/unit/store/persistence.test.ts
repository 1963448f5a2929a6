// JournalPersistence against real files in temp dirs: round trips, group commit,
// restarts, expiry at load, torn and corrupt lines, snapshot rotation and crash leftovers.
import test from 'ava';
import { appendFile, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ruleKey } from '../../../src/domain/entry.js';
import { recordKey, type ReplicatedRecord } from '../../../src/domain/replicated-record.js';
import { encodeChange } from '../../../src/store/entry-codec.js';
import { JournalClosedError } from '../../../src/store/journal-errors.js';
import { journalPath, listDir, snapshotTmpPath } from '../../../src/store/journal-files.js';
import { frameRecord } from '../../../src/store/journal-line.js';
import { JournalPersistence, type JournalPersistenceOptions } from '../../../src/store/journal-persistence.js';
import type { PersistedChange } from '../../../src/store/persistence.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { waitUntil } from '../../helpers/wait.js';
import { byKey, captureLogger, del, liveEntries, makeEntry, Model, numberedEntry, put, type CapturingLogger } from './fixtures/persistence-helpers.js';

interface Harness {
  readonly dir: string;
  readonly model: Model;
  open(options?: Partial<JournalPersistenceOptions>): Promise<JournalPersistence>;
}

/** A state dir (not yet created) inside a temp dir, and a model used as the snapshot source. */
async function harness(t: Parameters<typeof makeTempDir>[0]): Promise<Harness> {
  const dir = join(await makeTempDir(t, 'couic-journal-'), 'state');
  const model = new Model();
  return {
    dir,
    model,
    open: async (options = {}) => {
      const persistence = await JournalPersistence.open({
        dir,
        logger: captureLogger(),
        snapshotSource: () => model.entries.values(),
        ...options,
      });
      t.teardown(() => persistence.close());
      return persistence;
    },
  };
}

/** Applies to the model first (as the store does), then records. */
async function apply(h: Harness, persistence: JournalPersistence, changes: PersistedChange[]): Promise<void> {
  h.model.apply(changes);
  await persistence.record(changes);
}

async function reload(h: Harness, logger: CapturingLogger = captureLogger()): Promise<ReplicatedRecord[]> {
  const persistence = await h.open({ logger });
  const entries = await persistence.load();
  await persistence.close();
  return entries;
}

test('first start: creates the state dir (700) and an empty journal (600), loads nothing', async (t) => {
  const h = await harness(t);
  const persistence = await h.open();
  t.deepEqual(await persistence.load(), []);
  t.is((await stat(h.dir)).mode & 0o777, 0o700);
  const listing = await listDir(h.dir);
  t.deepEqual(listing.segments, [1]);
  t.is((await stat(journalPath(h.dir, 1))).mode & 0o777, 0o600);
  const header = (await readFile(journalPath(h.dir, 1), 'utf8')).split('\n')[0] ?? '';
  t.like(JSON.parse(header), { r: { k: 'couic-journal', v: 1, seq: 1 } });
});

test('put, replace and delete round-trip through a restart', async (t) => {
  const h = await harness(t);
  const persistence = await h.open();
  await persistence.load();
  await apply(h, persistence, [put(makeEntry('10.0.0.0/8', { tag: 'a' })), put(makeEntry('192.0.2.0/24'))]);
  await apply(h, persistence, [
    put(
      makeEntry('10.0.0.0/8', {
        tag: 'b',
        expiration: 2_000_000_000,
        metadata: { kind: 'abuse', detail: 'scan', extra: { ports: [22, 443] } },
      }),
    ),
  ]);
  await apply(h, persistence, [del('drop', '192.0.2.0/24'), put(makeEntry('192.0.2.0/24', { policy: 'ignore' }))]);
  await apply(h, persistence, [put(makeEntry('2001:db8::/48', { source: 'peer', originNode: 'node-b' }))]);
  await persistence.close();
  const records = await reload(h);
  const loaded = liveEntries(records);
  t.is(loaded.length, 3);
  t.deepEqual(byKey(records), byKey(h.model.entries.values()));
  t.is(loaded.find((e) => e.cidr.text === '10.0.0.0/8')?.tag, 'b');
  t.is(loaded.find((e) => e.cidr.text === '192.0.2.0/24')?.policy, 'ignore');
});

test('a second restart appends to the same segment and still loads everything', async (t) => {
  const h = await harness(t);
  let persistence = await h.open();
  await persistence.load();
  await apply(h, persistence, [put(numberedEntry(1))]);
  await persistence.close();
  persistence = await h.open();
  await persistence.load();
  await apply(h, persistence, [put(numberedEntry(2)), del('drop', numberedEntry(1).cidr.text)]);
  await persistence.close();
  t.deepEqual((await listDir(h.dir)).segments, [1]);
  t.deepEqual(byKey(await reload(h)), byKey(h.model.entries.values()));
  t.deepEqual(liveEntries(await reload(h)), [numberedEntry(2)]);
});

test('many concurrent record() calls share one write and fsync', async (t) => {
  const h = await harness(t);
  const persistence = await h.open({ flushIntervalMs: 20 });
  await persistence.load();
  const calls: Array<Promise<void>> = [];
  for (let n = 0; n < 1000; n++) calls.push(apply(h, persistence, [put(numberedEntry(n))]));
  t.is(persistence.stats().pendingChanges, 1000);
  await Promise.all(calls);
  t.like(persistence.stats(), { flushes: 1, journalRecords: 1000, pendingChanges: 0 });

  // 50 writers, each waiting for its previous change before recording the next: one flush per round.
  const rounds = 20;
  const writer = async (w: number): Promise<void> => {
    for (let r = 0; r < rounds; r++) await apply(h, persistence, [put(numberedEntry(1000 + w * rounds + r))]);
  };
  await Promise.all([...Array(50).keys()].map(writer));
  const { flushes, journalRecords } = persistence.stats();
  t.is(journalRecords, 2000);
  t.true(flushes - 1 <= rounds + 1, `${flushes - 1} flushes for ${rounds} rounds of 50 changes`);
  t.deepEqual(byKey(await reload(h)), byKey(h.model.entries.values()));
});

test('expired entries and tombstones load back with their versions (the store decides what to keep)', async (t) => {
  const h = await harness(t);
  const persistence = await h.open();
  await persistence.load();
  await apply(h, persistence, [
    put(makeEntry('1.0.0.1/32', { expiration: 1000, version: { wallMs: 5, counter: 2, origin: 'node-b' } })),
    put(makeEntry('1.0.0.2/32', { expiration: 0 })),
    del('drop', '1.0.0.3/32', 77, 4000),
  ]);
  await persistence.close();
  const loaded = await reload(h);
  t.deepEqual(byKey(loaded), byKey(h.model.entries.values()));
  const tombstone = loaded.find((r) => r.kind === 'tombstone');
  t.like(tombstone, { policy: 'drop', version: { wallMs: 77, counter: 0, origin: 'node-a' }, deletedExpiration: 4000 });
});

test('records written before versions existed get a version from createdAt; old deletes lose to everything', async (t) => {
  const h = await harness(t);
  const persistence = await h.open();
  await persistence.load();
  await persistence.close();
  await appendFile(journalPath(h.dir, 1), frameRecord({ o: 'p', p: 'drop', c: '1.2.3.4/32', t: '', e: 0, a: 1_600_000_000, n: 'old', s: 'api' }));
  await appendFile(journalPath(h.dir, 1), frameRecord({ o: 'p', p: 'drop', c: '5.6.7.8/32', t: '', e: 0, a: 1, n: 'old', s: 'api' }));
  await appendFile(journalPath(h.dir, 1), frameRecord({ o: 'd', p: 'drop', c: '5.6.7.8/32' }));
  const loaded = byKey(await reload(h));
  t.like(loaded[0]?.[1], { kind: 'live', entry: { version: { wallMs: 1_600_000_000_000, counter: 0, origin: 'old' } } });
  t.like(loaded[1]?.[1], { kind: 'tombstone', version: { wallMs: 0, counter: 0, origin: '' }, deletedExpiration: 0 });
});

test('a torn last line is cut off with a warning; earlier records stay, later appends load', async (t) => {
  const h = await harness(t);
  let persistence = await h.open();
  await persistence.load();
  for (let n = 0; n < 3; n++) await apply(h, persistence, [put(numberedEntry(n))]);
  await persistence.close();
  const file = journalPath(h.dir, 1);
  const goodSize = (await stat(file)).size;
  // A crash in the middle of an append: half a line, no newline.
  const line = frameRecord({ o: 'p', p: 'drop', c: '10.9.9.9/32' });
  await appendFile(file, line.slice(0, Math.floor(line.length / 2)));

  const logger = captureLogger();
  persistence = await h.open({ logger });
  t.is((await stat(file)).size, goodSize, 'file cut back to its last good line');
  t.deepEqual(byKey(await persistence.load()), byKey(h.model.entries.values()));
  t.is(logger.warnings().length, 1);
  t.regex(logger.warnings()[0]?.msg ?? '', /torn or corrupt tail/);
  t.like(logger.warnings()[0]?.obj, { droppedLines: 1 });

  await apply(h, persistence, [put(numberedEntry(3))]);
  await persistence.close();
  const quiet = captureLogger();
  t.deepEqual(byKey(await reload(h, quiet)), byKey(h.model.entries.values()));
  t.is(h.model.entries.size, 4);
  t.deepEqual(quiet.warnings(), []);
});

test('trailing zeros or a complete line with a bad checksum at the end are cut too', async (t) => {
  const h = await harness(t);
  let persistence = await h.open();
  await persistence.load();
  await apply(h, persistence, [put(numberedEntry(0))]);
  await persistence.record([put(numberedEntry(1))]); // its line gets damaged below
  await persistence.close();
  const file = journalPath(h.dir, 1);
  const content = await readFile(file, 'utf8');
  await writeFile(file, `${content.replace('10.0.0.1/32', '10.0.0.7/32')}${'\0'.repeat(3000)}\n${'\0'.repeat(10)}`);
  const logger = captureLogger();
  persistence = await h.open({ logger });
  t.deepEqual(byKey(await persistence.load()), byKey([put(numberedEntry(0))]));
  t.like(logger.warnings()[0]?.obj, { droppedLines: 3 });
});

test('a corrupt line in the middle is skipped with a warning naming it; the rest loads', async (t) => {
  const h = await harness(t);
  let persistence = await h.open();
  await persistence.load();
  for (let n = 0; n < 5; n++) await persistence.record([put(numberedEntry(n))]);
  await persistence.close();
  const file = journalPath(h.dir, 1);
  const lines = (await readFile(file, 'utf8')).split('\n');
  // Line 1 is the header; damage the record of entry 2 (line 4) and insert garbage after it.
  lines[3] = (lines[3] ?? '').replace('10.0.0.2/32', '10.0.0.9/32');
  lines.splice(4, 0, 'not json at all');
  await writeFile(file, lines.join('\n'));

  const logger = captureLogger();
  persistence = await h.open({ logger });
  const loaded = await persistence.load();
  t.deepEqual(byKey(loaded), byKey([0, 1, 3, 4].map((n) => put(numberedEntry(n)))));
  const skipped = logger.warnings().filter((w) => /skipped a corrupt record/.test(w.msg));
  t.deepEqual(
    skipped.map((w) => w.obj),
    [
      { file, line: 4, reason: 'checksum mismatch' },
      { file, line: 5, reason: 'not a framed record (torn or foreign line)' },
    ],
  );
  // Nothing was cut: the file's last line is intact.
  t.is((await readFile(file, 'utf8')).split('\n').length, lines.length);
});

test('a record that is framed correctly but invalid is skipped with its reason', async (t) => {
  const h = await harness(t);
  let persistence = await h.open();
  await persistence.load();
  await persistence.record([put(numberedEntry(0))]);
  await persistence.close();
  await appendFile(journalPath(h.dir, 1), frameRecord({ o: 'p', p: 'allow', c: '1.2.3.4/32' }));
  await appendFile(journalPath(h.dir, 1), frameRecord({ o: 'p' }));
  await appendFile(journalPath(h.dir, 1), frameRecord({ o: 'd', p: 'drop', c: '8.8.8.8/32' }));
  const logger = captureLogger();
  persistence = await h.open({ logger });
  const loaded = await persistence.load();
  t.deepEqual(liveEntries(loaded), [numberedEntry(0)]);
  t.like(loaded.find((r) => r.kind === 'tombstone'), { cidr: { text: '8.8.8.8/32' } }, 'a well-formed legacy delete');
  t.deepEqual(
    logger.warnings().map((w) => (w.obj as { reason: string }).reason),
    ['p (policy) must be "drop" or "ignore"', 'p (policy) must be "drop" or "ignore"'],
  );
});

test('a snapshot waits for as many journal records as the last snapshot held (O(1) compaction per change)', async (t) => {
  const h = await harness(t);
  const persistence = await h.open({ snapshotEvery: 10, flushIntervalMs: 0 });
  await persistence.load();
  await apply(h, persistence, [...Array(300).keys()].map((n) => put(numberedEntry(n))));
  await persistence.snapshotNow();
  const after = persistence.stats().snapshots;
  for (let n = 0; n < 299; n++) await apply(h, persistence, [put(numberedEntry(n, { tag: 'again' }))]);
  t.is(persistence.stats().snapshots, after, '299 records < the 300 the last snapshot held');
  t.is(persistence.stats().recordsSinceSnapshot, 299);
  await apply(h, persistence, [put(numberedEntry(299, { tag: 'again' }))]);
  for (let i = 0; i < 500 && persistence.stats().snapshots === after; i++) await new Promise((r) => setTimeout(r, 10));
  t.is(persistence.stats().snapshots, after + 1, 'the 300th record starts one');
});

test('snapshots rotate the journal, delete old segments and keep the state', async (t) => {
  const h = await harness(t);
  const persistence = await h.open({ snapshotEvery: 10, flushIntervalMs: 0 });
  await persistence.load();
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed % n;
  };
  for (let step = 0; step < 200; step++) {
    const n = random(40);
    const change = random(3) === 0 ? del('drop', numberedEntry(n).cidr.text) : put(numberedEntry(n, { createdAt: step }));
    await apply(h, persistence, [change]);
  }
  const { snapshots, segmentSeq, journalRecords } = persistence.stats();
  t.is(journalRecords, 200);
  t.true(snapshots >= 5, `${snapshots} snapshots`);
  t.true(segmentSeq >= 6, `segment ${segmentSeq}`);
  await persistence.snapshotNow();
  const listing = await listDir(h.dir);
  t.is(listing.snapshots.length, 1);
  t.deepEqual(listing.segments, [listing.snapshots[0]]);
  t.deepEqual(listing.temporaries, []);
  await persistence.close();
  t.deepEqual(byKey(await reload(h)), byKey(h.model.entries.values()));
});

test('the replayed record count carries over restarts, so a node restarted often still snapshots', async (t) => {
  const h = await harness(t);
  for (let start = 0; start < 3; start++) {
    const persistence = await h.open({ snapshotEvery: 10 });
    await persistence.load();
    for (let n = 0; n < 4; n++) await apply(h, persistence, [put(numberedEntry(start * 4 + n))]);
    // close() abandons a snapshot still being written: wait for the one the third start owes.
    if (start === 2) await waitUntil('the third start to complete a snapshot', () => persistence.stats().snapshots === 1);
    await persistence.close();
  }
  const listing = await listDir(h.dir);
  t.is(listing.snapshots.length, 1, 'the third start crossed 10 records');
  t.deepEqual(byKey(await reload(h)), byKey(h.model.entries.values()));
});

test('leftovers of a crash during a snapshot or its clean-up are ignored and removed', async (t) => {
  const h = await harness(t);
  let persistence = await h.open();
  await persistence.load();
  await apply(h, persistence, [put(numberedEntry(1)), put(numberedEntry(2))]);
  const oldSegment = await readFile(journalPath(h.dir, 1));
  await persistence.snapshotNow(); // snapshot 2, segment 1 deleted
  await apply(h, persistence, [del('drop', numberedEntry(1).cidr.text), put(numberedEntry(3))]);
  await persistence.close();
  // Crash before the old segment was deleted, and during the next snapshot's write.
  await writeFile(journalPath(h.dir, 1), oldSegment);
  await writeFile(snapshotTmpPath(h.dir, 3), frameRecord({ k: 'couic-snapshot', v: 1, seq: 3 }));
  const logger = captureLogger();
  persistence = await h.open({ logger });
  const loaded = await persistence.load();
  t.deepEqual(byKey(loaded), byKey(h.model.entries.values()));
  t.is(
    loaded.find((r) => recordKey(r) === ruleKey('drop', numberedEntry(1).cidr))?.kind,
    'tombstone',
    'the delete is not undone by the old segment',
  );
  t.deepEqual(await readdir(h.dir), ['journal-0000000002.ndjson', 'snapshot-0000000002.ndjson']);
  t.deepEqual(logger.warnings(), []);
});

test('a crash after the new segment was opened but before the snapshot was renamed loads the previous state', async (t) => {
  const h = await harness(t);
  let persistence = await h.open();
  await persistence.load();
  await apply(h, persistence, [put(numberedEntry(1))]);
  await persistence.close();
  // What rotation leaves before the snapshot is complete: segment 2 exists, snapshot 2 only as .tmp.
  await writeFile(journalPath(h.dir, 2), frameRecord({ k: 'couic-journal', v: 1, seq: 2 }));
  await appendFile(journalPath(h.dir, 2), frameRecord(encodeChange(put(numberedEntry(2)))));
  await writeFile(snapshotTmpPath(h.dir, 2), 'partial');
  h.model.apply([put(numberedEntry(2))]);
  persistence = await h.open();
  t.deepEqual(byKey(await persistence.load()), byKey(h.model.entries.values()));
  t.is(persistence.stats().segmentSeq, 2);
});

test('close() abandons a snapshot in progress; the journal still has everything', async (t) => {
  const h = await harness(t);
  const logger = captureLogger();
  let persistence = await h.open({ logger });
  await persistence.load();
  const changes = [...Array(50_000).keys()].map((n) => put(numberedEntry(n)));
  await apply(h, persistence, changes);
  const snapshot = persistence.snapshotNow();
  // One turn of the loop: the rotation's first file operation has not completed yet.
  await new Promise((resolve) => setImmediate(resolve));
  await persistence.close();
  await snapshot;
  t.is(persistence.stats().snapshots, 0);
  t.true(logger.lines.some((line) => /snapshot abandoned/.test(line.msg)));
  const listing = await listDir(h.dir);
  t.deepEqual(listing.temporaries, []);
  t.deepEqual(listing.snapshots, []);
  persistence = await h.open();
  t.is((await persistence.load()).length, 50_000);
});

test('record() after close() rejects; close() is idempotent', async (t) => {
  const h = await harness(t);
  const persistence = await h.open();
  await persistence.load();
  const before = persistence.record([put(numberedEntry(1))]);
  const closed = persistence.close();
  await t.throwsAsync(persistence.record([put(numberedEntry(2))]), { instanceOf: JournalClosedError });
  await before; // queued before close: still made durable
  await closed;
  await persistence.close();
  await t.throwsAsync(persistence.snapshotNow(), { instanceOf: JournalClosedError });
  t.deepEqual(byKey(await reload(h)), byKey([put(numberedEntry(1))]));
});

test('bad options are refused with the option named', async (t) => {
  const h = await harness(t);
  await t.throwsAsync(h.open({ snapshotEvery: 0 }), { message: /snapshotEvery/ });
  await t.throwsAsync(h.open({ flushIntervalMs: -1 }), { message: /flushIntervalMs/ });
});

test('files from a newer format version stop the start instead of being misread', async (t) => {
  const h = await harness(t);
  const persistence = await h.open();
  await persistence.close();
  await writeFile(journalPath(h.dir, 1), frameRecord({ k: 'couic-journal', v: 2, seq: 1 }));
  await t.throwsAsync(h.open(), { message: /version 2 is not supported/ });
});
