// Names, sizes and byte layouts of the XDP program's maps: the TypeScript mirror of
// bpf/couic.h (keep both in step). LPM keys are {u32 prefixlen (host order), addr}.
import type { AddressFamily, Cidr } from '../../domain/cidr.js';
import type { Policy } from '../../domain/policy.js';

export const XDP_PROGRAM = 'couic_xdp';
export const PASS_PROGRAM = 'xdp_pass';

export const RULE_MAPS: Readonly<Record<Policy, Readonly<Record<AddressFamily, string>>>> = {
  drop: { 4: 'drop_v4', 6: 'drop_v6' },
  ignore: { 4: 'ignore_v4', 6: 'ignore_v6' },
};
export const ACTION_STATS_MAP = 'xdp_stats';
export const TAG_STATS_MAPS: Readonly<Record<Policy, string>> = { drop: 'drop_tags', ignore: 'ignore_tags' };
export const TAG_NAMES_MAP = 'tag_names';
/** One value, struct couic_empty_tries: which tries the program may skip. */
export const EMPTY_TRIES_MAP = 'empty_tries';
/** Field order of struct couic_empty_tries (one u32 each). */
export const EMPTY_TRIES_FIELDS: readonly { readonly policy: Policy; readonly family: AddressFamily }[] = [
  { policy: 'drop', family: 4 },
  { policy: 'drop', family: 6 },
  { policy: 'ignore', family: 4 },
  { policy: 'ignore', family: 6 },
];

/** Every map of the program; all are pinned. */
export const ALL_MAPS = [
  RULE_MAPS.drop[4],
  RULE_MAPS.drop[6],
  RULE_MAPS.ignore[4],
  RULE_MAPS.ignore[6],
  ACTION_STATS_MAP,
  TAG_STATS_MAPS.drop,
  TAG_STATS_MAPS.ignore,
  TAG_NAMES_MAP,
  EMPTY_TRIES_MAP,
] as const;

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
