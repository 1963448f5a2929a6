// The binary journal and snapshot format (codec 2). A file is a sequence of frames:
//   u32 payload length | u32 crc32 of the payload | payload
// (little-endian). The first frame is a header (file kind, codec version, sequence),
// a snapshot ends with a trailer frame (record count). A record payload is:
//   u8 type (1 live, 2 tombstone) | rule key (domain/rule-key.ts, KEY_BYTES) |
//   f64 version wall ms | u32 version counter | str version origin |
//   live:      f64 expiration | f64 createdAt | u8 source | str tag | str origin node |
//              u8 has metadata | [str metadata JSON]
//   tombstone: f64 expiration of the deleted entry
// with str = u32 byte length | UTF-8 bytes. The checksum makes a torn or damaged frame
// recognisable; readers resynchronise on the next intact frame, so damage costs the
// damaged records only. Decoding re-validates every field (the disk is input too).
import { crc32 } from 'node:zlib';
import type { EntryMetadata, EntrySource } from '../domain/entry.js';
import type { ReplicatedRecord } from '../domain/replicated-record.js';
import { cidrOfKey, encodeCidrKey, KEY_BYTES, KIND_IPV4, KIND_IPV6, policyOfCode } from '../domain/rule-key.js';

export const BINARY_CODEC_VERSION = 2;
export const FRAME_HEAD_BYTES = 8;
/** Frames longer than this are not believed (a torn length field reads as garbage). */
const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export const TYPE_LIVE = 1;
export const TYPE_TOMBSTONE = 2;
const TYPE_JOURNAL_HEADER = 0x10;
const TYPE_SNAPSHOT_HEADER = 0x11;
const TYPE_TRAILER = 0x12;

export type BinaryFileKind = 'journal' | 'snapshot';

export const SOURCES: readonly EntrySource[] = ['api', 'set', 'peer'];
const SOURCE_CODE: Record<EntrySource, number> = { api: 0, set: 1, peer: 2 };

/** A growable byte buffer that frames payloads in place. */
export class FrameWriter {
  private buf: Buffer;
  private length = 0;
  private frameStart = -1;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get size(): number {
    return this.length;
  }

  /** The bytes written so far, without a copy; the writer starts over on a fresh buffer. */
  takeOwned(): Buffer {
    const out = this.buf.subarray(0, this.length);
    this.buf = Buffer.allocUnsafe(Math.max(64, Math.min(this.buf.length, 64 * 1024)));
    this.length = 0;
    this.lastAt.fill(-1);
    return out;
  }

  /** The bytes written so far (a copy, so the writer can be reused). */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.length));
    this.length = 0;
    this.lastAt.fill(-1);
    return out;
  }

  record(record: ReplicatedRecord): void {
    this.begin();
    if (record.kind === 'live') {
      const e = record.entry;
      this.u8(TYPE_LIVE);
      this.key(e.policy, e.cidr);
      this.f64(e.version.wallMs);
      this.u32(e.version.counter);
      this.str(e.version.origin, 0);
      this.f64(e.expiration);
      this.f64(e.createdAt);
      this.u8(SOURCE_CODE[e.source]);
      this.str(e.tag, 1);
      this.str(e.originNode, 2);
      if (e.metadata === undefined) this.u8(0);
      else {
        this.u8(1);
        this.str(JSON.stringify(e.metadata));
      }
    } else {
      this.u8(TYPE_TOMBSTONE);
      this.key(record.policy, record.cidr);
      this.f64(record.version.wallMs);
      this.u32(record.version.counter);
      this.str(record.version.origin, 0);
      this.f64(record.deletedExpiration);
    }
    this.end();
  }

  header(kind: BinaryFileKind, seq: number): void {
    this.begin();
    this.u8(kind === 'journal' ? TYPE_JOURNAL_HEADER : TYPE_SNAPSHOT_HEADER);
    this.u8(BINARY_CODEC_VERSION);
    this.f64(seq);
    this.end();
  }

  trailer(count: number): void {
    this.begin();
    this.u8(TYPE_TRAILER);
    this.f64(count);
    this.end();
  }

  private begin(): void {
    this.reserve(FRAME_HEAD_BYTES);
    this.frameStart = this.length;
    this.length += FRAME_HEAD_BYTES;
  }

  private end(): void {
    const start = this.frameStart + FRAME_HEAD_BYTES;
    const payload = this.buf.subarray(start, this.length);
    this.buf.writeUInt32LE(payload.length, this.frameStart);
    this.buf.writeUInt32LE(crc32(payload), this.frameStart + 4);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }

  private u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }

  private u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(v >>> 0, this.length);
    this.length += 4;
  }

  private f64(v: number): void {
    this.reserve(8);
    this.buf.writeDoubleLE(v, this.length);
    this.length += 8;
  }

  /**
   * Per field (origin, tag, origin node): the last string written and the offset of its
   * bytes in `buf`. Those repeat from record to record, so most are a byte copy, not a
   * UTF-8 encoding.
   */
  private readonly lastText: string[] = ['', '', ''];
  private readonly lastAt = new Int32Array([-1, -1, -1]);
  private readonly lastBytes = new Int32Array(3);

  private str(s: string, field?: number): void {
    if (field !== undefined) {
      const from = this.lastAt[field] ?? -1;
      if (from >= 0 && s === this.lastText[field]) {
        const size = this.lastBytes[field] ?? 0;
        this.reserve(4 + size);
        this.buf.writeUInt32LE(size, this.length);
        this.buf.copy(this.buf, this.length + 4, from, from + size);
        this.length += 4 + size;
        return;
      }
      this.reserve(4 + s.length * 3);
      const written = this.buf.write(s, this.length + 4, 'utf8');
      this.buf.writeUInt32LE(written, this.length);
      this.lastText[field] = s;
      this.lastAt[field] = this.length + 4;
      this.lastBytes[field] = written;
      this.length += 4 + written;
      return;
    }
    const max = s.length * 3;
    this.reserve(4 + max);
    const written = this.buf.write(s, this.length + 4, 'utf8');
    this.buf.writeUInt32LE(written, this.length);
    this.length += 4 + written;
  }

  private key(policy: Parameters<typeof encodeCidrKey>[0], cidr: Parameters<typeof encodeCidrKey>[1]): void {
    this.reserve(KEY_BYTES);
    encodeCidrKey(policy, cidr, this.buf, this.length);
    this.length += KEY_BYTES;
  }
}

export type FrameHeader = { readonly kind: BinaryFileKind; readonly version: number; readonly seq: number };

/** What one frame payload is. */
export type DecodedFrame =
  | { readonly type: 'record'; readonly record: ReplicatedRecord }
  | { readonly type: 'header'; readonly header: FrameHeader }
  | { readonly type: 'trailer'; readonly count: number }
  | { readonly type: 'invalid'; readonly reason: string };

/** The payload at buf[start, start + length), decoded and validated. */
export function decodeFrame(buf: Buffer, start: number, length: number): DecodedFrame {
  const reader = new PayloadReader(buf, start, start + length);
  try {
    const type = reader.u8();
    if (type === TYPE_JOURNAL_HEADER || type === TYPE_SNAPSHOT_HEADER) {
      const version = reader.u8();
      const seq = reader.f64();
      return { type: 'header', header: { kind: type === TYPE_JOURNAL_HEADER ? 'journal' : 'snapshot', version, seq } };
    }
    if (type === TYPE_TRAILER) return { type: 'trailer', count: reader.f64() };
    if (type !== TYPE_LIVE && type !== TYPE_TOMBSTONE) return invalid(`unknown record type ${type}`);
    const keyAt = reader.skip(KEY_BYTES);
    const keyProblem = checkKey(buf, keyAt);
    if (keyProblem !== undefined) return invalid(keyProblem);
    const policy = policyOfCode(buf[keyAt] ?? 0);
    const cidr = cidrOfKey(buf, keyAt);
    const wallMs = reader.f64();
    const counter = reader.u32();
    const origin = reader.str();
    if (!isWhole(wallMs)) return invalid('version wall ms must be a non-negative whole number');
    const version = { wallMs, counter, origin };
    if (type === TYPE_TOMBSTONE) {
      const deletedExpiration = reader.f64();
      if (!isWhole(deletedExpiration)) return invalid('deleted expiration must be a non-negative whole number');
      reader.expectEnd();
      return { type: 'record', record: { kind: 'tombstone', policy, cidr, version, deletedExpiration } };
    }
    const expiration = reader.f64();
    const createdAt = reader.f64();
    const source = SOURCES[reader.u8()];
    const tag = reader.str();
    const originNode = reader.str();
    const hasMetadata = reader.u8();
    if (!isWhole(expiration) || !isWhole(createdAt)) return invalid('expiration and createdAt must be non-negative whole numbers');
    if (source === undefined) return invalid('unknown source');
    const entry = { policy, cidr, tag, expiration, createdAt, originNode, source, version };
    if (hasMetadata === 0) {
      reader.expectEnd();
      return { type: 'record', record: { kind: 'live', entry } };
    }
    const metadata = parseMetadata(reader.str());
    reader.expectEnd();
    if (typeof metadata === 'string') return invalid(metadata);
    return { type: 'record', record: { kind: 'live', entry: { ...entry, metadata } } };
  } catch (err) {
    return invalid(err instanceof RangeError ? 'record is cut short' : String(err));
  }
}

/**
 * Calls onFrame for every intact frame of buf from `from`; damaged bytes are skipped up
 * to the next intact frame. Returns the end of the last intact frame and how many
 * damaged stretches were skipped.
 */
export function scanFrames(
  buf: Buffer,
  from: number,
  onFrame: (start: number, length: number) => void,
): { readonly cleanLength: number; readonly damaged: number } {
  let at = from;
  let cleanLength = from;
  let damaged = 0;
  let inDamage = false;
  while (at + FRAME_HEAD_BYTES <= buf.length) {
    const length = buf.readUInt32LE(at);
    if (length > 0 && length <= MAX_PAYLOAD_BYTES && at + FRAME_HEAD_BYTES + length <= buf.length) {
      const start = at + FRAME_HEAD_BYTES;
      if (crc32(buf.subarray(start, start + length)) === buf.readUInt32LE(at + 4)) {
        onFrame(start, length);
        at = start + length;
        cleanLength = at;
        inDamage = false;
        continue;
      }
    }
    if (!inDamage) damaged++;
    inDamage = true;
    at++;
  }
  if (!inDamage && cleanLength < buf.length) damaged++;
  return { cleanLength, damaged };
}

/** Reads the header frame at the start of a file, if it is one. */
export function readHeader(buf: Buffer): FrameHeader | undefined {
  if (buf.length < FRAME_HEAD_BYTES) return undefined;
  const length = buf.readUInt32LE(0);
  if (length === 0 || FRAME_HEAD_BYTES + length > buf.length) return undefined;
  if (crc32(buf.subarray(FRAME_HEAD_BYTES, FRAME_HEAD_BYTES + length)) !== buf.readUInt32LE(4)) return undefined;
  const decoded = decodeFrame(buf, FRAME_HEAD_BYTES, length);
  return decoded.type === 'header' ? decoded.header : undefined;
}

/** Why the rule key at buf[at, at + KEY_BYTES) is not a canonical one, or undefined. */
export function checkKey(buf: Uint8Array, at: number): string | undefined {
  const policy = buf[at] ?? 255;
  const kind = buf[at + 1] ?? 0;
  const prefix = buf[at + 2] ?? 0;
  if (policy > 1) return 'unknown policy';
  if (kind !== KIND_IPV4 && kind !== KIND_IPV6) return 'unknown key kind';
  const bits = kind === KIND_IPV4 ? 32 : 128;
  if (prefix < 1 || prefix > bits || buf[at + 3] !== 0) return 'prefix length out of range';
  // Canonical: every bit past the prefix (and past the address) is zero.
  for (let i = 0; i < 16; i++) {
    const byte = buf[at + 4 + i] ?? 0;
    const keep = i * 8 >= bits ? 0 : prefix >= (i + 1) * 8 ? 0xff : prefix <= i * 8 ? 0 : (0xff << (8 - (prefix - i * 8))) & 0xff;
    if ((byte & ~keep & 0xff) !== 0) return 'address has bits set past its prefix length';
  }
  return undefined;
}

export function parseMetadata(text: string): EntryMetadata | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'metadata is not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'metadata must be an object';
  const { kind, detail, extra } = value as Record<string, unknown>;
  if (typeof kind !== 'string' || typeof detail !== 'string') return 'metadata kind and detail must be strings';
  if (extra === undefined) return { kind, detail };
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) return 'metadata extra must be an object';
  return { kind, detail, extra: extra as Record<string, unknown> };
}

function isWhole(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function invalid(reason: string): DecodedFrame {
  return { type: 'invalid', reason };
}

class PayloadReader {
  constructor(
    private readonly buf: Buffer,
    private at: number,
    private readonly end: number,
  ) {}

  private need(bytes: number): number {
    const at = this.at;
    if (at + bytes > this.end) throw new RangeError('cut short');
    this.at += bytes;
    return at;
  }

  u8(): number {
    return this.buf[this.need(1)] ?? 0;
  }

  u32(): number {
    return this.buf.readUInt32LE(this.need(4));
  }

  f64(): number {
    return this.buf.readDoubleLE(this.need(8));
  }

  skip(bytes: number): number {
    return this.need(bytes);
  }

  str(): string {
    const length = this.u32();
    const at = this.need(length);
    return this.buf.toString('utf8', at, at + length);
  }

  expectEnd(): void {
    if (this.at !== this.end) throw new Error('trailing bytes after the record');
  }
}
