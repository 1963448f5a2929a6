// Converts replicated records between the domain (ReplicatedRecord) and the peering
// wire format, and validates everything a peer sends: a bad record is refused with
// INVALID_ARGUMENT naming the field, never merged and never a crash. The policy is
// always carried: drop and ignore are different keys.
import { tryParseCidr } from '../../domain/cidr.js';
import type { EntryMetadata } from '../../domain/entry.js';
import { ViolationCollector } from '../../domain/errors.js';
import type { Policy as DomainPolicy } from '../../domain/policy.js';
import type { ReplicatedRecord } from '../../domain/replicated-record.js';
import { checkTag } from '../../domain/validation.js';
import type { Version } from '../../domain/version.js';
import { checkNodeId } from '../../domain/node-id.js';
import type { BinaryWriter } from '@bufbuild/protobuf/wire';
import { Metadata, Policy } from '../../generated/couic/v1/entry.js';
import type { RecordVersion, ReplicatedRecord as WireRecord } from '../../generated/couic/v1/peering.js';

/** Same bound as the rules API (api/rule-request.ts). */
export const MAX_WIRE_METADATA_BYTES = 4096;
/** A uint32 on the wire. */
const MAX_COUNTER = 0xffff_ffff;

const POLICY_TO_WIRE: Readonly<Record<DomainPolicy, Policy>> = { drop: Policy.POLICY_DROP, ignore: Policy.POLICY_IGNORE };

export function versionToWire(version: Version): RecordVersion {
  return { wallMs: version.wallMs, counter: version.counter, origin: version.origin };
}

export function recordToWire(record: ReplicatedRecord): WireRecord {
  if (record.kind === 'tombstone') {
    return {
      policy: POLICY_TO_WIRE[record.policy],
      cidr: record.cidr.text,
      version: versionToWire(record.version),
      tombstone: true,
      tag: '',
      expiration: 0,
      createdAt: 0,
      originNode: '',
      metadata: undefined,
      deletedExpiration: record.deletedExpiration,
    };
  }
  const entry = record.entry;
  return {
    policy: POLICY_TO_WIRE[entry.policy],
    cidr: entry.cidr.text,
    version: versionToWire(entry.version),
    tombstone: false,
    tag: entry.tag,
    expiration: entry.expiration,
    createdAt: entry.createdAt,
    originNode: entry.originNode,
    metadata:
      entry.metadata === undefined
        ? undefined
        : { kind: entry.metadata.kind, detail: entry.metadata.detail, extra: entry.metadata.extra },
    deletedExpiration: 0,
  };
}

/** Writes the fields of one ReplicatedRecord message (as ReplicatedRecord.encode would, same order and defaults). */
export function writeRecord(w: BinaryWriter, record: ReplicatedRecord): void {
  const live = record.kind === 'live' ? record.entry : undefined;
  const policy = live?.policy ?? (record as { policy: DomainPolicy }).policy;
  w.uint32(8).int32(POLICY_TO_WIRE[policy]);
  const cidr = live?.cidr.text ?? (record as { cidr: { text: string } }).cidr.text;
  if (cidr !== '') w.uint32(18).string(cidr);
  const version = live?.version ?? (record as { version: Version }).version;
  w.uint32(26).fork();
  if (version.wallMs !== 0) w.uint32(8).int64(version.wallMs);
  if (version.counter !== 0) w.uint32(16).uint32(version.counter);
  if (version.origin !== '') w.uint32(26).string(version.origin);
  w.join();
  if (record.kind === 'tombstone') {
    w.uint32(32).bool(true);
    if (record.deletedExpiration !== 0) w.uint32(80).int64(record.deletedExpiration);
    return;
  }
  const e = record.entry;
  if (e.tag !== '') w.uint32(42).string(e.tag);
  if (e.expiration !== 0) w.uint32(48).int64(e.expiration);
  if (e.createdAt !== 0) w.uint32(56).int64(e.createdAt);
  if (e.originNode !== '') w.uint32(66).string(e.originNode);
  if (e.metadata !== undefined) {
    Metadata.encode({ kind: e.metadata.kind, detail: e.metadata.detail, extra: e.metadata.extra }, w.uint32(74).fork()).join();
  }
}

/**
 * Validates and converts received records; throws InvalidArgumentError listing every
 * bad field (`records[3].cidr: ...`) so the stream can be closed with a clear status.
 * Live records arrive with source 'peer'.
 */
export function recordsFromWire(wire: readonly WireRecord[], field = 'records'): ReplicatedRecord[] {
  const violations = new ViolationCollector();
  const out: ReplicatedRecord[] = [];
  for (let i = 0; i < wire.length; i++) {
    const record = recordFromWire(wire[i] as WireRecord, field, i, violations);
    if (record !== undefined) out.push(record);
  }
  violations.throwIfAny();
  return out;
}

/** Field names are built only for a violation: a chunk holds thousands of valid records. */
function recordFromWire(w: WireRecord, field: string, index: number, violations: ViolationCollector): ReplicatedRecord | undefined {
  let bad = false;
  const add = (name: string, message: string | undefined): void => {
    if (message === undefined) return;
    bad = true;
    violations.add(`${field}[${index}].${name}`, message);
  };
  const policy = policyOf(w.policy);
  if (policy === undefined) add('policy', 'must be POLICY_DROP or POLICY_IGNORE');
  const cidr = tryParseCidr(w.cidr);
  if (typeof cidr === 'string') add('cidr', cidr);
  const version = versionFromWire(w.version, add);
  if (w.tombstone) {
    add('deleted_expiration', checkSeconds(w.deletedExpiration));
    const live = w.tag !== '' || w.expiration !== 0 || w.createdAt !== 0 || w.originNode !== '' || w.metadata !== undefined;
    if (live) add('tombstone', 'a tombstone must not carry tag, expiration, created_at, origin_node or metadata');
    if (bad || policy === undefined || typeof cidr === 'string' || version === undefined) return undefined;
    return { kind: 'tombstone', policy, cidr, version, deletedExpiration: w.deletedExpiration };
  }
  add('tag', checkTagCached(w.tag));
  add('expiration', checkSeconds(w.expiration));
  add('created_at', checkSeconds(w.createdAt));
  add('origin_node', checkNodeIdCached(w.originNode));
  if (w.deletedExpiration !== 0) add('deleted_expiration', 'only tombstones carry deleted_expiration');
  const metadata = w.metadata === undefined ? undefined : metadataFromWire(w.metadata, `${field}[${index}].metadata`, violations);
  if (w.metadata !== undefined && metadata === undefined) bad = true;
  if (bad || policy === undefined || typeof cidr === 'string' || version === undefined) return undefined;
  return {
    kind: 'live',
    entry: {
      policy,
      cidr,
      tag: w.tag,
      expiration: w.expiration,
      createdAt: w.createdAt,
      originNode: w.originNode,
      source: 'peer',
      version,
      ...(metadata !== undefined ? { metadata } : {}),
    },
  };
}

/**
 * Node ids and tags repeat across thousands of records: remember the valid ones
 * (bounded, so a peer sending random strings cannot grow it without limit).
 */
const MAX_CACHED = 4096;
const validNodeIds = new Set<string>();
const validTags = new Set<string>();

function checkCached(value: string, cache: Set<string>, check: (v: string) => string | undefined): string | undefined {
  if (cache.has(value)) return undefined;
  const problem = check(value);
  if (problem === undefined) {
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.add(value);
  }
  return problem;
}

function checkNodeIdCached(id: string): string | undefined {
  return checkCached(id, validNodeIds, checkNodeId);
}

function checkTagCached(tag: string): string | undefined {
  return checkCached(tag, validTags, checkTag);
}

function policyOf(policy: Policy): DomainPolicy | undefined {
  if (policy === Policy.POLICY_DROP) return 'drop';
  if (policy === Policy.POLICY_IGNORE) return 'ignore';
  return undefined;
}

function versionFromWire(v: RecordVersion | undefined, add: (name: string, message: string | undefined) => void): Version | undefined {
  if (v === undefined) {
    add('version', 'is required');
    return undefined;
  }
  let ok = true;
  if (!(Number.isSafeInteger(v.wallMs) && v.wallMs > 0)) {
    ok = false;
    add('version.wall_ms', 'must be a positive number of ms since the UNIX epoch');
  }
  if (!(Number.isInteger(v.counter) && v.counter >= 0 && v.counter <= MAX_COUNTER)) {
    ok = false;
    add('version.counter', 'must be a uint32');
  }
  const origin = checkNodeIdCached(v.origin);
  if (origin !== undefined) {
    ok = false;
    add('version.origin', origin);
  }
  return ok ? { wallMs: v.wallMs, counter: v.counter, origin: v.origin } : undefined;
}

function checkSeconds(value: number): string | undefined {
  return Number.isSafeInteger(value) && value >= 0 ? undefined : 'must be a non-negative whole number of UNIX seconds (0 = never/unset)';
}

function metadataFromWire(
  m: WireRecord['metadata'],
  at: string,
  violations: ViolationCollector,
): EntryMetadata | undefined {
  if (m === undefined) return undefined;
  const size = Buffer.byteLength(JSON.stringify(m));
  if (size > MAX_WIRE_METADATA_BYTES) {
    violations.add(at, `must be at most ${MAX_WIRE_METADATA_BYTES} bytes of JSON (got ${size})`);
    return undefined;
  }
  const extra: unknown = m.extra;
  if (extra !== undefined && (typeof extra !== 'object' || extra === null || Array.isArray(extra))) {
    violations.add(`${at}.extra`, 'must be an object');
    return undefined;
  }
  return { kind: m.kind, detail: m.detail, ...(extra !== undefined ? { extra: extra as Record<string, unknown> } : {}) };
}
