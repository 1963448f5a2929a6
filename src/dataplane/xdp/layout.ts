// Names, sizes and byte layouts of the XDP program's maps: the TypeScript mirror of
// bpf/couic.h (keep both in step). LPM keys (the previous layout's tries, and
// v6_long) are {u32 prefixlen (host order), addr}.
import type { AddressFamily, Cidr } from '../../domain/cidr.js';
import type { Policy } from '../../domain/policy.js';

export const XDP_PROGRAM = 'couic_xdp';
export const PASS_PROGRAM = 'xdp_pass';

export const ACTION_STATS_MAP = 'xdp_stats';
export const TAG_STATS_MAPS: Readonly<Record<Policy, string>> = { drop: 'drop_tags', ignore: 'ignore_tags' };
export const TAG_NAMES_MAP = 'tag_names';
/** The compiled tables (bpf/couic.h). */
export const TABLE_MAPS = { v4Top: 'v4_top', v4Blocks: 'v4_blocks', v6Top: 'v6_top', v6Long: 'v6_long', v6Lengths: 'v6_lengths' } as const;
export const RULE_RECORD_MAP = 'rule_record';

/** Every map of the program; all are pinned. */
export const ALL_MAPS = [
  ...Object.values(TABLE_MAPS),
  RULE_RECORD_MAP,
  ACTION_STATS_MAP,
  TAG_STATS_MAPS.drop,
  TAG_STATS_MAPS.ignore,
  TAG_NAMES_MAP,
] as const;

/** The previous layout's LPM tries (bpf/couic-lpm.bpf.c): read once at upgrade, then unpinned. */
export const LEGACY_RULE_MAPS: Readonly<Record<Policy, Readonly<Record<AddressFamily, string>>>> = {
  drop: { 4: 'drop_v4', 6: 'drop_v6' },
  ignore: { 4: 'ignore_v4', 6: 'ignore_v6' },
};
/** The previous layout's maps that this one does not have. */
export const LEGACY_ONLY_MAPS = ['drop_v4', 'drop_v6', 'ignore_v4', 'ignore_v6', 'empty_tries'] as const;
/** Alias kept for tools and tests that fill LPM tries of the previous layout. */
export const RULE_MAPS = LEGACY_RULE_MAPS;

export const TOP_ROWS = 65_536;
export const ROW_BYTES = 1024;
export const BLOCK_BYTES = 512;
export const V4_BLOCKS = 262_144 + 65_536;
/** Prefixes longer than /24 the compiler admits (v6_long holds 2^21 entries for them). */
export const V6_LONG_ENTRIES = 262_144 + 65_536;
export const V6_LENGTHS_BYTES = 104;
export const V6_LENGTH_SETS = 4096;
export const RULE_RECORD_KEY_SIZE = 20;

/** rule_record key: policy (0 drop, 1 ignore), family, prefix length, pad, address (16 bytes). */
export function encodeRecordKey(policy: Policy, cidr: Cidr): Buffer {
  const key = Buffer.alloc(RULE_RECORD_KEY_SIZE);
  key[0] = policy === 'drop' ? 0 : 1;
  key[1] = cidr.family;
  key[2] = cidr.prefixLength;
  key.set(cidr.bytes, 4);
  return key;
}

export function decodeRecordKey(key: Uint8Array): { policy: Policy; family: AddressFamily; prefixLength: number; bytes: Uint8Array } | undefined {
  const policy = key[0] === 0 ? 'drop' : key[0] === 1 ? 'ignore' : undefined;
  const family = key[1] === 4 ? 4 : key[1] === 6 ? 6 : undefined;
  const prefixLength = key[2] ?? 0;
  if (policy === undefined || family === undefined || prefixLength < 1 || prefixLength > (family === 4 ? 32 : 128)) return undefined;
  return { policy, family, prefixLength, bytes: Uint8Array.from(key.subarray(4, 4 + (family === 4 ? 4 : 16))) };
}

export const MAX_ENTRIES: Readonly<Record<Policy, number>> = { drop: 262_144, ignore: 65_536 };
export const TAG_SLOTS = 256;
export const TAG_UNTAGGED = 0;
export const TAG_UNTRACKED = 255;
export const TAG_NAME_LEN = 80;
/** How the untracked slot is reported: a name no real tag can have. */
export const UNTRACKED_TAG_NAME = '(untracked)';

export const RULE_VALUE_SIZE = 4;
export const COUNTER_SIZE = 16;
export const ARRAY_KEY_SIZE = 4;

export function keySize(family: AddressFamily): number {
  return family === 4 ? 8 : 20;
}

export function writeKey(cidr: Cidr, target: Uint8Array, offset = 0): void {
  const view = new DataView(target.buffer, target.byteOffset + offset, keySize(cidr.family));
  view.setUint32(0, cidr.prefixLength, true);
  target.set(cidr.bytes, offset + 4);
}

export function encodeKey(cidr: Cidr): Buffer {
  const key = Buffer.alloc(keySize(cidr.family));
  writeKey(cidr, key);
  return key;
}

export function encodeRuleValue(slot: number): Buffer {
  const value = Buffer.alloc(RULE_VALUE_SIZE);
  value.writeUInt32LE(slot, 0);
  return value;
}

export function arrayKey(index: number): Buffer {
  const key = Buffer.alloc(ARRAY_KEY_SIZE);
  key.writeUInt32LE(index, 0);
  return key;
}
