// A conservative size estimate of one record on the wire, so outbox chunks stay
// below the gRPC message limit whatever exact encoding the transport uses
// (protobuf: field tags, varints, length prefixes all fit inside the margins here).
import type { ReplicatedRecord } from '../../domain/replicated-record.js';

// Only for sizing chunks (and for counting bytes where no transport encodes, e.g. the
// simulation): the mesh transport counts the real encoded size of every message.

/** Fixed overhead per record: tags, length prefixes, varints of numbers (10 bytes each at most). */
const RECORD_OVERHEAD_BYTES = 160;
/** Envelope of one chunk message (seq, phase, stream framing). */
export const CHUNK_OVERHEAD_BYTES = 64;

/** Exact UTF-8 length for ASCII (every validated field: cidr, policy, tag, node ids, source) without scanning twice. */
function utf8Bytes(text: string): number {
  return text.length;
}

/** Metadata is free text: measured exactly. */
function textBytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

export function estimateRecordBytes(record: ReplicatedRecord): number {
  if (record.kind === 'tombstone') {
    // cidr as text and as up to 16 raw bytes; policy; version origin.
    return RECORD_OVERHEAD_BYTES + 2 * utf8Bytes(record.cidr.text) + 16 + utf8Bytes(record.policy) + utf8Bytes(record.version.origin);
  }
  const e = record.entry;
  let bytes =
    RECORD_OVERHEAD_BYTES +
    2 * utf8Bytes(e.cidr.text) +
    16 +
    utf8Bytes(e.policy) +
    utf8Bytes(e.tag) +
    utf8Bytes(e.originNode) +
    utf8Bytes(e.version.origin) +
    utf8Bytes(e.source);
  if (e.metadata !== undefined) {
    bytes += 16 + textBytes(e.metadata.kind) + textBytes(e.metadata.detail);
    if (e.metadata.extra !== undefined) bytes += 16 + textBytes(JSON.stringify(e.metadata.extra));
  }
  return bytes;
}
