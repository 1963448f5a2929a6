// Validation of names, tags and expirations. Each check returns the reason a value is
// wrong (or undefined), so callers can report every bad field in one error.

const NAME_CHARS = /^[A-Za-z0-9_-]+$/;
export const MAX_TAG_LENGTH = 64;
export const MAX_NAME_LENGTH = 48;
/** Suffix reserved for the tags of static-set entries. */
export const SET_TAG_SUFFIX = '.couic';

/** How many characters of a refused input an error message quotes. */
export const QUOTED_PREFIX_LENGTH = 40;

/**
 * `input` quoted for an error message: at most QUOTED_PREFIX_LENGTH characters, then
 * "..." and the full length. Messages travel in gRPC trailers; echoing a 100 kB value
 * would make the message itself a problem (and the logs a copy of the attack).
 */
export function quotePrefix(input: string): string {
  if (input.length <= QUOTED_PREFIX_LENGTH) return JSON.stringify(input);
  return `${JSON.stringify(input.slice(0, QUOTED_PREFIX_LENGTH))}... (${input.length} characters)`;
}

export function checkTag(tag: string): string | undefined {
  if (tag === '') return undefined;
  if (tag.length > MAX_TAG_LENGTH) return `must be at most ${MAX_TAG_LENGTH} characters (got ${tag.length})`;
  if (tag.toLowerCase().endsWith(SET_TAG_SUFFIX)) return `must not end in "${SET_TAG_SUFFIX}" (reserved for sets)`;
  if (!NAME_CHARS.test(tag)) return 'may only contain letters, digits, "_" and "-"';
  if (tag.toLowerCase() === 'untagged') return '"untagged" is reserved';
  return undefined;
}

/** Client and set names: 1-48 characters of [A-Za-z0-9_-]. */
export function checkName(name: string): string | undefined {
  if (name === '') return 'is required';
  if (name.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters (got ${name.length})`;
  if (!NAME_CHARS.test(name)) return 'may only contain letters, digits, "_" and "-"';
  return undefined;
}

/** Expiration is absolute UNIX seconds in the future, or 0 for never. */
export function checkExpiration(expiration: number, nowSeconds: number): string | undefined {
  if (!Number.isSafeInteger(expiration)) return 'must be a whole number of UNIX seconds';
  if (expiration === 0) return undefined;
  if (expiration < 0) return 'must not be negative (0 means never)';
  if (expiration <= nowSeconds) return `must be in the future (got ${expiration}, now is ${nowSeconds})`;
  return undefined;
}

/** Tag used for the entries of a static set file. */
export function setTag(setName: string): string {
  return `${setName}${SET_TAG_SUFFIX}`;
}
