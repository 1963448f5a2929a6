// Relative durations as couicctl shows and accepts them: remaining time is printed
// like `59s`, `4m 12s`, `1h 2m`, `2d 3h` or `never`; `-e` takes `30s`, `1m`, `2h`,
// `1d` (or combinations like `1h30m`), a bare number meaning minutes.
import { InvalidArgumentError } from '../../domain/errors.js';

const UNIT_SECONDS = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;
type Unit = keyof typeof UNIT_SECONDS;
const UNITS: readonly Unit[] = ['d', 'h', 'm', 's'];

/** A duration in seconds as its two most significant non-zero units, e.g. `4m 12s`, `2d`. */
export function formatDuration(totalSeconds: number): string {
  let rest = Math.max(0, Math.floor(totalSeconds));
  if (rest === 0) return '0s';
  const parts: string[] = [];
  for (const unit of UNITS) {
    const size = UNIT_SECONDS[unit];
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0 || parts.length > 0) parts.push(`${count}${unit}`);
    if (parts.length === 2) break;
  }
  // "1h 0m" reads worse than "1h": drop a trailing zero unit.
  if (parts.length === 2 && parts[1]?.startsWith('0')) parts.pop();
  return parts.join(' ');
}

/**
 * Time left before an absolute expiration (UNIX seconds, 0 = never), measured from
 * `nowMs` and rounded down: a rule added with `-e 1m` shows `59s` a moment later.
 */
export function formatRemaining(expirationSeconds: number, nowMs: number): string {
  if (expirationSeconds === 0) return 'never';
  const remainingMs = expirationSeconds * 1000 - nowMs;
  if (remainingMs < 1000) return 'expired';
  return formatDuration(remainingMs / 1000);
}

const BARE_MINUTES = /^\d+$/;
const WITH_UNITS = /^(?:\d+[smhd])+$/;
const ONE_PART = /(\d+)([smhd])/g;

/** Parses a `-e` duration into seconds; throws InvalidArgumentError naming `field`. */
export function parseDuration(text: string, field = 'expiration'): number {
  const value = text.trim().toLowerCase();
  const expected = 'expected a duration like 30s, 1m, 2h, 1d or 1h30m (a bare number means minutes)';
  let seconds: number;
  if (BARE_MINUTES.test(value)) {
    seconds = Number(value) * 60;
  } else if (WITH_UNITS.test(value)) {
    seconds = 0;
    for (const match of value.matchAll(ONE_PART)) {
      seconds += Number(match[1]) * UNIT_SECONDS[match[2] as Unit];
    }
  } else {
    throw InvalidArgumentError.single(field, `"${text}" is not a duration: ${expected}`);
  }
  if (!Number.isSafeInteger(seconds)) throw InvalidArgumentError.single(field, `"${text}" is too large`);
  if (seconds === 0) {
    throw InvalidArgumentError.single(field, `"${text}" must be longer than zero (leave -e out for a rule that never expires)`);
  }
  return seconds;
}

/** The absolute expiration (UNIX seconds) a `-e` duration means at `nowMs`; undefined -> 0 (never). */
export function expirationFromDuration(text: string | undefined, nowMs: number): number {
  if (text === undefined) return 0;
  return Math.floor(nowMs / 1000) + parseDuration(text, '-e');
}
