// The bus cursor: atomic, durable file (unique temp names, nothing left behind, bad
// files read as "none"), and the keeper's saves one at a time, latest value last.
import test from 'ava';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BusCursorFile } from '../../../src/replication/bus/bus-cursor-file.js';
import { BusCursorKeeper, type BusCursor, type BusCursorStore } from '../../../src/replication/bus/bus-cursor.js';

const cursor = (consumedSeq: number): BusCursor => ({ stream: 'couic_rules', streamCreated: '2026-01-01T00:00:00Z', consumedSeq, publishedThroughMs: 1_700_000_000_000 });

async function tempDir(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'couic-bus-cursor-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('the cursor file round-trips, is private, and leaves no temporary file', async (t) => {
  const dir = await tempDir(t);
  const file = new BusCursorFile(dir, 'couic');
  t.is(await file.load(), undefined, 'none yet');
  await file.save(cursor(5));
  await file.save(cursor(7));
  t.deepEqual(await file.load(), cursor(7));
  t.is((await stat(file.path)).mode & 0o777, 0o600);
  t.deepEqual(await readdir(join(dir, 'bus')), ['couic.cursor.json']);
});

test('saves racing on the same file each use their own temporary file: the file ends whole, holding one of them', async (t) => {
  const dir = await tempDir(t);
  const a = new BusCursorFile(dir, 'couic');
  const b = new BusCursorFile(dir, 'couic');
  await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).save(cursor(i))));
  const loaded = await a.load();
  t.true(loaded !== undefined && loaded.consumedSeq >= 0 && loaded.consumedSeq < 20);
  t.deepEqual(await readdir(join(dir, 'bus')), ['couic.cursor.json']);
});

test('a damaged or foreign cursor file reads as none (the node then reads the whole stream)', async (t) => {
  const dir = await tempDir(t);
  const file = new BusCursorFile(dir, 'couic');
  await file.save(cursor(3));
  for (const text of ['{"stream":"couic_rules"', '[]', '{"stream":"s","streamCreated":"c","consumedSeq":-1,"publishedThroughMs":0}', '{"stream":"s","streamCreated":"c","consumedSeq":1.5,"publishedThroughMs":0}']) {
    await writeFile(file.path, text);
    t.is(await file.load(), undefined, text);
  }
  t.regex(await readFile(file.path, 'utf8'), /consumedSeq/);
});

/** A store whose saves finish only when the test says so. */
class GatedStore implements BusCursorStore {
  readonly where = 'gated';
  readonly saved: BusCursor[] = [];
  running = 0;
  maxRunning = 0;
  fail = false;
  private gates: (() => void)[] = [];

  async load(): Promise<BusCursor | undefined> {
    return undefined;
  }

  async save(c: BusCursor): Promise<void> {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    await new Promise<void>((resolve) => this.gates.push(resolve));
    this.running--;
    if (this.fail) throw new Error('disk full');
    this.saved.push(c);
  }

  release(): void {
    for (const gate of this.gates.splice(0)) gate();
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('the keeper saves one at a time, writes the latest value, skips unchanged saves and retries a failed one', async (t) => {
  const store = new GatedStore();
  const errors: string[] = [];
  const keeper = new BusCursorKeeper(store, (error) => errors.push(String(error)));
  keeper.reset('couic_rules', 'c1');
  const first = keeper.save();
  await settle(); // the first save is writing consumedSeq 0
  keeper.advanceConsumed(10);
  const second = keeper.save();
  keeper.advanceConsumed(12);
  const third = keeper.save();
  await settle();
  t.is(store.running, 1, 'only one save runs');
  store.release();
  await settle();
  store.release();
  await settle();
  store.release();
  await Promise.all([first, second, third]);
  t.is(store.maxRunning, 1, 'saves never overlapped');
  t.deepEqual(store.saved.map((c) => c.consumedSeq), [0, 12], 'the second save wrote the latest value; the third had nothing new');
  // Unchanged: no write at all.
  await keeper.save();
  t.is(store.saved.length, 2);
  // A failed save is reported and retried at the next save.
  keeper.advanceConsumed(13);
  store.fail = true;
  const failing = keeper.save();
  await settle();
  store.release();
  await failing;
  t.deepEqual(errors, ['Error: disk full']);
  store.fail = false;
  const retry = keeper.save();
  await settle();
  store.release();
  await retry;
  t.is(store.saved.at(-1)?.consumedSeq, 13);
});
