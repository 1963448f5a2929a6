// Binary rule keys: the one canonical form of "which rule" (policy + what it matches),
// computed once where a request is decoded and used by every per-rule table (store,
// data plane, indexes) instead of a text key or an object graph.
//
// Layout, KEY_WORDS 32-bit words (KEY_BYTES bytes), little-endian as typed arrays are:
//   byte 0  policy (0 = drop, 1 = ignore)
//   byte 1  kind of target: KIND_IPV4 / KIND_IPV6 prefix (a DNS suffix kind comes next:
//           a new kind byte and its own target bytes, the tables stay as they are)
//   byte 2  prefix length
//   byte 3  0
//   bytes 4..19  target: the masked network address (IPv4: 4 bytes, then zeros)
import { maskBytes, type AddressFamily, type Cidr } from './cidr.js';
import { formatIpv6 } from './ipv6-text.js';
import type { Policy } from './policy.js';

export const KEY_WORDS = 5;
export const KEY_BYTES = KEY_WORDS * 4;
export const KIND_IPV4 = 4;
export const KIND_IPV6 = 6;
const TARGET_OFFSET = 4;

const POLICY_CODE: Record<Policy, number> = { drop: 0, ignore: 1 };
const POLICY_OF_CODE: readonly Policy[] = ['drop', 'ignore'];

export function policyCode(policy: Policy): number {
  return POLICY_CODE[policy];
}

export function policyOfCode(code: number): Policy {
  return POLICY_OF_CODE[code] ?? 'drop';
}

/** Writes the key of (policy, cidr) into `out` at byte offset `at` (KEY_BYTES bytes). */
export function encodeCidrKey(policy: Policy, cidr: Cidr, out: Uint8Array, at = 0): void {
  writeKeyHead(out, at, POLICY_CODE[policy], cidr.family === 4 ? KIND_IPV4 : KIND_IPV6, cidr.prefixLength);
  const bytes = cidr.bytes;
  for (let i = 0; i < 16; i++) out[at + TARGET_OFFSET + i] = i < bytes.length ? (bytes[i] ?? 0) : 0;
}

/** The key of the `length`-bit prefix of `address` (masked), for longest-prefix lookups. */
export function encodePrefixKey(policyCodeValue: number, family: AddressFamily, address: Uint8Array, length: number, out: Uint8Array, at = 0): void {
  writeKeyHead(out, at, policyCodeValue, family === 4 ? KIND_IPV4 : KIND_IPV6, length);
  const whole = length >> 3;
  const rest = length & 7;
  for (let i = 0; i < 16; i++) {
    let b = i < address.length ? (address[i] ?? 0) : 0;
    if (i > whole || (i === whole && rest === 0)) b = 0;
    else if (i === whole) b &= 0xff << (8 - rest);
    out[at + TARGET_OFFSET + i] = b;
  }
}

function writeKeyHead(out: Uint8Array, at: number, policy: number, kind: number, prefixLength: number): void {
  out[at] = policy;
  out[at + 1] = kind;
  out[at + 2] = prefixLength;
  out[at + 3] = 0;
}

export function keyPolicyCode(keys: Uint8Array, at: number): number {
  return keys[at] ?? 0;
}

export function keyFamily(keys: Uint8Array, at: number): AddressFamily {
  return keys[at + 1] === KIND_IPV6 ? 6 : 4;
}

export function keyPrefixLength(keys: Uint8Array, at: number): number {
  return keys[at + 2] ?? 0;
}

/** The Cidr a key names (built at the edges only: API answers, logs, replication messages). */
export function cidrOfKey(keys: Uint8Array, at: number): Cidr {
  const family = keyFamily(keys, at);
  const size = family === 4 ? 4 : 16;
  // A plain Uint8Array copy, whatever the source (a Buffer's slice would share and be a Buffer),
  // filled by a loop: one typed array per key, not a subarray view besides (this runs for
  // every record a snapshot, a listing or a reconciliation materialises).
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = keys[at + TARGET_OFFSET + i] ?? 0;
  const prefixLength = keyPrefixLength(keys, at);
  return { family, bytes, prefixLength, text: `${addressText(family, bytes)}/${prefixLength}` };
}

/** "drop 10.0.0.0/8": the text key (ruleKey) of a binary key. */
export function textKeyOf(keys: Uint8Array, at: number): string {
  const family = keyFamily(keys, at);
  const size = family === 4 ? 4 : 16;
  const bytes = keys.subarray(at + TARGET_OFFSET, at + TARGET_OFFSET + size);
  return `${policyOfCode(keyPolicyCode(keys, at))} ${addressText(family, bytes)}/${keyPrefixLength(keys, at)}`;
}

function addressText(family: AddressFamily, bytes: Uint8Array): string {
  if (family === 4) return `${bytes[0] ?? 0}.${bytes[1] ?? 0}.${bytes[2] ?? 0}.${bytes[3] ?? 0}`;
  let mapped = bytes[10] === 0xff && bytes[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (bytes[i] !== 0) mapped = false;
  if (mapped) return `::ffff:${bytes[12] ?? 0}.${bytes[13] ?? 0}.${bytes[14] ?? 0}.${bytes[15] ?? 0}`;
  return formatIpv6(bytes);
}

/** True when the key's target is exactly `cidr` masked (a sanity helper for tests). */
export function keyMatchesCidr(keys: Uint8Array, at: number, cidr: Cidr): boolean {
  const masked = maskBytes(cidr.bytes, cidr.prefixLength);
  for (let i = 0; i < masked.length; i++) if (keys[at + TARGET_OFFSET + i] !== masked[i]) return false;
  return keyPrefixLength(keys, at) === cidr.prefixLength && keyFamily(keys, at) === cidr.family;
}
