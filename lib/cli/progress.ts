import type { Output } from './output.ts';

/** Progress of a long run on stderr. */
export interface Progress {
  update(done: number): void;
  /** Ends the bar's line (a terminal's bar is redrawn in place until then). */
  finish(): void;
}

/** The bar as drawn on a terminal: `[#####-----]  50%  500/1000 rows`. */
export function renderBar(done: number, total: number, width: number, unit: string): string {
  const ratio = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(ratio * width);
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent}  ${done}/${total} ${unit}`;
}

/**
 * A progress bar redrawn in place when stderr is a terminal, otherwise one plain line per
 * update (logs and CI keep every line readable).
 */
export function createProgress(out: Output, total: number, unit: string, verb: string): Progress {
  if (out.stderrIsTty) {
    const width = Math.max(10, Math.min(40, out.columns - 30));
    return {
      update: (done) => out.stderr(`\r${renderBar(done, total, width, unit)}\u001b[K`),
      finish: () => out.stderr('\n'),
    };
  }
  return {
    update: (done) => out.stderr(`${verb} ${done}/${total} ${unit}\n`),
    finish: () => undefined,
  };
}
