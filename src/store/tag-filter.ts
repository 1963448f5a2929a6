// Tag filters of `list -t`: comma-free patterns with '*' wildcards; "untagged"
// selects entries without a tag. Compiled once per request.
export type TagMatcher = (tag: string) => boolean;

export function compileTagFilter(patterns: readonly string[]): TagMatcher {
  const cleaned = patterns.map((p) => p.trim()).filter((p) => p !== '');
  if (cleaned.length === 0) return () => true;
  const matchers = cleaned.map((pattern): TagMatcher => {
    if (pattern.toLowerCase() === 'untagged') return (tag) => tag === '';
    const source = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    const regex = new RegExp(`^${source}$`);
    return (tag) => regex.test(tag);
  });
  return (tag) => matchers.some((m) => m(tag));
}
