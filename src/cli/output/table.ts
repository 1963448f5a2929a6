// Renders tables in the reference couicctl look (comfy-table's UTF8_FULL preset): a
// double rule under the header, dashed rules between rows. Users compare our output
// with the reference walkthroughs character by character, so this is hand-written.

export interface TableOptions {
  /** Minimum content width per column (the reference pads some tables wider than their content). */
  minWidths?: readonly number[];
}

/** Width of a cell in terminal columns; our cells are ASCII, so code points suffice. */
function cellWidth(text: string): number {
  return [...text].length;
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

/** The whole table, one line per string element joined with "\n", ending with "\n". */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  options: TableOptions = {},
): string {
  const widths = headers.map((header, i) => {
    const cells = rows.map((row) => cellWidth(row[i] ?? ''));
    return Math.max(cellWidth(header), options.minWidths?.[i] ?? 0, ...cells);
  });
  const out = [rule(widths, '┌', '─', '┬', '┐'), line(headers, widths)];
  if (rows.length > 0) out.push(rule(widths, '╞', '═', '╪', '╡'));
  rows.forEach((row, i) => {
    if (i > 0) out.push(rule(widths, '├', '╌', '┼', '┤'));
    out.push(line(row, widths));
  });
  out.push(rule(widths, '└', '─', '┴', '┘'));
  return `${out.join('\n')}\n`;
}
