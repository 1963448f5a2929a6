// Renders tables in the reference couicctl look (comfy-table's UTF8_FULL preset): a
// double rule under the header, dashed rules between rows. Users compare our output
// with the reference walkthroughs character by character, so this is hand-written.
// Column widths come from one pass over the rows (a loop: a list holds up to 589,824
// rules, too many to spread into Math.max), and big tables are written in pieces
// (writeTable) rather than as one string.
import { type TextSink, writeInPieces } from './sink.js';

export interface TableOptions {
  /** Minimum content width per column (the reference pads some tables wider than their content). */
  minWidths?: readonly number[];
}

const ASCII = /^[\x20-\x7e]*$/;

/** Width of a cell in terminal columns; our cells are ASCII (code points otherwise). */
function cellWidth(text: string): number {
  if (ASCII.test(text)) return text.length;
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

function rule(widths: readonly number[], left: string, fill: string, cross: string, right: string): string {
  return left + widths.map((w) => fill.repeat(w + 2)).join(cross) + right;
}

function line(cells: readonly string[], widths: readonly number[]): string {
  const padded = widths.map((w, i) => {
    const text = cells[i] ?? '';
    return ` ${text}${' '.repeat(w - cellWidth(text))} `;
  });
  return `│${padded.join('┆')}│`;
}

/** Content width of each column: the widest of header, minimum and every cell. */
export function columnWidths(headers: readonly string[], rows: Iterable<readonly string[]>, options: TableOptions = {}): number[] {
  const widths = headers.map((header, i) => Math.max(cellWidth(header), options.minWidths?.[i] ?? 0));
  for (const row of rows) {
    for (let i = 0; i < widths.length; i++) {
      const width = cellWidth(row[i] ?? '');
      if (width > (widths[i] ?? 0)) widths[i] = width;
    }
  }
  return widths;
}

/** The table's lines (without "\n"), one at a time. */
export function* tableLines(headers: readonly string[], rows: readonly (readonly string[])[], widths: readonly number[]): Generator<string> {
  yield rule(widths, '┌', '─', '┬', '┐');
  yield line(headers, widths);
  if (rows.length > 0) yield rule(widths, '╞', '═', '╪', '╡');
  const between = rule(widths, '├', '╌', '┼', '┤');
  for (let i = 0; i < rows.length; i++) {
    if (i > 0) yield between;
    yield line(rows[i] ?? [], widths);
  }
  yield rule(widths, '└', '─', '┴', '┘');
}

/** The whole table, one line per string element joined with "\n", ending with "\n" (small tables). */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[], options: TableOptions = {}): string {
  const out: string[] = [];
  for (const text of tableLines(headers, rows, columnWidths(headers, rows, options))) out.push(text);
  return `${out.join('\n')}\n`;
}

/** Writes the table to `sink` in pieces, waiting for the sink to drain between them. */
export async function writeTable(
  sink: TextSink,
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  options: TableOptions = {},
): Promise<void> {
  await writeInPieces(sink, tableLines(headers, rows, columnWidths(headers, rows, options)));
}
