/** Where a command writes: stdout for results, stderr for messages and progress. */
export interface Output {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stderr is a terminal (a progress bar then redraws one line). */
  stderrIsTty: boolean;
  /** Terminal width for progress bars; 80 when unknown. */
  columns: number;
}

/** The process's own streams. */
export function processOutput(): Output {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stderrIsTty: process.stderr.isTTY === true,
    columns: process.stderr.columns ?? 80,
  };
}

/** One column of a table: its heading and how a row's cell is read. */
export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
  /** Cells longer than this are cut with an ellipsis (default 60). */
  maxWidth?: number;
}

/** A value as one table cell: absent is `-`, lists are comma-separated, objects are JSON. */
export function formatCell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(formatCell).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  // One line per row: line breaks inside a value would break the table. Control characters
  // (ESC and the rest) are shown as U+FFFD: a name typed into a public form must not be able to
  // clear the operator's screen, retitle the window or plant a hyperlink.
  return String(value)
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .replace(TERMINAL_CONTROL, '\uFFFD');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
const TERMINAL_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

function cut(text: string, maxWidth: number): string {
  const chars = [...text];
  return chars.length <= maxWidth ? text : `${chars.slice(0, maxWidth - 1).join('')}…`;
}

const width = (text: string) => [...text].length;

/**
 * Rows as a plain-text table with a heading line, columns padded to their widest cell and
 * separated by two spaces; trailing spaces are trimmed. An empty list gives just the heading.
 */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) =>
    columns.map((column) => cut(formatCell(column.value(row)), column.maxWidth ?? 60)),
  );
  const widths = columns.map((column, index) =>
    Math.max(width(column.header), ...cells.map((line) => width(line[index] ?? ''))),
  );
  const render = (line: readonly string[]) =>
    line
      .map((cell, index) => cell + ' '.repeat((widths[index] ?? 0) - width(cell)))
      .join('  ')
      .trimEnd();
  return `${[
    render(columns.map((column) => column.header.toUpperCase())),
    ...cells.map(render),
  ].join('\n')}\n`;
}

/** Label-value pairs, one per line, labels aligned: the view of a single record. */
export function formatFields(fields: readonly (readonly [string, unknown])[]): string {
  const labelWidth = Math.max(0, ...fields.map(([label]) => width(label)));
  return `${fields
    .map(
      ([label, value]) =>
        `${label}:${' '.repeat(labelWidth - width(label) + 1)}${formatCell(value)}`,
    )
    .join('\n')}\n`;
}

/** Machine output: indented JSON and a newline. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * Prints a list: as JSON with `--json`, else as a table, or `empty` on stderr when it has no
 * items (stdout then stays empty).
 */
export function printList<T>(
  context: { json: boolean; out: Output },
  list: { items: T[] },
  columns: Column<T>[],
  empty: string,
): void {
  if (context.json) context.out.stdout(formatJson(list));
  else if (list.items.length === 0) context.out.stderr(empty);
  else context.out.stdout(formatTable(list.items, columns));
}
