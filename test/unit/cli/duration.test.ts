// Remaining-time formatting and the `-e` duration parser.
import test from 'ava';
import fc from 'fast-check';
import { expirationFromDuration, formatDuration, formatRemaining, parseDuration } from '../../../src/cli/output/duration.js';
import { InvalidArgumentError } from '../../../src/domain/errors.js';

test('formatDuration keeps the two most significant units', (t) => {
  const cases: [number, string][] = [
    [0, '0s'],
    [1, '1s'],
    [59, '59s'],
    [60, '1m'],
    [61, '1m 1s'],
    [252, '4m 12s'],
    [3599, '59m 59s'],
    [3600, '1h'],
    [3720, '1h 2m'],
    [3725, '1h 2m'],
    [3605, '1h'],
    [86_399, '23h 59m'],
    [86_400, '1d'],
    [97_200 + 86_400, '2d 3h'],
    [86_400 + 59, '1d'],
    [400 * 86_400, '400d'],
  ];
  for (const [seconds, text] of cases) t.is(formatDuration(seconds), text, `${seconds}s`);
});

test('formatRemaining: never, rounded-down remaining time, expired', (t) => {
  const now = 1_700_000_000_400;
  const nowS = Math.floor(now / 1000);
  t.is(formatRemaining(0, now), 'never');
  t.is(formatRemaining(nowS + 60, now), '59s'); // the walkthrough's `-e 1m` a moment later
  t.is(formatRemaining(nowS + 253, now), '4m 12s');
  t.is(formatRemaining(nowS + 3600 + 125, now), '1h 2m');
  t.is(formatRemaining(nowS + 1, now), 'expired'); // under a second left
  t.is(formatRemaining(nowS - 10, now), 'expired');
});

test('parseDuration accepts the documented forms', (t) => {
  t.is(parseDuration('30s'), 30);
  t.is(parseDuration('1m'), 60);
  t.is(parseDuration('2h'), 7200);
  t.is(parseDuration('1d'), 86_400);
  t.is(parseDuration('5'), 300); // bare number = minutes
  t.is(parseDuration('1h30m'), 5400);
  t.is(parseDuration('1d2h3m4s'), 93_784);
  t.is(parseDuration('90S'), 90); // case-insensitive
  t.is(parseDuration(' 2m '), 120);
});

test('parseDuration rejects bad durations with a message naming the option', (t) => {
  for (const bad of ['', 'abc', '1x', '-5', '1.5h', '1 h', 'm', '5m-', '1h 30m', '0', '0s', '0m0s', '9'.repeat(400)]) {
    const error = t.throws(() => parseDuration(bad, '-e'), { instanceOf: InvalidArgumentError }, bad);
    t.true(error?.message.startsWith('-e: '), error?.message);
  }
  t.regex(t.throws(() => parseDuration('1x'))?.message ?? '', /30s, 1m, 2h, 1d/);
  t.regex(t.throws(() => parseDuration('0'))?.message ?? '', /leave -e out/);
});

test('expirationFromDuration: absolute seconds from now, 0 without -e', (t) => {
  const now = 1_700_000_000_900;
  t.is(expirationFromDuration(undefined, now), 0);
  t.is(expirationFromDuration('1m', now), 1_700_000_060);
  t.is(expirationFromDuration('10', now), 1_700_000_600);
});

test('any parsed duration formats back to at most two units and is never empty', (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.constantFrom('s', 'm', 'h', 'd'), (n, unit) => {
        const seconds = parseDuration(`${n}${unit}`);
        const text = formatDuration(seconds);
        return seconds > 0 && /^\d+[smhd]( \d+[smhd])?$/.test(text);
      }),
    ),
  );
});
