// JSON output: pretty-printed, one document per command (the formats are listed in
// docs/cli.md and are a stable interface for scripts). Long lists are written element
// by element (writeJsonArray), byte for byte what JSON.stringify(list, null, 2) gives.
import { type TextSink, writeInPieces } from './sink.js';

export function writeJson(sink: TextSink, value: unknown): void {
  sink.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One compact document per line, for streams of snapshots (`stats global --live --json`). */
export function writeJsonLine(sink: TextSink, value: unknown): void {
  sink.write(`${JSON.stringify(value)}\n`);
}

function* arrayLines(items: Iterable<unknown>): Generator<string> {
  let first = true;
  for (const item of items) {
    // JSON.stringify never puts a raw newline inside a value, so indenting lines is exact.
    const text = `  ${JSON.stringify(item, null, 2).replace(/\n/g, '\n  ')}`;
    if (first) {
      yield '[';
      first = false;
    } else {
      yield ',';
    }
    yield text;
  }
  yield first ? '[]' : ']';
}

/** A JSON array of `items`, pretty-printed as writeJson would, written in pieces. */
export async function writeJsonArray(sink: TextSink, items: Iterable<unknown>): Promise<void> {
  // Pieces join lines with "\n"; the "," must end the element's last line instead.
  let pending: string | undefined;
  const lines = function* (): Generator<string> {
    for (const text of arrayLines(items)) {
      if (text === ',') {
        pending = `${pending ?? ''},`;
        continue;
      }
      if (pending !== undefined) yield pending;
      pending = text;
    }
    if (pending !== undefined) yield pending;
  };
  await writeInPieces(sink, lines());
}

/** Identifiers for `-q`, one per line (nothing at all for an empty list). */
export async function writeLines(sink: TextSink, lines: Iterable<string>): Promise<void> {
  await writeInPieces(sink, lines);
}
