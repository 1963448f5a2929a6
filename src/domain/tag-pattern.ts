// Tag patterns of `list -t` / Watch: '*' matches any run of characters, everything
// else matches itself. Matched without regular expressions or backtracking: the
// pattern is split at its stars; the first piece must be a prefix, the last a
// suffix, and each middle piece is taken at its leftmost occurrence after the
// previous one (leftmost is always safe for '*'-only globs). Work is
// O(tag length x pattern length) whatever the pattern, so a pattern such as
// `*a*a*a*a*b` against a long run of "a" costs microseconds, not minutes.

export type TagMatcher = (tag: string) => boolean;

/** Longest tag pattern accepted (a tag is at most 64 characters). */
export const MAX_TAG_PATTERN_LENGTH = 128;
/** Most tag patterns in one request (after splitting at commas). */
export const MAX_TAG_PATTERNS = 64;

/** Compiles one '*' pattern (no commas; "untagged" is not special here). */
export function compileTagPattern(pattern: string): TagMatcher {
  const pieces = pattern.split('*');
  if (pieces.length === 1) return (tag) => tag === pattern;
  const first = pieces[0] as string;
  const last = pieces[pieces.length - 1] as string;
  // Consecutive stars leave empty middle pieces: they match nothing and are dropped.
  const middle = pieces.slice(1, -1).filter((p) => p !== '');
  const minLength = first.length + last.length + middle.reduce((n, p) => n + p.length, 0);
  return (tag) => {
    if (tag.length < minLength || !tag.startsWith(first) || !tag.endsWith(last)) return false;
    let at = first.length;
    const end = tag.length - last.length;
    for (const piece of middle) {
      const found = tag.indexOf(piece, at);
      if (found < 0 || found + piece.length > end) return false;
      at = found + piece.length;
    }
    return true;
  };
}

/** Why a list of tag patterns is refused (too many, too long), or undefined. */
export function checkTagPatterns(patterns: readonly string[]): string | undefined {
  if (patterns.length > MAX_TAG_PATTERNS) return `at most ${MAX_TAG_PATTERNS} patterns (got ${patterns.length})`;
  for (const pattern of patterns) {
    if (pattern.length > MAX_TAG_PATTERN_LENGTH) {
      return `each pattern must be at most ${MAX_TAG_PATTERN_LENGTH} characters (got ${pattern.length})`;
    }
  }
  return undefined;
}
