// CIDR parsing and normalisation. Accepts exactly what the reference accepts:
// "ADDR/PREFIX" with PREFIX 1..32 (v4) or 1..128 (v6), no whitespace, no extra
// slashes; the address is masked down to its network address.
import ipaddr from 'ipaddr.js';
import { InvalidArgumentError } from './errors.js';
import { formatIpv6, parsePlainIpv6 } from './ipv6-text.js';
import { quotePrefix } from './validation.js';

/**
 * Longest address or CIDR text accepted, checked before any parsing: the longest
 * valid form ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128") is 49 characters.
 */
export const MAX_CIDR_TEXT_LENGTH = 64;

export type AddressFamily = 4 | 6;

export interface Cidr {
  readonly family: AddressFamily;
  /** Network address, masked: 4 bytes (v4) or 16 bytes (v6). */
  readonly bytes: Uint8Array;
  readonly prefixLength: number;
  /** Canonical text, e.g. "192.168.1.0/24", "2001:db8::/32". */
  readonly text: string;
}

/** A single parsed address (no prefix). */
export interface Address {
  readonly family: AddressFamily;
  readonly bytes: Uint8Array;
  readonly text: string;
}

const PREFIX_DIGITS = /^[0-9]{1,3}$/;
const DOTTED_QUAD = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/;

/**
 * Strict four-part decimal IPv4 (what ipaddr.js's isValidFourPartDecimal accepts),
 * written out because it is the hot path of 100k-rule batches: one regex, no
 * intermediate objects.
 */
function parseDottedQuad(input: string): Uint8Array | undefined {
  const m = DOTTED_QUAD.exec(input);
  if (m === null) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1]);
    if (n > 255) return undefined;
    bytes[i] = n;
  }
  return bytes;
}

/** Parse an address; returns a reason string instead of throwing (for field messages). */
export function tryParseAddress(input: string): Address | string {
  if (input.length === 0) return 'is empty';
  if (input.length > MAX_CIDR_TEXT_LENGTH) return tooLong(input);
  if (/\s/.test(input)) return 'must not contain whitespace';
  const parsed = parseAddressBytes(input);
  if (typeof parsed === 'string') return parsed;
  return { ...parsed, text: formatAddress(parsed.family, parsed.bytes) };
}

/** Family and bytes of an address already checked for emptiness and whitespace. */
function parseAddressBytes(input: string): { family: AddressFamily; bytes: Uint8Array } | string {
  if (input.includes('%')) return 'zone identifiers are not allowed';
  if (input.includes(':')) {
    const plain = input.includes('.') ? undefined : parsePlainIpv6(input);
    if (plain !== undefined) return { family: 6, bytes: plain };
    const hex = embeddedQuadToHex(input);
    if (hex === undefined || !ipaddr.IPv6.isValid(hex)) return `${quotePrefix(input)} is not a valid IPv6 address`;
    return { family: 6, bytes: Uint8Array.from(ipaddr.IPv6.parse(hex).toByteArray()) };
  }
  const bytes = parseDottedQuad(input);
  if (bytes === undefined) return `${quotePrefix(input)} is not a valid IPv4 address`;
  return { family: 4, bytes };
}

/**
 * Rewrites a trailing dotted quad ("::1.2.3.4", "::ffff:1.2.3.4") as two hex groups.
 * ipaddr.js reads any "::a.b.c.d" as IPv4-mapped and accepts leading-zero octets; the
 * quad is parsed here with the same strict rules as a plain IPv4 address instead.
 */
function embeddedQuadToHex(input: string): string | undefined {
  if (!input.includes('.')) return input;
  const cut = input.lastIndexOf(':');
  const quad = parseDottedQuad(input.slice(cut + 1));
  if (quad === undefined) return undefined;
  const hi = (((quad[0] ?? 0) << 8) | (quad[1] ?? 0)).toString(16);
  const lo = (((quad[2] ?? 0) << 8) | (quad[3] ?? 0)).toString(16);
  return `${input.slice(0, cut + 1)}${hi}:${lo}`;
}

export function tryParseCidr(input: string): Cidr | string {
  // The length bound first: no parser, fast or general, walks an oversized input.
  if (input.length > MAX_CIDR_TEXT_LENGTH) return tooLong(input);
  return parseCanonicalCidr(input) ?? parseCidrText(input);
}

/**
 * The hot path of AddRules/DeleteRules batches: "a.b.c.d/n" and plain hex IPv6
 * "x:y::z/n" read character by character straight into the key bytes, with the
 * input reused as the canonical text when it already is (the usual case: no regex
 * match arrays, substrings, mask copies or formatted text per rule). Undefined for
 * anything else, valid or not: parseCidrText then decides (and words the errors).
 */
function parseCanonicalCidr(input: string): Cidr | undefined {
  const slash = input.indexOf('/');
  if (slash <= 0) return undefined;
  const end = input.length;
  // Prefix: 1-3 digits; a leading zero is valid ("/032") but not canonical text.
  let prefixLength = 0;
  if (end - slash - 1 < 1 || end - slash - 1 > 3) return undefined;
  for (let i = slash + 1; i < end; i++) {
    const d = input.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    prefixLength = prefixLength * 10 + d;
  }
  const canonicalPrefix = input.charCodeAt(slash + 1) !== 48;
  const bytes = input.charCodeAt(slash - 1) === 58 || input.indexOf(':') >= 0 ? scanIpv6(input, slash) : scanIpv4(input, slash);
  if (bytes === undefined) return undefined;
  const family: AddressFamily = bytes.length === 4 ? 4 : 6;
  if (prefixLength < 1 || prefixLength > (family === 4 ? 32 : 128)) return undefined;
  const hostBits = maskInPlace(bytes, prefixLength);
  if (family === 4) {
    const text = canonicalPrefix && !hostBits ? input : `${formatAddress(4, bytes)}/${prefixLength}`;
    return { family, bytes, prefixLength, text };
  }
  const address = formatAddress(6, bytes);
  // Reuse the caller's string when equal (one comparison, no second copy kept per rule).
  const text = canonicalPrefix && slash === address.length && input.startsWith(address) ? input : `${address}/${prefixLength}`;
  return { family, bytes, prefixLength, text };
}

/** Strict dotted quad in input[0, end) (no leading zeros, octets <= 255), or undefined. */
function scanIpv4(input: string, end: number): Uint8Array | undefined {
  const bytes = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= end; i++) {
    const c = i === end ? 46 : input.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 3) return undefined;
      bytes[part++] = value;
      value = 0;
      digits = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9 || (digits > 0 && value === 0)) return undefined;
    value = value * 10 + d;
    if (++digits > 3 || value > 255) return undefined;
  }
  return part === 4 ? bytes : undefined;
}

/** Plain hex IPv6 (groups of 1-4 hex digits, at most one "::") in input[0, end), or undefined. */
function scanIpv6(input: string, end: number): Uint8Array | undefined {
  const groups = new Uint16Array(8);
  let count = 0;
  let gapAt = -1;
  let i = 0;
  if (input.charCodeAt(0) === 58) {
    if (input.charCodeAt(1) !== 58) return undefined;
    gapAt = 0;
    i = 2;
  }
  while (i < end) {
    let value = 0;
    let digits = 0;
    for (; i < end; i++) {
      const c = input.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      value = (value << 4) | d;
      if (++digits > 4) return undefined;
    }
    if (digits === 0 || count === 8) return undefined;
    groups[count++] = value;
    if (i === end) break;
    if (input.charCodeAt(i) !== 58) return undefined;
    i++;
    if (input.charCodeAt(i) === 58) {
      if (gapAt >= 0) return undefined;
      gapAt = count;
      i++;
    } else if (i === end) return undefined;
  }
  // Without "::" exactly 8 groups; with it, it stands for at least one zero group.
  if (gapAt < 0 ? count !== 8 : count > 7) return undefined;
  const bytes = new Uint8Array(16);
  const tail = gapAt < 0 ? 0 : count - gapAt;
  for (let g = 0; g < count; g++) {
    const at = gapAt >= 0 && g >= gapAt ? 8 - tail + (g - gapAt) : g;
    bytes[2 * at] = (groups[g] ?? 0) >> 8;
    bytes[2 * at + 1] = (groups[g] ?? 0) & 0xff;
  }
  return bytes;
}

/** Zeroes the bits past the prefix; true when any was set (the text was not the network address). */
function maskInPlace(bytes: Uint8Array, prefixLength: number): boolean {
  let changed = false;
  const whole = prefixLength >> 3;
  const rest = prefixLength & 7;
  for (let i = whole; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    const kept = i === whole && rest !== 0 ? b & (0xff << (8 - rest)) : 0;
    if (kept !== b) {
      bytes[i] = kept;
      changed = true;
    }
  }
  return changed;
}

/** The general parser behind tryParseCidr (every accepted form, every error message); exported for the equivalence test. */
export function parseCidrText(input: string): Cidr | string {
  if (input.length === 0) return 'is empty';
  if (input.length > MAX_CIDR_TEXT_LENGTH) return tooLong(input);
  if (/\s/.test(input)) return 'must not contain whitespace';
  const parts = input.split('/');
  if (parts.length === 1) return 'missing prefix length (expected ADDRESS/PREFIX)';
  if (parts.length > 2) return 'too many "/" (expected ADDRESS/PREFIX)';
  const [addressText = '', prefixText = ''] = parts;
  if (addressText.length === 0) return 'is empty';
  const address = parseAddressBytes(addressText);
  if (typeof address === 'string') return address;
  if (!PREFIX_DIGITS.test(prefixText)) return `prefix length ${quotePrefix(prefixText)} is not a number`;
  const prefixLength = Number(prefixText);
  const max = address.family === 4 ? 32 : 128;
  if (prefixLength < 1 || prefixLength > max) {
    return `prefix length ${prefixLength} is out of range 1-${max} for IPv${address.family}`;
  }
  const bytes = maskBytes(address.bytes, prefixLength);
  return {
    family: address.family,
    bytes,
    prefixLength,
    text: `${formatAddress(address.family, bytes)}/${prefixLength}`,
  };
}

/** Parse or throw InvalidArgumentError naming `field`. */
export function parseCidr(input: string, field = 'cidr'): Cidr {
  const result = tryParseCidr(input);
  if (typeof result === 'string') throw InvalidArgumentError.single(field, result);
  return result;
}

export function parseAddress(input: string, field = 'address'): Address {
  const result = tryParseAddress(input);
  if (typeof result === 'string') throw InvalidArgumentError.single(field, result);
  return result;
}

export function maskBytes(bytes: Uint8Array, prefixLength: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const whole = prefixLength >> 3;
  for (let i = 0; i < whole; i++) out[i] = bytes[i] ?? 0;
  const rest = prefixLength & 7;
  if (rest !== 0 && whole < bytes.length) out[whole] = (bytes[whole] ?? 0) & (0xff << (8 - rest));
  return out;
}

/** True when `address` lies inside `cidr`. */
export function cidrContains(cidr: Cidr, address: Address): boolean {
  if (cidr.family !== address.family) return false;
  const masked = maskBytes(address.bytes, cidr.prefixLength);
  return masked.every((b, i) => b === cidr.bytes[i]);
}

function formatAddress(family: AddressFamily, bytes: Uint8Array): string {
  if (family === 4) return `${bytes[0] ?? 0}.${bytes[1] ?? 0}.${bytes[2] ?? 0}.${bytes[3] ?? 0}`;
  // Keep the familiar dotted form for IPv4-mapped addresses (RFC 5952 section 5).
  if (isIpv4Mapped(bytes)) return `::ffff:${bytes[12] ?? 0}.${bytes[13] ?? 0}.${bytes[14] ?? 0}.${bytes[15] ?? 0}`;
  return formatIpv6(bytes);
}

function isIpv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Display order: IPv4 before IPv6, then by network address, then shorter prefix first. */
export function compareCidrs(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  for (let i = 0; i < a.bytes.length; i++) {
    const diff = (a.bytes[i] ?? 0) - (b.bytes[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return a.prefixLength - b.prefixLength;
}

function tooLong(input: string): string {
  return `must be at most ${MAX_CIDR_TEXT_LENGTH} characters (got ${input.length}: ${quotePrefix(input)})`;
}
