// Record codec, line framing and torn-tail detection of the journal, without files.
import test from 'ava';
import fc from 'fast-check';
import { parseCidr } from '../../../src/domain/cidr.js';
import type { RuleEntry } from '../../../src/domain/entry.js';
import { decodeChange, decodeEntry, encodeChange, encodeChangeJson, encodeEntry } from '../../../src/store/entry-codec.js';
import type { ReplicatedRecord, VersionedEntry } from '../../../src/domain/replicated-record.js';
import { frameLine, frameRecord, unframeLine } from '../../../src/store/journal-line.js';
import { scanTail } from '../../../src/store/journal-tail.js';
import { del, makeEntry, put } from './fixtures/persistence-helpers.js';

const viaJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

test('an entry survives encode, JSON and decode, metadata included', (t) => {
  const entry = makeEntry('2001:db8::/32', {
    policy: 'ignore',
    tag: 'partners',
    expiration: 1_800_000_000,
    createdAt: 1_700_000_123,
    originNode: 'node-b',
    source: 'peer',
    metadata: { kind: 'abuse', detail: 'ssh brute force', extra: { hits: 12, from: ['a', 'b'] } },
  });
  t.deepEqual(decodeEntry(viaJson(encodeEntry(entry))), entry);
  t.deepEqual(decodeChange(viaJson(encodeChange(put(entry)))), put(entry));
  t.deepEqual(decodeChange(viaJson(encodeChange(del('drop', '10.0.0.0/8')))), del('drop', '10.0.0.0/8'));
});

test('an entry without metadata has no m key on disk and none after decoding', (t) => {
  const record = encodeEntry(makeEntry('1.2.3.4/32'));
  t.false('m' in record);
  const decoded = decodeEntry(viaJson(record));
  t.true(typeof decoded !== 'string' && !('metadata' in decoded));
});

test('decoding re-normalises the CIDR text', (t) => {
  const record = { ...encodeEntry(makeEntry('10.0.0.0/8')), c: '10.1.2.3/8' };
  const decoded = decodeEntry(record);
  if (typeof decoded === 'string') return t.fail(decoded);
  t.is(decoded.cidr.text, '10.0.0.0/8');
});

test('decoding names what is wrong with a bad record', (t) => {
  const good = encodeEntry(makeEntry('1.2.3.4/32'));
  const cases: Array<[unknown, RegExp]> = [
    [null, /not an object/],
    [{ ...good, p: 'allow' }, /policy/],
    [{ ...good, c: '1.2.3.4' }, /cidr.*prefix/],
    [{ ...good, e: -1 }, /expiration/],
    [{ ...good, e: 1.5 }, /expiration/],
    [{ ...good, a: '1' }, /createdAt/],
    [{ ...good, s: 'other' }, /source/],
    [{ ...good, m: { kind: 'k' } }, /m\.detail/],
    [{ ...good, m: { kind: 'k', detail: 'd', extra: [] } }, /m\.extra/],
  ];
  for (const [record, reason] of cases) {
    const decoded = decodeEntry(record);
    t.true(typeof decoded === 'string', JSON.stringify(record));
    t.regex(String(decoded), reason);
  }
  t.regex(String(decodeChange({ o: 'x' })), /operation/);
  t.regex(String(decodeChange({ o: 'd', p: 'drop', c: 'nope' })), /cidr/);
});

const entryArb = fc
  .record({
    v4: fc.boolean(),
    bytes: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    prefix: fc.integer({ min: 1, max: 128 }),
    policy: fc.constantFrom('drop' as const, 'ignore' as const),
    tag: fc.string(),
    expiration: fc.nat(),
    createdAt: fc.nat(),
    originNode: fc.string(),
    source: fc.constantFrom('api' as const, 'set' as const, 'peer' as const),
    metadata: fc.option(
    fc.record({ kind: fc.string(), detail: fc.string(), extra: fc.option(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean())), { nil: undefined }) })
      .map(({ extra, ...rest }) => (extra === undefined ? rest : { ...rest, extra })),
    { nil: undefined },
  ),
    version: fc.record({ wallMs: fc.nat(), counter: fc.nat(), origin: fc.string() }),
  })
  .map(({ v4, bytes, prefix, metadata, ...rest }): RuleEntry => {
    const text = v4
      ? `${[...bytes.slice(0, 4)].join('.')}/${1 + (prefix % 32)}`
      : `${[...Array(8).keys()].map((i) => (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16)).join(':')}/${prefix}`;
    const entry: RuleEntry = { ...rest, cidr: parseCidr(text) };
    return metadata === undefined ? entry : { ...entry, metadata };
  });

test('any encodable entry round-trips (property)', (t) => {
  fc.assert(
    fc.property(entryArb, (entry) => {
      t.deepEqual(decodeEntry(viaJson(encodeEntry(entry))), entry);
    }),
  );
});

test('encodeChangeJson writes exactly JSON.stringify(encodeChange(record)) (property)', (t) => {
  const tombstoneArb = fc.record({
    policy: fc.constantFrom('drop' as const, 'ignore' as const),
    cidr: fc.constantFrom('10.0.0.0/8', '2001:db8::/32', '1.2.3.4/32').map((c) => parseCidr(c)),
    version: fc.record({ wallMs: fc.nat(), counter: fc.nat(), origin: fc.string() }),
    deletedExpiration: fc.nat(),
  });
  fc.assert(
    fc.property(entryArb, tombstoneArb, fc.boolean(), (entry, tombstone, withVersion) => {
      const { version, ...unversioned } = entry;
      const live: ReplicatedRecord = { kind: 'live', entry: (withVersion ? entry : { ...unversioned }) as VersionedEntry };
      t.is(encodeChangeJson(live), JSON.stringify(encodeChange(live)));
      const dead: ReplicatedRecord = { kind: 'tombstone', ...tombstone };
      t.is(encodeChangeJson(dead), JSON.stringify(encodeChange(dead)));
      t.truthy(version);
    }),
  );
});

test('a framed line carries its checksum and yields the record back', (t) => {
  const line = frameRecord({ o: 'd', p: 'drop', c: '10.0.0.0/8' });
  t.true(line.endsWith('\n'));
  t.regex(line, /^\{"c":"[0-9a-f]{8}","r":\{.*\}\}\n$/);
  t.deepEqual(JSON.parse(line), { c: line.slice(6, 14), r: { o: 'd', p: 'drop', c: '10.0.0.0/8' } });
  const unframed = unframeLine(line.slice(0, -1));
  t.deepEqual(unframed, { ok: true, record: { o: 'd', p: 'drop', c: '10.0.0.0/8' } });
});

test('any change to a framed line, or a cut, is detected', (t) => {
  const text = JSON.stringify(encodeEntry(makeEntry('192.168.10.0/24', { tag: 'été' })));
  const line = frameLine(text).slice(0, -1);
  for (let cut = 0; cut < line.length; cut++) t.false(unframeLine(line.slice(0, cut)).ok, `cut at ${cut}`);
  for (let i = 0; i < line.length; i++) {
    const flipped = line.slice(0, i) + String.fromCharCode(line.charCodeAt(i) ^ 1) + line.slice(i + 1);
    t.false(unframeLine(flipped).ok, `flip at ${i}`);
  }
  t.false(unframeLine('').ok);
  t.false(unframeLine('\0'.repeat(100)).ok);
});

test('scanTail keeps intact lines and cuts a partial or corrupt tail', (t) => {
  const a = frameRecord({ n: 1 });
  const b = frameRecord({ n: 2 });
  const whole = Buffer.from(a + b);
  t.deepEqual(scanTail(whole), { cleanLength: whole.length, droppedLines: 0 });
  t.deepEqual(scanTail(Buffer.from(a + b.slice(0, 10))), { cleanLength: a.length, droppedLines: 1 });
  t.deepEqual(scanTail(Buffer.from(a + b.slice(0, -1))), { cleanLength: a.length, droppedLines: 1 });
  const zeros = Buffer.concat([whole, Buffer.alloc(4096), Buffer.from('\n'), Buffer.alloc(100)]);
  t.deepEqual(scanTail(zeros), { cleanLength: whole.length, droppedLines: 2 });
  const badChecksum = Buffer.from(a + b.replace('"n":2', '"n":3'));
  t.deepEqual(scanTail(badChecksum), { cleanLength: a.length, droppedLines: 1 });
  t.deepEqual(scanTail(Buffer.from('garbage\n')), { cleanLength: 0, droppedLines: 1 });
  t.deepEqual(scanTail(Buffer.alloc(0)), { cleanLength: 0, droppedLines: 0 });
});
