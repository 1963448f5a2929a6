// Converts the core's MeshMessage to and from the PeeringService wire message, and
// checks every received message (an unknown or empty oneof, a bad seq, a torn digest
// array or a bad record is an INVALID_ARGUMENT that ends the stream, never a crash).
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { checkNodeId } from '../../domain/node-id.js';
import { InvalidArgumentError } from '../../domain/errors.js';
import { SyncMessage, SyncPhase } from '../../generated/couic/v1/peering.js';
import type { MeshMessage, RecordsPhase } from '../core/mesh-session.js';
import { recordsFromWire, recordToWire, writeRecord } from './record-codec.js';
import { summariesFromWire, summariesToWire } from './summary-codec.js';

/** More buckets than any sane configuration; bounds the digest array a peer can make us allocate. */
export const MAX_WIRE_BUCKETS = 1 << 20;

export function meshToWire(message: MeshMessage): SyncMessage {
  switch (message.type) {
    case 'hello':
      return {
        message: {
          $case: 'hello',
          value: { nodeId: message.nodeId, bucketCount: message.bucketCount, protocolVersion: message.protocolVersion },
        },
      };
    case 'digests':
      return { message: { $case: 'digests', value: { digests: digestsToBytes(message.digests) } } };
    case 'records':
      return {
        message: {
          $case: 'records',
          value: {
            seq: message.seq,
            phase: message.phase === 'reconcile' ? SyncPhase.SYNC_PHASE_RECONCILE : SyncPhase.SYNC_PHASE_DELTA,
            records: message.records.map(recordToWire),
          },
        },
      };
    case 'summaries':
      return { message: { $case: 'summaries', value: summariesToWire(message.index, message.last, message.block) } };
    case 'reconciled':
      return { message: { $case: 'reconciled', value: { recordsSent: message.recordsSent } } };
    case 'ack':
      return { message: { $case: 'ack', value: { seq: message.seq } } };
  }
}

/**
 * The encoded SyncMessage. Records chunks (nearly all the bytes) are written straight
 * from the domain records, without an intermediate wire object per record; the
 * bytes are the same as SyncMessage.encode(meshToWire(message)).
 */
export function encodeMeshMessage(message: MeshMessage): Uint8Array {
  if (message.type !== 'records') return SyncMessage.encode(meshToWire(message)).finish();
  const w = new BinaryWriter();
  w.uint32(26).fork(); // SyncMessage.records
  if (message.seq !== 0) w.uint32(8).uint64(message.seq);
  w.uint32(16).int32(message.phase === 'reconcile' ? SyncPhase.SYNC_PHASE_RECONCILE : SyncPhase.SYNC_PHASE_DELTA);
  for (const record of message.records) {
    w.uint32(26).fork();
    writeRecord(w, record);
    w.join();
  }
  w.join();
  return w.finish();
}

/** Validates a received wire message; throws InvalidArgumentError naming the field. */
export function meshFromWire(wire: SyncMessage): MeshMessage {
  const m = wire.message;
  if (m === undefined) throw InvalidArgumentError.single('message', 'is empty (expected hello, digests, summaries, records, reconciled or ack)');
  switch (m.$case) {
    case 'hello': {
      const problem = checkNodeId(m.value.nodeId);
      if (problem !== undefined) throw InvalidArgumentError.single('hello.node_id', problem);
      if (m.value.bucketCount < 1 || m.value.bucketCount > MAX_WIRE_BUCKETS) {
        throw InvalidArgumentError.single('hello.bucket_count', `must be between 1 and ${MAX_WIRE_BUCKETS}, got ${m.value.bucketCount}`);
      }
      return { type: 'hello', nodeId: m.value.nodeId, bucketCount: m.value.bucketCount, protocolVersion: m.value.protocolVersion };
    }
    case 'digests':
      return { type: 'digests', digests: digestsFromBytes(m.value.digests) };
    case 'records': {
      checkSeq(m.value.seq, 'records.seq');
      return { type: 'records', seq: m.value.seq, phase: phaseFromWire(m.value.phase), records: recordsFromWire(m.value.records, 'records.records') };
    }
    case 'summaries':
      return { type: 'summaries', ...summariesFromWire(m.value) };
    case 'reconciled':
      if (!Number.isSafeInteger(m.value.recordsSent) || m.value.recordsSent < 0) {
        throw InvalidArgumentError.single('reconciled.records_sent', 'must be a non-negative integer');
      }
      return { type: 'reconciled', recordsSent: m.value.recordsSent };
    case 'ack':
      checkSeq(m.value.seq, 'ack.seq');
      return { type: 'ack', seq: m.value.seq };
  }
}

function checkSeq(seq: number, field: string): void {
  if (!Number.isSafeInteger(seq) || seq < 1) throw InvalidArgumentError.single(field, `must be a positive integer, got ${seq}`);
}

function phaseFromWire(phase: SyncPhase): RecordsPhase {
  if (phase === SyncPhase.SYNC_PHASE_RECONCILE) return 'reconcile';
  if (phase === SyncPhase.SYNC_PHASE_DELTA) return 'delta';
  throw InvalidArgumentError.single('records.phase', 'must be SYNC_PHASE_RECONCILE or SYNC_PHASE_DELTA');
}

/** Little-endian uint64 per bucket, whatever the host's byte order. */
export function digestsToBytes(digests: BigUint64Array): Buffer {
  const out = Buffer.allocUnsafe(digests.length * 8);
  for (let i = 0; i < digests.length; i++) out.writeBigUInt64LE(digests[i] as bigint, i * 8);
  return out;
}

export function digestsFromBytes(bytes: Uint8Array): BigUint64Array {
  if (bytes.length % 8 !== 0) throw InvalidArgumentError.single('digests.digests', `must be a whole number of 8-byte digests, got ${bytes.length} bytes`);
  const count = bytes.length / 8;
  if (count < 1 || count > MAX_WIRE_BUCKETS) throw InvalidArgumentError.single('digests.digests', `must hold 1 to ${MAX_WIRE_BUCKETS} digests, got ${count}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new BigUint64Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getBigUint64(i * 8, true);
  return out;
}
