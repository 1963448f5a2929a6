import test from 'ava';
import { formatWatchCursor, parseWatchCursor } from '../../../src/replication/watch/watch-cursor.js';

test('a cursor round-trips', (t) => {
  const cursor = { feedId: '9f1c2e0a5b7d3c4e', seq: 1234, expiredThrough: 1_700_000_000 };
  const text = formatWatchCursor(cursor);
  t.is(text, '9f1c2e0a5b7d3c4e:1234@1700000000');
  t.deepEqual(parseWatchCursor(text), cursor);
});

test('garbage is not a cursor', (t) => {
  for (const text of ['', 'abc', 'abc:12', ':12@3', 'abc:@3', 'abc:12@', 'abc:12@x', 'abc:-1@3', '@5', 'abc:1e3@4']) {
    t.is(parseWatchCursor(text), undefined, text);
  }
});
