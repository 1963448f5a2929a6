// Compact, versioned on-disk records for rule entries and store changes, shared by the
// journal and the snapshot. Short keys keep a 262k-entry snapshot small; decoding
// re-validates everything (the disk is input like any other) and re-parses the CIDR so
// a record written by an older normaliser comes back canonical.
import { tryParseCidr } from '../domain/cidr.js';
import type { EntryMetadata, EntrySource, RuleEntry } from '../domain/entry.js';
import { isPolicy, type Policy } from '../domain/policy.js';
import type { PersistedChange } from './persistence.js';

/** Version of the record shapes below; written in every journal and snapshot header. */
export const CODEC_VERSION = 1;

export interface MetadataRecord {
  readonly kind: string;
  readonly detail: string;
  readonly extra?: Record<string, unknown>;
}

/** A RuleEntry on disk: p=policy, c=cidr text, t=tag, e=expiration, a=createdAt, n=origin node, s=source, m=metadata. */
export interface EntryRecord {
  readonly p: Policy;
  readonly c: string;
  readonly t: string;
  readonly e: number;
  readonly a: number;
  readonly n: string;
  readonly s: EntrySource;
  readonly m?: MetadataRecord;
}

export type ChangeRecord =
  | ({ readonly o: 'p' } & EntryRecord)
  | { readonly o: 'd'; readonly p: Policy; readonly c: string };

const SOURCES: readonly string[] = ['api', 'set', 'peer'] satisfies readonly EntrySource[];

export function encodeEntry(entry: RuleEntry): EntryRecord {
  const record: EntryRecord = {
    p: entry.policy,
    c: entry.cidr.text,
    t: entry.tag,
    e: entry.expiration,
    a: entry.createdAt,
    n: entry.originNode,
    s: entry.source,
  };
  return entry.metadata === undefined ? record : { ...record, m: encodeMetadata(entry.metadata) };
}

export function encodeChange(change: PersistedChange): ChangeRecord {
  if (change.op === 'put') return { o: 'p', ...encodeEntry(change.entry) };
  return { o: 'd', p: change.policy, c: change.cidr.text };
}

/** The entry, or the reason the record is not a valid entry. */
export function decodeEntry(value: unknown): RuleEntry | string {
  if (!isObject(value)) return 'record is not an object';
  const policy = value['p'];
  if (typeof policy !== 'string' || !isPolicy(policy)) return 'p (policy) must be "drop" or "ignore"';
  const cidrText = value['c'];
  if (typeof cidrText !== 'string') return 'c (cidr) must be a string';
  const cidr = tryParseCidr(cidrText);
  if (typeof cidr === 'string') return `c (cidr) ${cidr}`;
  const tag = value['t'];
  if (typeof tag !== 'string') return 't (tag) must be a string';
  const expiration = value['e'];
  if (!isUnixSeconds(expiration)) return 'e (expiration) must be a non-negative whole number';
  const createdAt = value['a'];
  if (!isUnixSeconds(createdAt)) return 'a (createdAt) must be a non-negative whole number';
  const originNode = value['n'];
  if (typeof originNode !== 'string') return 'n (origin node) must be a string';
  const source = value['s'];
  if (typeof source !== 'string' || !SOURCES.includes(source)) return 's (source) must be api, set or peer';
  const entry: RuleEntry = {
    policy,
    cidr,
    tag,
    expiration,
    createdAt,
    originNode,
    source: source as EntrySource,
  };
  if (value['m'] === undefined) return entry;
  const metadata = decodeMetadata(value['m']);
  if (typeof metadata === 'string') return metadata;
  return { ...entry, metadata };
}

/** The change, or the reason the record is not a valid change. */
export function decodeChange(value: unknown): PersistedChange | string {
  if (!isObject(value)) return 'record is not an object';
  const op = value['o'];
  if (op === 'p') {
    const entry = decodeEntry(value);
    return typeof entry === 'string' ? entry : { op: 'put', entry };
  }
  if (op !== 'd') return 'o (operation) must be "p" or "d"';
  const policy = value['p'];
  if (typeof policy !== 'string' || !isPolicy(policy)) return 'p (policy) must be "drop" or "ignore"';
  const cidrText = value['c'];
  if (typeof cidrText !== 'string') return 'c (cidr) must be a string';
  const cidr = tryParseCidr(cidrText);
  if (typeof cidr === 'string') return `c (cidr) ${cidr}`;
  return { op: 'delete', policy, cidr };
}

function encodeMetadata(metadata: EntryMetadata): MetadataRecord {
  const { kind, detail, extra } = metadata;
  return extra === undefined ? { kind, detail } : { kind, detail, extra };
}

function decodeMetadata(value: unknown): EntryMetadata | string {
  if (!isObject(value)) return 'm (metadata) must be an object';
  const kind = value['kind'];
  const detail = value['detail'];
  const extra = value['extra'];
  if (typeof kind !== 'string') return 'm.kind must be a string';
  if (typeof detail !== 'string') return 'm.detail must be a string';
  if (extra === undefined) return { kind, detail };
  if (!isObject(extra)) return 'm.extra must be an object';
  return { kind, detail, extra };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUnixSeconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
