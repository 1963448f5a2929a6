// Watch cursors: the change-feed cursor (feed id + sequence) plus how far entry expiry
// had been delivered, so a client that resumes also learns which of its entries
// expired while it was away (expiry is not a record change, the feed never sees it).
import { formatCursor, parseCursor } from '../core/change-feed.js';

export interface WatchCursor {
  readonly feedId: string;
  readonly seq: number;
  /** Every entry expiring at or before this UNIX second had been reported. */
  readonly expiredThrough: number;
}

export function formatWatchCursor(cursor: WatchCursor): string {
  return `${formatCursor(cursor.feedId, cursor.seq)}@${cursor.expiredThrough}`;
}

/** Undefined when the text is not a watch cursor (the caller then sends a snapshot). */
export function parseWatchCursor(text: string): WatchCursor | undefined {
  const at = text.lastIndexOf('@');
  if (at <= 0) return undefined;
  const through = text.slice(at + 1);
  if (!/^[0-9]{1,12}$/.test(through)) return undefined;
  const feed = parseCursor(text.slice(0, at));
  if (feed === undefined) return undefined;
  return { feedId: feed.feedId, seq: feed.seq, expiredThrough: Number(through) };
}
