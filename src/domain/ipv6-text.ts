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
  // Written with plain loops and one string built left to right: it runs for every IPv6
  // rule of a batch (canonical text), where arrays, slice/map/join cost more than the rest.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (group(bytes, i) !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && group(bytes, end) === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLength - 1;
      continue;
    }
    if (text.length > 0 && i !== bestStart + bestLength) text += ':';
    text += group(bytes, i).toString(16);
  }
  return text;
}

function group(bytes: Uint8Array, i: number): number {
  return ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0);
}
