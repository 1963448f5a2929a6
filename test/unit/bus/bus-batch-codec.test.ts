// The bus batch's one-pass reader must accept exactly what the canonical (mesh)
// decoder accepts, with identical records; whatever it is unsure of it leaves to the
// canonical path. Checked on generated batches, valid and invalid, and on random bytes.
import test from 'ava';
import fc from 'fast-check';
import { decodeBatch, decodeBatchCanonical, encodeBatch } from '../../../src/replication/bus/bus-batch-codec.js';
import { readBatchFast } from '../../../src/replication/bus/bus-batch-reader.js';
import { tryParseCidr, type Cidr } from '../../../src/domain/cidr.js';
import type { ReplicatedRecord } from '../../../src/domain/replicated-record.js';
import type { Policy as WirePolicy } from '../../../src/generated/couic/v1/entry.js';
import { SyncPhase, SyncRecords, type ReplicatedRecord as WireRecord } from '../../../src/generated/couic/v1/peering.js';

function canonical(data: Uint8Array): { records: ReplicatedRecord[] } | { error: string } {
  try {
    return { records: decodeBatchCanonical(data) };
  } catch (error) {
    return { error: String(error) };
  }
}

const cidrText = fc.constantFrom('10.0.0.1/32', '192.168.0.0/16', '2001:db8::/32', '::1/128', '10.0.0.1/33', 'nope', '', '10.0.0.1 /32', 'é/8');
const nodeId = fc.constantFrom('node1', 'node-b.x', 'n_2', '', '-bad', 'a'.repeat(300), 'héllo');
const tag = fc.constantFrom('', 'bench', 'ddos_2024', 'bad tag', 'x-set', 'untagged', 'ok-Tag');
const seconds = fc.constantFrom(0, 1, 1_700_000_000, -5, 2 ** 53 + 2);
const wireRecord: fc.Arbitrary<WireRecord> = fc.record({
  // 7: not a Policy value, as a peer could send.
  policy: fc.constantFrom(0, 1, 2, 7).map((p) => p as WirePolicy),
  cidr: cidrText,
  version: fc.option(
    fc.record({ wallMs: fc.constantFrom(1, 1_795_000_000_000, 0, -1, 2 ** 53 + 2), counter: fc.constantFrom(0, 3, 0xffff_ffff), origin: nodeId }),
    { nil: undefined, freq: 10 },
  ),
  tombstone: fc.boolean(),
  tag,
  expiration: seconds,
  createdAt: seconds,
  originNode: nodeId,
  metadata: fc.option(fc.record({ kind: fc.constant('k'), detail: fc.constant('d'), extra: fc.constant(undefined) }), { nil: undefined, freq: 8 }),
  deletedExpiration: seconds,
});

test('the fast reader returns what the canonical decoder returns, or leaves the batch to it', (t) => {
  fc.assert(
    fc.property(fc.array(wireRecord, { maxLength: 6 }), (records) => {
      let data: Uint8Array;
      try {
        data = SyncRecords.encode({ seq: 0, phase: SyncPhase.SYNC_PHASE_DELTA, records }).finish();
      } catch {
        return; // not encodable (out-of-range int64)
      }
      const fast = readBatchFast(data);
      const slow = canonical(data);
      if (fast !== undefined) {
        if (!('records' in slow)) throw new Error(`fast path accepted a batch the canonical decoder refuses: ${slow.error}`);
        t.deepEqual(fast, slow.records);
      }
      const viaDecode = (() => {
        try {
          return { records: decodeBatch(data) };
        } catch (error) {
          return { error: String(error) };
        }
      })();
      t.deepEqual(viaDecode, slow);
    }),
    { numRuns: 2_000 },
  );
});

test('random bytes: the fast reader never accepts more than the canonical decoder', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (data) => {
      const fast = readBatchFast(data);
      if (fast === undefined) return;
      const slow = canonical(data);
      if (!('records' in slow)) throw new Error(`accepted bytes the canonical decoder refuses: ${slow.error}`);
      t.deepEqual(fast, slow.records);
    }),
    { numRuns: 5_000 },
  );
  t.pass();
});

test('valid batches without metadata take the fast path (live and tombstones), round trip through encodeBatch', (t) => {
  const cidr = tryParseCidr('10.1.2.3/32') as Cidr;
  const records: ReplicatedRecord[] = [
    {
      kind: 'live',
      entry: { policy: 'drop', cidr, tag: 'bench', expiration: 1_900_000_000, createdAt: 1_700_000_000, originNode: 'node1', source: 'peer', version: { wallMs: 1_795_000_000_123, counter: 4, origin: 'node1' } },
    },
    { kind: 'tombstone', policy: 'ignore', cidr: tryParseCidr('2001:db8::/48') as Cidr, version: { wallMs: 1_795_000_000_124, counter: 0, origin: 'node-2' }, deletedExpiration: 0 },
  ];
  const data = encodeBatch(records);
  const fast = readBatchFast(data);
  t.not(fast, undefined);
  t.deepEqual(fast, records);
  t.deepEqual(decodeBatchCanonical(data), records);
});
