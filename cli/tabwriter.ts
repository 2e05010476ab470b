/**
 * @module cli/tabwriter
 * Go's text/tabwriter as fleetctl configured it (minwidth 0, tabwidth 8, padding 1, padchar
 * '\t', no flags), so that our tables are fleet's bytes: scripts that split fleetctl's output
 * on tabs, and eyes used to its columns, see the same thing.
 *
 * Semantics kept from Go: cells are tab-terminated, so the last cell of a line never takes part
 * in alignment; a column's width is decided per block of consecutive lines that have a cell in
 * that column; widths count Unicode code points; padding is whole tabs.
 */

const TAB_WIDTH = 8;
const PADDING = 1;

interface Cell {
  readonly text: string;
  readonly width: number;
}

function toLines(text: string): Cell[][] {
  const rows = text.split("\n");
  return rows.map((row) =>
    row.split("\t").map((t) => ({ text: t, width: [...t].length }) satisfies Cell),
  );
}

/** Formats `text` (lines of tab-separated cells) exactly as fleetctl's tabwriter printed it. */
export function formatTabbed(text: string): string {
  const lines = toLines(text);
  const widths: number[] = [];
  const out: string[] = [];

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i] as Cell[];
      let s = "";
      line.forEach((c, j) => {
        s += c.text;
        const w = widths[j];
        // Every cell but a line's last is tab-terminated and padded to its column's width.
        if (w !== undefined && j < line.length - 1) {
          const cellw = Math.ceil(w / TAB_WIDTH) * TAB_WIDTH;
          s += "\t".repeat(Math.ceil((cellw - c.width) / TAB_WIDTH));
        }
      });
      out.push(s);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= (lines[t] as Cell[]).length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let width = 0;
      for (; t < line1; t++) {
        const line = lines[t] as Cell[];
        if (column >= line.length - 1) break;
        width = Math.max(width, (line[column] as Cell).width + PADDING);
      }
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join("\n");
}

/** Rows of cells as fleetctl printed them: one line per row, tab-aligned. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return "";
  return formatTabbed(`${rows.map((r) => r.join("\t")).join("\n")}\n`);
}
