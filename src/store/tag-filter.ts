// Tag filters of `list -t`: comma-free patterns with '*' wildcards; "untagged"
// selects entries without a tag. Compiled once per request; matching is linear
// (domain/tag-pattern.ts), so no pattern can stall the walk over all rules.
import { compileTagPattern, type TagMatcher } from '../domain/tag-pattern.js';

export type { TagMatcher } from '../domain/tag-pattern.js';

export function compileTagFilter(patterns: readonly string[]): TagMatcher {
  const cleaned = patterns.map((p) => p.trim()).filter((p) => p !== '');
  if (cleaned.length === 0) return () => true;
  const matchers = cleaned.map((pattern): TagMatcher => {
    if (pattern.toLowerCase() === 'untagged') return (tag) => tag === '';
    return compileTagPattern(pattern);
  });
  return (tag) => matchers.some((m) => m(tag));
}
