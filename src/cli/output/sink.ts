// Where couicctl writes, and how big outputs are written: in pieces of ~64 KiB, waiting
// for 'drain' when the stream says its buffer is full, so `drop list` of 589,824
// rules neither builds one huge string nor queues all of it in memory.
export interface TextSink {
  /** false = buffer full, wait for 'drain' (Node's Writable contract). */
  write(text: string): unknown;
  /** Present on real streams; fakes without it are written to without waiting. */
  once?(event: 'drain', listener: () => void): unknown;
}

const PIECE_CHARS = 64 * 1024;

async function writeWaiting(sink: TextSink, text: string): Promise<void> {
  if (sink.write(text) === false && sink.once !== undefined) {
    const once = sink.once.bind(sink);
    await new Promise<void>((resolve) => {
      once('drain', resolve);
    });
  }
}

/** Writes each line followed by "\n", grouped into pieces. */
export async function writeInPieces(sink: TextSink, lines: Iterable<string>): Promise<void> {
  let piece: string[] = [];
  let size = 0;
  for (const text of lines) {
    piece.push(text);
    size += text.length + 1;
    if (size >= PIECE_CHARS) {
      await writeWaiting(sink, `${piece.join('\n')}\n`);
      piece = [];
      size = 0;
    }
  }
  if (piece.length > 0) await writeWaiting(sink, `${piece.join('\n')}\n`);
}
