// Durable storage of the dynamic rules: an append-only journal with group commit, plus
// a periodic snapshot that lets old journal segments go.
//
// On disk (see journal-files.ts): journal-<seq> segments and snapshot-<seq>, where
// snapshot <seq> was started right after segment <seq> was opened; `.bin` files in the
// binary format (binary-codec.ts, what the daemon writes) or `.ndjson` (the format of
// earlier versions, still read, and written when `format` is 'ndjson').
//
// Why a crash at any point leaves a loadable, complete state:
// - A change is acknowledged (record() resolves) only after the write holding it was
//   fdatasync'd. A crash mid-append leaves a partial or garbage tail of unacknowledged
//   lines; every line carries a CRC, so the tail is recognised and cut off at open.
// - Replay = the latest complete snapshot <s>, then every segment with seq >= s, in
//   order. Puts and deletes are whole-key overwrites, so replaying a change that the
//   snapshot already shows (one made while the snapshot was being written) is harmless.
// - Rotation: segment <s> is created and fsync'd first, and from then on every new change
//   goes to it (flushes are serialised with the switch). Only then is the snapshot read
//   from the store, so every change it might miss was recorded at or after the switch and
//   is in segment <s> or later. The snapshot is written to .tmp, fsync'd, renamed, and the
//   directory fsync'd; .tmp files are never read. Older snapshots and segments are
//   deleted only after that rename, so until then the previous snapshot plus all its
//   segments still load.
// Contract with the store: snapshotSource() reflects every change passed to record()
// (applying it in memory before calling record() is safest; applying it right after the
// promise resolves also works, since the source is read only after the switch's file
// I/O), and every change to what it yields goes through record(), except garbage
// collection of records (the store drops collectable records again at load). close() abandons an unfinished snapshot,
// so the store may empty itself after close() but not before.
import { mkdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { ReplicatedRecord } from '../domain/replicated-record.js';
import { InvalidArgumentError } from '../domain/errors.js';
import { FrameWriter } from './binary-codec.js';
import { BinarySegment, replayBinarySegment, replayBinarySnapshot, writeBinarySnapshot, type RawRecordTarget } from './binary-journal.js';
import { encodeChangeJson } from './entry-codec.js';
import { JournalClosedError } from './journal-errors.js';
import { binaryJournalPath, binarySnapshotPath, DIR_MODE, journalPath, listDir, pruneBefore, snapshotPath } from './journal-files.js';
import { frameLine } from './journal-line.js';
import { replaySegment, replaySnapshot } from './journal-replay.js';
import { JournalSegment } from './journal-segment.js';
import type { PersistedChange, RulePersistence } from './persistence.js';
import { writeSnapshot } from './snapshot-writer.js';

/** The part of a pino logger we use. */
export interface PersistenceLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface JournalPersistenceOptions {
  /** `<working_dir>/state`; created with mode 700 if missing. */
  readonly dir: string;
  /** Group-commit window: at most one write+fsync per interval. */
  readonly flushIntervalMs?: number;
  /** Journal records between snapshots (at least; see snapshotThreshold). */
  readonly snapshotEvery?: number;
  readonly logger: PersistenceLogger;
  /** The store's current records (see the contract at the top of this file). */
  readonly snapshotSource: () => Iterable<ReplicatedRecord>;
  /**
   * Format of the files written: 'binary' (binary-codec.ts; what the daemon uses) or
   * 'ndjson' (the format of couic up to codec 1; the default here). Both are read
   * whatever this says, so state left by an older couic loads; see holdsLegacyFiles.
   */
  readonly format?: JournalFormat;
}

export type JournalFormat = 'ndjson' | 'binary';

type Segment = JournalSegment | BinarySegment;

export interface JournalPersistenceStats {
  /** Changes appended to the journal since open. */
  readonly journalRecords: number;
  /** Write+fsync rounds since open (each serves every change queued before it). */
  readonly flushes: number;
  /** Snapshots completed since open. */
  readonly snapshots: number;
  /** Duration of the last write+fsync. */
  readonly lastFlushMs: number;
  /** Duration of the last completed snapshot (write, fsync, rename). */
  readonly lastSnapshotMs: number;
  /** Changes queued, not yet durable. */
  readonly pendingChanges: number;
  /** Changes journalled since the last snapshot (replayed ones included). */
  readonly recordsSinceSnapshot: number;
  /** Sequence number of the segment being appended to. */
  readonly segmentSeq: number;
}

interface PendingBatch {
  readonly lines: string[];
  readonly frames: Buffer[];
  changes: number;
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export const DEFAULT_FLUSH_INTERVAL_MS = 20;
export const DEFAULT_SNAPSHOT_EVERY = 100_000;

export class JournalPersistence implements RulePersistence {
  private pending: PendingBatch | undefined;
  /** Cancels the scheduled flush. */
  private cancelTimer: (() => void) | undefined;
  /** The timer-driven flush in progress. */
  private flushing: Promise<void> | undefined;
  /** Background snapshot in progress. */
  private snapshotting: Promise<void> | undefined;
  /** Serialises everything that touches the segment: flushes, rotation, close. */
  private segmentQueue: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private lastFlushStart = -Infinity;
  private recordsSinceSnapshot = 0;
  /** Records the last snapshot (or the load) held: compaction waits for at least as many journal records. */
  private stateSizeAtSnapshot = 0;
  private journalRecords = 0;
  private flushes = 0;
  private snapshots = 0;
  private lastFlushMs = 0;
  private lastSnapshotMs = 0;

  private constructor(
    private readonly dir: string,
    private readonly flushIntervalMs: number,
    private readonly snapshotEvery: number,
    private readonly logger: PersistenceLogger,
    private readonly snapshotSource: () => Iterable<ReplicatedRecord>,
    private segment: Segment,
    private readonly format: JournalFormat,
    private legacyFiles: boolean,
  ) {}

  static async open(options: JournalPersistenceOptions): Promise<JournalPersistence> {
    const { dir, logger } = options;
    const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    const snapshotEvery = options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
    if (!Number.isFinite(flushIntervalMs) || flushIntervalMs < 0) {
      throw InvalidArgumentError.single('flushIntervalMs', 'must be a non-negative number of milliseconds');
    }
    if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 1) {
      throw InvalidArgumentError.single('snapshotEvery', 'must be a whole number of records, at least 1');
    }
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    const { snapshots } = await listDir(dir);
    const latestSnapshot = snapshots.at(-1) ?? 0;
    // Leftovers of a crash during a snapshot or its clean-up.
    const removed = await pruneBefore(dir, latestSnapshot);
    if (removed.length > 0) logger.info({ dir, removed }, 'journal: removed obsolete files');
    const listing = await listDir(dir);
    const lastSegment = listing.segments.at(-1);
    const format = options.format ?? 'ndjson';
    let segment: Segment;
    if (format === 'ndjson') {
      segment =
        lastSegment === undefined
          ? await JournalSegment.create(dir, Math.max(latestSnapshot, 1))
          : await JournalSegment.openForAppend(dir, lastSegment, logger);
    } else if (lastSegment !== undefined && listing.binarySegments.has(lastSegment)) {
      segment = await BinarySegment.openForAppend(dir, lastSegment, logger);
    } else {
      // Never append binary records to an NDJSON file: the next sequence starts a binary segment.
      segment = await BinarySegment.create(dir, Math.max(latestSnapshot, 1, (lastSegment ?? 0) + 1));
    }
    const legacyFiles =
      format === 'binary' &&
      (listing.segments.some((seq) => !listing.binarySegments.has(seq)) || listing.snapshots.some((seq) => !listing.binarySnapshots.has(seq)));
    return new JournalPersistence(dir, flushIntervalMs, snapshotEvery, logger, options.snapshotSource, segment, format, legacyFiles);
  }

  /**
   * True when the directory holds files of the other (older) format than the one written:
   * once the store holds the loaded state, snapshotNow() rewrites it all in the current
   * format and removes them.
   */
  get holdsLegacyFiles(): boolean {
    return this.legacyFiles;
  }

  /**
   * Without `sink`: the latest record of every key. With it: every record of the
   * snapshot and segments, in file order, handed over in chunks as they are decoded
   * (later ones supersede earlier ones of the same key); resolves with [] then. The
   * chunks are not kept, so loading a large state holds no object per record. With
   * `raw` as well, binary records go to it undecoded (it validates and applies them).
   */
  async load(sink?: (records: ReplicatedRecord[]) => void, raw?: RawRecordTarget): Promise<ReplicatedRecord[]> {
    const started = performance.now();
    await this.snapshotting;
    const listing = await listDir(this.dir);
    const snapshotSeq = listing.snapshots.at(-1);
    const state = new Map<string, ReplicatedRecord>();
    let streamed = 0;
    let streamedTombstones = 0;
    const target =
      sink === undefined
        ? state
        : (records: ReplicatedRecord[]): void => {
            streamed += records.length;
            for (const record of records) if (record.kind === 'tombstone') streamedTombstones++;
            sink(records);
          };
    const binaryTarget = sink !== undefined && raw !== undefined ? raw : target;
    // NDJSON files (state of an older couic) go through a map per file, then to the sink.
    const replayLegacy = async (replay: (into: Map<string, ReplicatedRecord>) => Promise<number>): Promise<number> => {
      if (sink === undefined) return replay(state);
      const file = new Map<string, ReplicatedRecord>();
      const n = await replay(file);
      (target as (records: ReplicatedRecord[]) => void)([...file.values()]);
      return n;
    };
    const snapshotEntries =
      snapshotSeq === undefined
        ? 0
        : listing.binarySnapshots.has(snapshotSeq)
          ? await replayBinarySnapshot(binarySnapshotPath(this.dir, snapshotSeq), binaryTarget, this.logger)
          : await replayLegacy((into) => replaySnapshot(snapshotPath(this.dir, snapshotSeq), into, this.logger));
    const segments = listing.segments.filter((seq) => seq >= (snapshotSeq ?? 0));
    let records = 0;
    let expected = snapshotSeq ?? segments[0];
    for (const seq of segments) {
      if (seq !== expected) {
        this.logger.warn({ dir: this.dir, expected, found: seq }, 'journal: segments missing; changes may be lost');
      }
      records += listing.binarySegments.has(seq)
        ? await replayBinarySegment(binaryJournalPath(this.dir, seq), binaryTarget, this.logger)
        : await replayLegacy((into) => replaySegment(journalPath(this.dir, seq), into, this.logger));
      expected = seq + 1;
    }
    // Restarts do not reset the count, or a node restarted often would never compact.
    this.recordsSinceSnapshot = records;
    // Streamed: the snapshot's size stands for the state's (keys are not counted twice here).
    this.stateSizeAtSnapshot = sink === undefined ? state.size : snapshotEntries;
    const loaded = [...state.values()];
    const tombstones = sink === undefined ? loaded.reduce((n, record) => (record.kind === 'tombstone' ? n + 1 : n), 0) : streamedTombstones;
    this.logger.info(
      {
        dir: this.dir,
        snapshotSeq,
        snapshotEntries,
        segments: segments.length,
        journalRecords: records,
        entries: (sink === undefined ? loaded.length : raw !== undefined ? snapshotEntries + records : streamed) - tombstones,
        tombstones,
        ...(sink === undefined ? {} : { streamed: true }),
        durationMs: Math.round(performance.now() - started),
      },
      'journal: rules loaded',
    );
    return loaded;
  }

  record(changes: readonly PersistedChange[]): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new JournalClosedError());
    if (changes.length === 0) return Promise.resolve();
    let lines: string[] = [];
    let frames: Buffer | undefined;
    try {
      // Encoded now, so later mutation of the caller's objects cannot change what is written.
      if (this.format === 'binary') {
        const writer = new FrameWriter(changes.length * 96);
        for (const change of changes) writer.record(change);
        frames = writer.takeOwned();
      } else {
        lines = changes.map((change) => frameLine(encodeChangeJson(change)));
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const batch = (this.pending ??= newBatch());
    for (const line of lines) batch.lines.push(line);
    if (frames !== undefined) batch.frames.push(frames);
    batch.changes += changes.length;
    this.armTimer();
    return batch.promise;
  }

  /**
   * Starts a new segment and snapshot now (instead of waiting for `snapshotEvery`
   * records) and resolves when the snapshot is complete. For tests and tooling.
   */
  async snapshotNow(): Promise<void> {
    if (this.closing !== undefined) throw new JournalClosedError();
    await this.snapshotting;
    await this.serialised(async () => {
      await this.flushPending();
      if (this.snapshotting === undefined && this.closing === undefined) await this.rotate();
    });
    await this.snapshotting;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  stats(): JournalPersistenceStats {
    return {
      journalRecords: this.journalRecords,
      flushes: this.flushes,
      snapshots: this.snapshots,
      lastFlushMs: this.lastFlushMs,
      lastSnapshotMs: this.lastSnapshotMs,
      pendingChanges: this.pending?.changes ?? 0,
      recordsSinceSnapshot: this.recordsSinceSnapshot,
      segmentSeq: this.segment.seq,
    };
  }

  private async shutdown(): Promise<void> {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    await this.flushing;
    // A snapshot reads the store's live entries; stop it before the store goes away.
    await this.serialised(() => this.flushPending());
    await this.snapshotting;
    await this.serialised(() => this.segment.close());
  }

  /**
   * Group commit: the first change after a quiet period is written at once (after the
   * current turn of the loop, so changes recorded together share the write), later ones
   * at most every interval. Changes recorded while a write is in flight wait for it.
   */
  private armTimer(): void {
    if (this.cancelTimer !== undefined || this.flushing !== undefined || this.closing !== undefined) return;
    const wait = this.lastFlushStart + this.flushIntervalMs - performance.now();
    if (wait <= 0) {
      // setTimeout(0) would cost a millisecond each time at flushIntervalMs = 0.
      const immediate = setImmediate(() => this.onTimer());
      this.cancelTimer = () => clearImmediate(immediate);
    } else {
      const timeout = setTimeout(() => this.onTimer(), wait);
      this.cancelTimer = () => clearTimeout(timeout);
    }
  }

  private onTimer(): void {
    this.cancelTimer = undefined;
    this.flushing = this.serialised(() => this.flushPending())
      .catch((err: unknown) => this.logger.warn({ err, dir: this.dir }, 'journal: flush failed'))
      .finally(() => {
        this.flushing = undefined;
        if (this.pending !== undefined) this.armTimer();
      });
  }

  /** Writes and fsyncs everything queued, then starts a snapshot when one is due. Never rejects. */
  private async flushPending(): Promise<void> {
    const batch = this.pending;
    if (batch === undefined) return;
    this.pending = undefined;
    this.lastFlushStart = performance.now();
    try {
      if (this.segment instanceof BinarySegment) await this.segment.append(Buffer.concat(batch.frames));
      else await this.segment.append(batch.lines.join(''));
    } catch (err) {
      this.logger.warn({ err, file: this.segment.path, changes: batch.changes }, 'journal: write failed');
      batch.reject(err);
      return;
    }
    this.lastFlushMs = performance.now() - this.lastFlushStart;
    this.flushes++;
    this.journalRecords += batch.changes;
    this.recordsSinceSnapshot += batch.changes;
    batch.resolve();
    if (this.recordsSinceSnapshot >= this.snapshotThreshold() && this.snapshotting === undefined && this.closing === undefined) {
      await this.rotate();
    }
  }

  /**
   * At least `snapshotEvery` records, and at least as many as the state held at the last
   * snapshot: a snapshot costs O(state), so waiting for that many journal records keeps
   * compaction O(1) per change, whatever the state size (a 262k-rule bulk merge starts at
   * most one snapshot, not three).
   */
  private snapshotThreshold(): number {
    return Math.max(this.snapshotEvery, this.stateSizeAtSnapshot);
  }

  /** Switches to a new segment, then snapshots in the background. Runs inside the segment queue. */
  private async rotate(): Promise<void> {
    const seq = this.segment.seq + 1;
    let next: Segment;
    try {
      next = this.format === 'binary' ? await BinarySegment.create(this.dir, seq) : await JournalSegment.create(this.dir, seq);
    } catch (err) {
      // Keep appending to the current segment; the next flush tries again.
      this.logger.warn({ err, dir: this.dir, seq }, 'journal: could not start a new segment');
      return;
    }
    const previous = this.segment;
    this.segment = next;
    this.recordsSinceSnapshot = 0;
    await previous.close().catch((err: unknown) => {
      this.logger.warn({ err, file: previous.path }, 'journal: closing a segment failed');
    });
    this.snapshotting = this.takeSnapshot(seq).finally(() => {
      this.snapshotting = undefined;
    });
  }

  /** Never rejects: a failed snapshot leaves the previous one and every segment in place. */
  private async takeSnapshot(seq: number): Promise<void> {
    const started = performance.now();
    try {
      const request = { dir: this.dir, seq, entries: this.snapshotSource(), aborted: () => this.closing !== undefined };
      const result = this.format === 'binary' ? await writeBinarySnapshot(request) : await writeSnapshot(request);
      if (result === undefined) {
        this.logger.info({ dir: this.dir, seq }, 'journal: snapshot abandoned at close (the journal still has everything)');
        return;
      }
      this.lastSnapshotMs = performance.now() - started;
      this.snapshots++;
      this.stateSizeAtSnapshot = result.entries;
      const removed = await pruneBefore(this.dir, seq);
      this.legacyFiles = false;
      this.logger.info(
        { file: result.path, entries: result.entries, bytes: result.bytes, durationMs: Math.round(this.lastSnapshotMs), removed: removed.length },
        'journal: snapshot written',
      );
    } catch (err) {
      this.logger.warn({ err, dir: this.dir, seq }, 'journal: snapshot failed; keeping the journal');
    }
  }

  private serialised(task: () => Promise<void>): Promise<void> {
    const run = this.segmentQueue.then(task);
    this.segmentQueue = run.catch(() => undefined);
    return run;
  }
}

function newBatch(): PendingBatch {
  let resolve: () => void = () => undefined;
  let reject: (err: unknown) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { lines: [], frames: [], changes: 0, promise, resolve, reject };
}
