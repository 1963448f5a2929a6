// Record codec of the peer mesh: round trips keep every field (policy above all),
// bad records from a peer are refused with INVALID_ARGUMENT naming the field, and the
// core's size estimate is conservative against the real protobuf encoding.
import test from 'ava';
import fc from 'fast-check';
import { parseCidr } from '../../../src/domain/cidr.js';
import { InvalidArgumentError } from '../../../src/domain/errors.js';
import type { ReplicatedRecord } from '../../../src/domain/replicated-record.js';
import { Policy } from '../../../src/generated/couic/v1/entry.js';
import { SyncMessage, SyncPhase, type ReplicatedRecord as WireRecord } from '../../../src/generated/couic/v1/peering.js';
import { CHUNK_OVERHEAD_BYTES, estimateRecordBytes } from '../../../src/replication/core/record-size.js';
import { encodeMeshMessage, meshToWire } from '../../../src/replication/mesh/mesh-message-codec.js';
import { recordsFromWire, recordToWire } from '../../../src/replication/mesh/record-codec.js';

const version = { wallMs: 1_700_000_000_123, counter: 7, origin: 'node-a' };

const ignoreLive: ReplicatedRecord = {
  kind: 'live',
  entry: {
    policy: 'ignore',
    cidr: parseCidr('10.1.0.0/16'),
    tag: 'office',
    expiration: 1_800_000_000,
    createdAt: 1_700_000_000,
    originNode: 'node-a',
    source: 'api',
    version,
    metadata: { kind: 'manual', detail: 'allowlist', extra: { ticket: 'OPS-1', n: 3, nested: { ok: true } } },
  },
};

const tombstone: ReplicatedRecord = {
  kind: 'tombstone',
  policy: 'drop',
  cidr: parseCidr('2001:db8::/32'),
  version: { ...version, counter: 8 },
  deletedExpiration: 1_750_000_000,
};

function roundTrip(record: ReplicatedRecord): ReplicatedRecord {
  const bytes = SyncMessage.encode(
    SyncMessage.fromPartial({ message: { $case: 'records', value: { seq: 1, phase: SyncPhase.SYNC_PHASE_DELTA, records: [recordToWire(record)] } } }),
  ).finish();
  const decoded = SyncMessage.decode(bytes);
  if (decoded.message?.$case !== 'records') throw new Error('not a records message');
  const [out] = recordsFromWire(decoded.message.value.records);
  if (out === undefined) throw new Error('no record');
  return out;
}

test('a live ignore record keeps its policy, tag, expiry, origin, metadata and version; arrives as source peer', (t) => {
  const out = roundTrip(ignoreLive);
  if (out.kind !== 'live' || ignoreLive.kind !== 'live') return t.fail('expected live');
  t.is(out.entry.policy, 'ignore');
  t.is(out.entry.cidr.text, '10.1.0.0/16');
  t.is(out.entry.tag, 'office');
  t.is(out.entry.expiration, 1_800_000_000);
  t.is(out.entry.createdAt, 1_700_000_000);
  t.is(out.entry.originNode, 'node-a');
  t.is(out.entry.source, 'peer');
  t.deepEqual(out.entry.version, version);
  t.deepEqual(out.entry.metadata, ignoreLive.entry.metadata);
});

test('a tombstone keeps policy, cidr, version and deleted expiration', (t) => {
  const out = roundTrip(tombstone);
  t.deepEqual(out.kind === 'tombstone' ? { ...out, cidr: out.cidr.text } : out, { ...tombstone, cidr: '2001:db8::/32' });
});

const good = (): WireRecord => recordToWire(ignoreLive);

const bad: Array<[string, Partial<WireRecord>, RegExp]> = [
  ['unspecified policy', { policy: Policy.POLICY_UNSPECIFIED }, /records\[0\]\.policy: must be POLICY_DROP or POLICY_IGNORE/],
  ['bad cidr', { cidr: '10.0.0.0/33' }, /records\[0\]\.cidr:/],
  ['no version', { version: undefined }, /records\[0\]\.version: is required/],
  ['zero wall clock', { version: { wallMs: 0, counter: 0, origin: 'a' } }, /records\[0\]\.version\.wall_ms/],
  ['bad version origin', { version: { wallMs: 5, counter: 0, origin: '' } }, /records\[0\]\.version\.origin: must not be empty/],
  ['set tag', { tag: 'bogons.couic' }, /records\[0\]\.tag: must not end in "\.couic"/],
  ['negative expiration', { expiration: -1 }, /records\[0\]\.expiration/],
  ['bad origin node', { originNode: 'a b' }, /records\[0\]\.origin_node/],
  ['live with deleted_expiration', { deletedExpiration: 5 }, /records\[0\]\.deleted_expiration: only tombstones/],
  ['tombstone with a tag', { tombstone: true, tag: 'x', metadata: undefined, expiration: 0, createdAt: 0, originNode: '' }, /records\[0\]\.tombstone: a tombstone must not carry/],
  ['huge metadata', { metadata: { kind: 'k', detail: 'd'.repeat(5000), extra: undefined } }, /records\[0\]\.metadata: must be at most 4096 bytes/],
];

for (const [what, patch, pattern] of bad) {
  test(`refused: ${what}`, (t) => {
    const err = t.throws(() => recordsFromWire([good(), { ...good(), ...patch }].slice(1)), { instanceOf: InvalidArgumentError });
    t.regex(err.message, pattern);
  });
}

test('every bad record of a chunk is reported, with its index', (t) => {
  const err = t.throws(() => recordsFromWire([good(), { ...good(), cidr: 'x' }, good(), { ...good(), policy: Policy.POLICY_UNSPECIFIED }]), {
    instanceOf: InvalidArgumentError,
  });
  t.regex(err.message, /records\[1\]\.cidr/);
  t.regex(err.message, /records\[3\]\.policy/);
});

// Records as the API can produce them: tags and metadata within the API's bounds.
const nodeId = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/);
const cidrArb = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 32 })).map(([n, p]) => {
    const a = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    return parseCidr(`${a}/${p}`);
  }),
  fc.tuple(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), fc.integer({ min: 1, max: 128 })).map(([groups, p]) =>
    parseCidr(`${groups.map((g) => g.toString(16)).join(':')}/${p}`),
  ),
);
const versionArb = fc.record({ wallMs: fc.integer({ min: 1, max: 2 ** 50 }), counter: fc.integer({ min: 0, max: 0xffffffff }), origin: nodeId });
const extraArb = fc.dictionary(
  fc.string({ maxLength: 12 }),
  fc.oneof(fc.string({ maxLength: 40 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null)),
  { maxKeys: 30 },
);
const recordArb: fc.Arbitrary<ReplicatedRecord> = fc.oneof(
  fc
    .record({
      policy: fc.constantFrom('drop' as const, 'ignore' as const),
      cidr: cidrArb,
      tag: fc.stringMatching(/^[A-Za-z0-9_-]{0,64}$/),
      expiration: fc.integer({ min: 0, max: 2 ** 40 }),
      createdAt: fc.integer({ min: 0, max: 2 ** 40 }),
      originNode: nodeId,
      version: versionArb,
      metadata: fc.option(fc.record({ kind: fc.string({ maxLength: 100 }), detail: fc.string({ maxLength: 300 }), extra: extraArb }), { nil: undefined }),
    })
    .map(({ metadata, ...rest }) => ({
      kind: 'live' as const,
      entry: { ...rest, source: 'api' as const, ...(metadata !== undefined ? { metadata } : {}) },
    })),
  fc.record({
    kind: fc.constant('tombstone' as const),
    policy: fc.constantFrom('drop' as const, 'ignore' as const),
    cidr: cidrArb,
    version: versionArb,
    deletedExpiration: fc.integer({ min: 0, max: 2 ** 40 }),
  }),
);

test('records chunks encoded straight from domain records are byte-identical to the generated encoder', (t) => {
  fc.assert(
    fc.property(fc.array(recordArb, { maxLength: 30 }), fc.integer({ min: 1, max: 2 ** 40 }), fc.boolean(), (records, seq, reconcile) => {
      const message = { type: 'records' as const, seq, phase: reconcile ? ('reconcile' as const) : ('delta' as const), records };
      t.deepEqual(Buffer.from(encodeMeshMessage(message)), Buffer.from(SyncMessage.encode(meshToWire(message)).finish()));
    }),
    { numRuns: 300 },
  );
});

test('the core size estimate is never below the real encoding of a chunk', (t) => {
  fc.assert(
    fc.property(fc.array(recordArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 2 ** 40 }), (records, seq) => {
      const estimate = CHUNK_OVERHEAD_BYTES + records.reduce((sum, r) => sum + estimateRecordBytes(r), 0);
      const message = SyncMessage.fromPartial({
        message: { $case: 'records', value: { seq, phase: SyncPhase.SYNC_PHASE_RECONCILE, records: records.map(recordToWire) } },
      });
      const encoded = SyncMessage.encode(message).finish().length;
      return encoded <= estimate;
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('the estimate holds for a full chunk of typical records (1 MiB of /32 drops)', (t) => {
  const records: ReplicatedRecord[] = [];
  let estimate = CHUNK_OVERHEAD_BYTES;
  for (let i = 0; estimate < 1024 * 1024; i++) {
    const r: ReplicatedRecord = {
      kind: 'live',
      entry: {
        policy: 'drop',
        cidr: parseCidr(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`),
        tag: 'ddos-wave-1',
        expiration: 1_800_000_000,
        createdAt: 1_700_000_000,
        originNode: 'couic1-0a1b2c3d',
        source: 'api',
        version: { wallMs: 1_700_000_000_000 + i, counter: i % 5, origin: 'couic1-0a1b2c3d' },
      },
    };
    records.push(r);
    estimate += estimateRecordBytes(r);
  }
  const encoded = SyncMessage.encode(
    SyncMessage.fromPartial({ message: { $case: 'records', value: { seq: 2 ** 40, phase: SyncPhase.SYNC_PHASE_DELTA, records: records.map(recordToWire) } } }),
  ).finish().length;
  t.true(encoded <= estimate, `encoded ${encoded} > estimate ${estimate}`);
  t.log(`${records.length} records: estimate ${estimate} B, encoded ${encoded} B (${((encoded / estimate) * 100).toFixed(0)}%)`);
});
