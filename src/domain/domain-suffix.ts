// Domain suffixes: the key of a suffix rule (`example.com` matches the name and every
// name below it). Normalised once at the edge so equal suffixes are equal strings:
// lower case, no trailing dot, IDNA labels in their ASCII (punycode) form. Validation
// returns a reason instead of throwing, like tryParseCidr, so callers can report every
// bad field at once. Pure: no I/O.
import { domainToASCII } from 'node:url';
import { InvalidArgumentError } from './errors.js';

export const MAX_LABEL_OCTETS = 63;
export const MAX_NAME_OCTETS = 253;

const LABEL_CHARS = /^[a-z0-9_-]+$/;
const ASCII_ONLY = /^[\x20-\x7e]*$/;

export interface DomainSuffix {
  /** Canonical text, e.g. "xn--bcher-kva.example". */
  readonly text: string;
  /** Labels from the root down: ["example", "xn--bcher-kva"]. */
  readonly labelsFromRoot: readonly string[];
}

/** Normalise and validate; returns the reason when the input is not a valid suffix. */
export function tryParseDomainSuffix(input: string): DomainSuffix | string {
  if (input.length === 0) return 'is empty';
  if (/\s/.test(input)) return 'must not contain whitespace';
  const withoutDot = input.endsWith('.') ? input.slice(0, -1) : input;
  if (withoutDot.length === 0) return 'the root "." is not a suffix';
  if (withoutDot.startsWith('.')) return 'must not start with "."';
  if (withoutDot.includes('..')) return 'has an empty label ("..")';
  const ascii = toAscii(withoutDot);
  if (ascii === undefined) return 'is not a valid internationalised domain name';
  const labels = ascii.split('.');
  for (const label of labels) {
    if (label.length === 0) return 'has an empty label';
    if (label.length > MAX_LABEL_OCTETS) return `label "${truncate(label)}" is longer than ${MAX_LABEL_OCTETS} octets`;
    if (!LABEL_CHARS.test(label)) return `label "${truncate(label)}" may only contain letters, digits, "-" and "_"`;
  }
  if (ascii.length > MAX_NAME_OCTETS) return `is longer than ${MAX_NAME_OCTETS} octets (${ascii.length})`;
  return { text: ascii, labelsFromRoot: labels.reverse() };
}

/** Parse or throw InvalidArgumentError naming `field`. */
export function parseDomainSuffix(input: string, field = 'domain'): DomainSuffix {
  const result = tryParseDomainSuffix(input);
  if (typeof result === 'string') throw InvalidArgumentError.single(field, result);
  return result;
}

/**
 * Plain ASCII names are only lower-cased (node's IDNA mapping would reject the
 * underscores DNS allows in e.g. `_dmarc`); anything else goes through IDNA.
 */
function toAscii(name: string): string | undefined {
  if (ASCII_ONLY.test(name) && !/(^|\.)xn--/i.test(name)) return name.toLowerCase();
  const ascii = domainToASCII(name);
  if (ascii === '') return undefined;
  return ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
}

function truncate(label: string): string {
  return label.length > 20 ? `${label.slice(0, 20)}...` : label;
}

/**
 * Longest-suffix lookup over a set of suffixes: a trie of labels from the root, so a
 * lookup costs one step per label of the name, whatever the number of suffixes.
 */
export class DomainSuffixMatcher<T> {
  private readonly root = new SuffixNode<T>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  set(suffix: DomainSuffix, value: T): void {
    let node = this.root;
    for (const label of suffix.labelsFromRoot) {
      let next = node.children.get(label);
      if (next === undefined) {
        next = new SuffixNode<T>();
        node.children.set(label, next);
      }
      node = next;
    }
    if (!node.hasValue) this.count++;
    node.hasValue = true;
    node.value = value;
  }

  delete(suffix: DomainSuffix): boolean {
    const path: { node: SuffixNode<T>; label: string }[] = [];
    let node = this.root;
    for (const label of suffix.labelsFromRoot) {
      const next = node.children.get(label);
      if (next === undefined) return false;
      path.push({ node, label });
      node = next;
    }
    if (!node.hasValue) return false;
    node.hasValue = false;
    node.value = undefined;
    this.count--;
    // Prune branches left without values.
    for (let i = path.length - 1; i >= 0; i--) {
      const step = path[i];
      if (step === undefined) break;
      const child = step.node.children.get(step.label);
      if (child === undefined || child.hasValue || child.children.size > 0) break;
      step.node.children.delete(step.label);
    }
    return true;
  }

  /** The value of the longest suffix that equals `name` or is a parent of it. */
  longestMatch(name: DomainSuffix): { suffix: string; value: T } | undefined {
    let node = this.root;
    let best: { depth: number; value: T } | undefined;
    const labels = name.labelsFromRoot;
    for (let depth = 0; depth < labels.length; depth++) {
      const next = node.children.get(labels[depth] ?? '');
      if (next === undefined) break;
      node = next;
      if (node.hasValue) best = { depth: depth + 1, value: node.value as T };
    }
    if (best === undefined) return undefined;
    const suffix = labels.slice(0, best.depth).reverse().join('.');
    return { suffix, value: best.value };
  }
}

class SuffixNode<T> {
  readonly children = new Map<string, SuffixNode<T>>();
  hasValue = false;
  value: T | undefined;
}

/** True when `name` equals `suffix` or lies below it (label-wise, not string-wise). */
export function suffixCovers(suffix: DomainSuffix, name: DomainSuffix): boolean {
  const s = suffix.labelsFromRoot;
  const n = name.labelsFromRoot;
  if (s.length > n.length) return false;
  for (let i = 0; i < s.length; i++) if (s[i] !== n[i]) return false;
  return true;
}
