// One bus message = a batch of replicated records, encoded as the mesh's
// couic.v1.SyncRecords protobuf (same records, same validation of what arrives):
// batching many records per message is what makes JetStream fast (one acked
// publish per batch, not per rule).
import type { ReplicatedRecord } from '../../domain/replicated-record.js';
import { SyncPhase, SyncRecords } from '../../generated/couic/v1/peering.js';
import { recordsFromWire, recordToWire } from '../mesh/record-codec.js';
import { readBatchFast } from './bus-batch-reader.js';

export function encodeBatch(records: readonly ReplicatedRecord[]): Uint8Array {
  return SyncRecords.encode({ seq: 0, phase: SyncPhase.SYNC_PHASE_DELTA, records: records.map(recordToWire) }).finish();
}

/**
 * Throws InvalidArgumentError (naming each bad field) or a decode error for a malformed
 * message. The common case goes through the one-pass reader; anything it leaves
 * (metadata, a bad field) takes the canonical, mesh-identical path.
 */
export function decodeBatch(data: Uint8Array): ReplicatedRecord[] {
  return readBatchFast(data) ?? decodeBatchCanonical(data);
}

export function decodeBatchCanonical(data: Uint8Array): ReplicatedRecord[] {
  return recordsFromWire(SyncRecords.decode(data).records);
}

/**
 * Encodes records as messages of at most `maxBytes` each (halving a batch that is
 * still too large once encoded; a single record is always sent alone).
 */
export function encodeBatches(records: readonly ReplicatedRecord[], maxBytes: number): Uint8Array[] {
  const data = encodeBatch(records);
  if (data.byteLength <= maxBytes || records.length <= 1) return [data];
  const half = Math.ceil(records.length / 2);
  return [...encodeBatches(records.slice(0, half), maxBytes), ...encodeBatches(records.slice(half), maxBytes)];
}
