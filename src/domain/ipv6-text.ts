// The common IPv6 text forms, read and written without ipaddr.js: hex groups with at
// most one "::", and RFC 5952 output. Parsing CIDRs is the largest single cost of a
// busy node (every API rule and every replicated record), and ipaddr.js builds several
// objects per address. Anything outside this plain form (embedded dotted quads, zone
// ids, odd input) returns undefined and the caller falls back to ipaddr.js, so this
// accepts a strict subset of what ipaddr.js accepts, with the same bytes (tested).

const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

/** 16 bytes for "a:b::c"-style text, or undefined when the text is not in that plain form. */
export function parsePlainIpv6(text: string): Uint8Array | undefined {
  const gap = text.indexOf('::');
  if (gap !== text.lastIndexOf('::')) return undefined;
  let head: string[];
  let tail: string[];
  if (gap === -1) {
    head = text.split(':');
    tail = [];
    if (head.length !== 8) return undefined;
  } else {
    const before = text.slice(0, gap);
    const after = text.slice(gap + 2);
    head = before === '' ? [] : before.split(':');
    tail = after === '' ? [] : after.split(':');
    // "::" stands for at least one zero group.
    if (head.length + tail.length > 7) return undefined;
  }
  const bytes = new Uint8Array(16);
  const put = (group: string, index: number): boolean => {
    if (!HEX_GROUP.test(group)) return false;
    const value = parseInt(group, 16);
    bytes[2 * index] = value >> 8;
    bytes[2 * index + 1] = value & 0xff;
    return true;
  };
  for (let i = 0; i < head.length; i++) if (!put(head[i] as string, i)) return undefined;
  for (let i = 0; i < tail.length; i++) if (!put(tail[i] as string, 8 - tail.length + i)) return undefined;
  return bytes;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (first on a tie) of 2+ zero groups as "::". */
export function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = (from: number, to: number): string =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}
