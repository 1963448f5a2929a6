// Packs the core's per-record summaries (SummaryBlock) into SyncSummaries and back,
// checking everything a peer sends: bucket and count lists of the same length and
// without repeats, entries that end exactly where the counts say, valid origins and
// origin indexes, versions in range. A bad message is INVALID_ARGUMENT naming the
// field, never a crash. Entry layout (proto comment): key lo u32 LE, key hi u32 LE,
// wall ms u48 LE, counter varint, origin index varint.
import { checkNodeId } from '../../domain/node-id.js';
import { InvalidArgumentError } from '../../domain/errors.js';
import type { SyncSummaries } from '../../generated/couic/v1/peering.js';
import type { SummaryBlock } from '../core/record-summaries.js';

/** Same bound as the digests: more buckets than any sane configuration. */
const MAX_BUCKET = 1 << 20;
/** A wall clock in ms fits 48 bits until the year 10889. */
const MAX_WALL_MS = 2 ** 48 - 1;
const MAX_ENTRY_BYTES = 4 + 4 + 6 + 5 + 5;
const MIN_ENTRY_BYTES = 4 + 4 + 6 + 1 + 1;

export function summariesToWire(index: number, last: boolean, block: SummaryBlock): SyncSummaries {
  const n = block.keyLo.length;
  const out = Buffer.allocUnsafe(n * MAX_ENTRY_BYTES);
  let at = 0;
  for (let i = 0; i < n; i++) {
    out.writeUInt32LE(block.keyLo[i] as number, at);
    out.writeUInt32LE(block.keyHi[i] as number, at + 4);
    out.writeUIntLE(block.wallMs[i] as number, at + 8, 6);
    at = writeVarint(out, at + 14, block.counter[i] as number);
    at = writeVarint(out, at, block.origin[i] as number);
  }
  return {
    index,
    last,
    buckets: [...block.buckets],
    counts: [...block.counts],
    origins: [...block.origins],
    entries: out.subarray(0, at),
  };
}

export function summariesFromWire(w: SyncSummaries): { index: number; last: boolean; block: SummaryBlock } {
  const bad = (field: string, problem: string): InvalidArgumentError => InvalidArgumentError.single(`summaries.${field}`, problem);
  if (!Number.isInteger(w.index) || w.index < 0 || w.index > 0xffff_ffff) throw bad('index', 'must be a uint32');
  if (w.buckets.length !== w.counts.length) {
    throw bad('counts', `must have one count per bucket (${w.buckets.length} buckets, ${w.counts.length} counts)`);
  }
  const seen = new Set<number>();
  let total = 0;
  for (let i = 0; i < w.buckets.length; i++) {
    const b = w.buckets[i] as number;
    if (!Number.isInteger(b) || b < 0 || b >= MAX_BUCKET) throw bad(`buckets[${i}]`, `must be a bucket index below ${MAX_BUCKET}, got ${b}`);
    if (seen.has(b)) throw bad(`buckets[${i}]`, `bucket ${b} is listed twice`);
    seen.add(b);
    total += w.counts[i] as number;
  }
  if (total * MIN_ENTRY_BYTES > w.entries.length) {
    throw bad('entries', `must hold ${total} entries (at least ${total * MIN_ENTRY_BYTES} bytes), got ${w.entries.length} bytes`);
  }
  w.origins.forEach((origin, i) => {
    const problem = checkNodeId(origin);
    if (problem !== undefined) throw bad(`origins[${i}]`, problem);
  });
  const raw: Uint8Array = w.entries;
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const keyLo = new Array<number>(total);
  const keyHi = new Array<number>(total);
  const wallMs = new Array<number>(total);
  const counter = new Array<number>(total);
  const origin = new Array<number>(total);
  const cursor = { at: 0 };
  for (let i = 0; i < total; i++) {
    if (cursor.at + 14 > bytes.length) throw bad('entries', `ends inside entry ${i} of ${total}`);
    keyLo[i] = bytes.readUInt32LE(cursor.at);
    keyHi[i] = bytes.readUInt32LE(cursor.at + 4);
    const wall = bytes.readUIntLE(cursor.at + 8, 6);
    if (wall < 1 || wall > MAX_WALL_MS) throw bad('entries', `entry ${i}: wall_ms must be positive`);
    wallMs[i] = wall;
    cursor.at += 14;
    counter[i] = readVarint(bytes, cursor, () => bad('entries', `entry ${i}: torn or oversized counter`));
    const o = readVarint(bytes, cursor, () => bad('entries', `entry ${i}: torn or oversized origin index`));
    if (o >= w.origins.length) throw bad('entries', `entry ${i}: origin index ${o} is beyond the ${w.origins.length} origins`);
    origin[i] = o;
  }
  if (cursor.at !== bytes.length) throw bad('entries', `has ${bytes.length - cursor.at} bytes after the ${total} entries the counts announce`);
  return {
    index: w.index,
    last: w.last,
    block: { buckets: w.buckets, counts: w.counts, keyLo, keyHi, wallMs, counter, origin, origins: w.origins },
  };
}

/** Unsigned LEB128 of a uint32. */
function writeVarint(out: Buffer, at: number, value: number): number {
  let v = value >>> 0;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
  return at;
}

function readVarint(bytes: Buffer, cursor: { at: number }, error: () => Error): number {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (cursor.at >= bytes.length || shift > 28) throw error();
    const byte = bytes[cursor.at++] as number;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
  }
  if (value > 0xffff_ffff) throw error();
  return value;
}
