// Transport pieces of the peer mesh without sockets: the message codec (every
// MeshMessage round-trips, summaries included; torn, empty or inconsistent messages
// are INVALID_ARGUMENT), the
// outgoing queue, and the reconnect backoff (capped, jittered, reset).
import test from 'ava';
import { parseCidr } from '../../../src/domain/cidr.js';
import { InvalidArgumentError } from '../../../src/domain/errors.js';
import { SyncMessage } from '../../../src/generated/couic/v1/peering.js';
import type { MeshMessage } from '../../../src/replication/core/mesh-session.js';
import { Backoff } from '../../../src/domain/backoff.js';
import { meshFromWire, meshToWire } from '../../../src/replication/mesh/mesh-message-codec.js';
import { MessageQueue } from '../../../src/replication/mesh/message-queue.js';

function viaWire(m: MeshMessage): MeshMessage {
  return meshFromWire(SyncMessage.decode(SyncMessage.encode(meshToWire(m)).finish()));
}

test('every mesh message survives the wire', (t) => {
  const digests = new BigUint64Array([0n, 1n, 2n ** 64n - 1n, 0x0123456789abcdefn]);
  const back = viaWire({ type: 'digests', digests });
  t.deepEqual(back.type === 'digests' ? [...back.digests] : [], [...digests]);
  t.deepEqual(viaWire({ type: 'hello', nodeId: 'node-a', bucketCount: 4096, protocolVersion: 1 }), {
    type: 'hello',
    nodeId: 'node-a',
    bucketCount: 4096,
    protocolVersion: 1,
  });
  t.deepEqual(viaWire({ type: 'ack', seq: 2 ** 40 }), { type: 'ack', seq: 2 ** 40 });
  t.deepEqual(viaWire({ type: 'reconciled', recordsSent: 12 }), { type: 'reconciled', recordsSent: 12 });
  const records = viaWire({
    type: 'records',
    seq: 3,
    phase: 'reconcile',
    records: [{ kind: 'tombstone', policy: 'ignore', cidr: parseCidr('10.0.0.0/8'), version: { wallMs: 5, counter: 1, origin: 'b' }, deletedExpiration: 0 }],
  });
  t.is(records.type === 'records' ? records.phase : undefined, 'reconcile');
  t.is(records.type === 'records' ? records.records[0]?.kind : undefined, 'tombstone');
});

test('malformed messages are INVALID_ARGUMENT naming the field', (t) => {
  const bad: Array<[SyncMessage, RegExp]> = [
    [{ message: undefined }, /^message: is empty/],
    [{ message: { $case: 'digests', value: { digests: Buffer.alloc(12) } } }, /digests\.digests: must be a whole number of 8-byte digests/],
    [{ message: { $case: 'hello', value: { nodeId: '', bucketCount: 1, protocolVersion: 1 } } }, /hello\.node_id/],
    [{ message: { $case: 'hello', value: { nodeId: 'a', bucketCount: 0, protocolVersion: 1 } } }, /hello\.bucket_count/],
    [{ message: { $case: 'ack', value: { seq: 0 } } }, /ack\.seq: must be a positive integer/],
    [{ message: { $case: 'records', value: { seq: 1, phase: 0, records: [] } } }, /records\.phase/],
  ];
  for (const [wire, pattern] of bad) {
    const err = t.throws(() => meshFromWire(wire), { instanceOf: InvalidArgumentError });
    t.regex(err.message, pattern);
  }
});

test('summaries survive the wire (varints, 48-bit wall ms, origin table) and bad ones are refused', (t) => {
  const block = {
    buckets: [7, 4095, 0],
    counts: [2, 0, 1],
    keyLo: [0, 0xffff_ffff, 12345],
    keyHi: [0xdead_beef, 1, 0],
    wallMs: [1_700_000_000_123, 2 ** 48 - 1, 1],
    counter: [0, 0xffff_ffff, 300],
    origin: [1, 0, 1],
    origins: ['node-a', 'node-b'],
  };
  const back = viaWire({ type: 'summaries', index: 3, last: true, block });
  t.deepEqual(back, { type: 'summaries', index: 3, last: true, block });
  const empty = viaWire({ type: 'summaries', index: 0, last: true, block: { ...block, buckets: [], counts: [], keyLo: [], keyHi: [], wallMs: [], counter: [], origin: [], origins: [] } });
  t.is(empty.type === 'summaries' ? empty.block.keyLo.length : -1, 0);
  const wire = meshToWire({ type: 'summaries', index: 0, last: false, block });
  const value = wire.message?.$case === 'summaries' ? wire.message.value : undefined;
  if (value === undefined) return t.fail();
  const bad: Array<[typeof value, RegExp]> = [
    [{ ...value, counts: [2, 0] }, /summaries\.counts: must have one count per bucket/],
    [{ ...value, buckets: [7, 7, 0] }, /summaries\.buckets\[1\]: bucket 7 is listed twice/],
    [{ ...value, buckets: [7, 1 << 20, 0] }, /summaries\.buckets\[1\]/],
    [{ ...value, counts: [2, 0, 2] }, /summaries\.entries/],
    [{ ...value, entries: value.entries.subarray(0, value.entries.length - 1) }, /summaries\.entries: (ends inside|entry 2: torn)/],
    [{ ...value, entries: Buffer.concat([value.entries, Buffer.from([0])]) }, /summaries\.entries: has 1 bytes after/],
    [{ ...value, origins: ['node-a'] }, /summaries\.entries: entry 0: origin index 1 is beyond/],
    [{ ...value, origins: ['node-a', ''] }, /summaries\.origins\[1\]/],
  ];
  for (const [v, pattern] of bad) {
    const err = t.throws(() => meshFromWire({ message: { $case: 'summaries', value: v } }), { instanceOf: InvalidArgumentError });
    t.regex(err.message, pattern);
  }
});

test('the queue hands items over in order, then ends or fails', async (t) => {
  const q = new MessageQueue<number>();
  q.push(1);
  const it = q[Symbol.asyncIterator]();
  t.deepEqual(await it.next(), { value: 1, done: false });
  const pending = it.next();
  q.push(2);
  t.deepEqual(await pending, { value: 2, done: false });
  q.push(3);
  q.end();
  t.deepEqual(await it.next(), { value: 3, done: false });
  t.true((await it.next()).done);
  const failing = new MessageQueue<number>();
  const waiting = failing[Symbol.asyncIterator]().next();
  failing.fail(new Error('broken'));
  await t.throwsAsync(waiting, { message: 'broken' });
  t.throws(() => failing.push(1));
});

test('backoff doubles from the minimum, stays within the cap with jitter, and resets', (t) => {
  let r = 1 - Number.EPSILON;
  const b = new Backoff({ minMs: 250, maxMs: 2_000, random: () => r });
  const top = [b.next(), b.next(), b.next(), b.next(), b.next()];
  t.deepEqual(top, [250, 500, 1000, 2000, 2000]);
  r = 0;
  t.is(b.next(), 1000); // half of the capped delay at worst
  b.reset();
  t.is(b.next(), 125);
});
