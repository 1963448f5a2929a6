// JSON output: pretty-printed, one document per command (the formats are listed in
// docs/cli.md and are a stable interface for scripts).
import type { TextSink } from '../context.js';

export function writeJson(sink: TextSink, value: unknown): void {
  sink.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One compact document per line, for streams of snapshots (`stats global --live --json`). */
export function writeJsonLine(sink: TextSink, value: unknown): void {
  sink.write(`${JSON.stringify(value)}\n`);
}

/** Identifiers for `-q`, one per line (nothing at all for an empty list). */
export function writeLines(sink: TextSink, lines: readonly string[]): void {
  if (lines.length > 0) sink.write(`${lines.join('\n')}\n`);
}
