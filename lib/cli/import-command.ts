import { basename, resolve } from 'node:path';
import { type CommandContext, type CommandGroup, stringValue } from './command.ts';
import type { ImportEvent, RowResult } from './csv-import.ts';
import { CliError, UsageError } from './errors.ts';
import { ApiError } from './http-client.ts';
import { formatJson } from './output.ts';
import { createProgress } from './progress.ts';
import { readTextFile } from './read-file.ts';

interface Rejection {
  line: number;
  reasons: string[];
}

/** The rows (by index into the batch) a 400 answer points at: `#/events/3/email` -> 3. */
function pointedRows(error: ApiError): Map<number, string[]> {
  const rows = new Map<number, string[]>();
  for (const issue of error.problem?.errors ?? []) {
    const match = /^#\/events\/(\d+)(\/.*)?$/.exec(issue.pointer);
    if (match?.[1] === undefined) continue;
    const index = Number(match[1]);
    const field = (match[2] ?? '').split('/').filter(Boolean).pop();
    rows.set(index, [
      ...(rows.get(index) ?? []),
      field ? `${field}: ${issue.detail}` : issue.detail,
    ]);
  }
  return rows;
}

/**
 * Sends one batch. When the API refuses some of its events (it takes all or nothing), those
 * rows are rejected with its reasons and the rest is sent again; any other failure stops the run.
 */
async function sendBatch(
  context: CommandContext,
  batch: { line: number; event: ImportEvent }[],
  rejected: Rejection[],
): Promise<number> {
  try {
    await context
      .api()
      .request('POST', '/v1/events', { body: { events: batch.map((row) => row.event) } });
    return batch.length;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 400) throw error;
    const refused = pointedRows(error);
    if (refused.size === 0) throw error;
    const kept = batch.filter((row, index) => {
      const reasons = refused.get(index);
      if (reasons !== undefined) rejected.push({ line: row.line, reasons });
      return reasons === undefined;
    });
    return kept.length === 0 ? 0 : sendBatch(context, kept, rejected);
  }
}

/** `leadstage import FILE.csv`: bulk import of existing leads. */
export const importGroup: CommandGroup = {
  name: 'import',
  summary: 'Import existing leads from a CSV file (one contact_imported event per row).',
  commands: [
    {
      name: '',
      summary: 'Import existing leads from a CSV file (one contact_imported event per row).',
      args: 'FILE.csv',
      positionals: { min: 1, max: 1 },
      options: {
        source: {
          type: 'string',
          placeholder: 'LABEL',
          description:
            "Where the leads come from, kept as the events' source api:LABEL (default import)",
        },
        currency: {
          type: 'string',
          placeholder: 'CODE',
          description: 'Currency of revenue given without one (default EUR)',
        },
        delimiter: {
          type: 'string',
          placeholder: 'CHAR',
          description: 'Field delimiter (default: detected from the header: , ; or tab)',
        },
        'dry-run': { type: 'boolean', description: 'Check every row, send nothing' },
      },
      description: [
        'The header row names the fields: email (required), name, firstName, lastName, company,',
        'jobTitle, industry, employees, annualRevenue, annualRevenueCurrency, country (ISO code),',
        'city, phone, occurredAt (ISO date or time the lead was created). Common spellings such',
        'as "First Name", "E-Mail" or "Company Name" are understood; other columns are ignored.',
        'Rows are checked before sending; bad ones are listed by line and the exit code is 1.',
        "Each row's event id is derived from its content, so importing the same file again",
        'changes nothing (the pipeline drops the duplicates within its 30-day dedupe window).',
      ].join('\n'),
      examples: [
        'leadstage import leads.csv',
        'leadstage import export.csv --source hubspot --dry-run',
      ],
      async run(context) {
        const file = resolve(context.cwd, context.positionals[0] ?? '');
        const source = stringValue(context.values, 'source') ?? 'import';
        if (!/^[\w.:-]{1,96}$/.test(source)) {
          throw new UsageError('--source must be 1 to 96 letters, digits, "_", "-", "." or ":".');
        }
        const currency = (stringValue(context.values, 'currency') ?? 'EUR').toUpperCase();
        if (!/^[A-Z]{3}$/.test(currency))
          throw new UsageError('--currency must be an ISO 4217 code such as EUR.');
        const delimiterText = stringValue(context.values, 'delimiter');
        const delimiter = delimiterText === '\\t' || delimiterText === 'tab' ? '\t' : delimiterText;
        if (delimiter !== undefined && delimiter.length !== 1) {
          throw new UsageError('--delimiter must be one character (or "tab").');
        }
        // Loaded when importing only: the CSV parser and the event schema slow every other command.
        const { batchEvents, mapColumns, parseCsv, rowToEvent } = await import('./csv-import.ts');
        const text = await readTextFile(file);
        const { header, rows } = parseCsv(text, delimiter);
        const mapping = mapColumns(header);
        if (mapping.ignored.length > 0) {
          context.out.stderr(
            `Ignoring columns: ${mapping.ignored.map((name) => `"${name}"`).join(', ')}\n`,
          );
        }
        const results: RowResult[] = rows.map((row) =>
          rowToEvent(row, mapping, { source, defaultCurrency: currency }),
        );
        const rejected: Rejection[] = results.flatMap((result) =>
          result.ok ? [] : [{ line: result.line, reasons: result.reasons }],
        );
        const valid = results.flatMap((result) => (result.ok ? [result] : []));

        let accepted = 0;
        const dryRun = context.values['dry-run'] === true;
        if (!dryRun && valid.length > 0) {
          const progress = createProgress(context.out, valid.length, 'rows', 'Imported');
          try {
            for (const batch of batchEvents(valid)) {
              accepted += await sendBatch(context, batch, rejected);
              progress.update(accepted);
            }
          } catch (error) {
            progress.finish();
            if (error instanceof CliError) {
              throw new CliError(
                `${error.message}\nThe import stopped after ${accepted} of ${rows.length} rows; running it again is safe (rows already sent are dropped as duplicates).`,
              );
            }
            throw error;
          }
          progress.finish();
        }
        rejected.sort((a, b) => a.line - b.line);

        const summary = {
          file,
          rows: rows.length,
          ...(dryRun ? { dryRun: true, valid: valid.length } : { accepted }),
          rejected,
          ignoredColumns: mapping.ignored,
        };
        if (context.json) context.out.stdout(formatJson(summary));
        else {
          const lines = [
            dryRun
              ? `Checked ${rows.length} rows of ${basename(file)}: ${valid.length} valid, ${rejected.length} rejected (nothing sent: --dry-run).`
              : `Imported ${basename(file)}: ${accepted} of ${rows.length} rows accepted, ${rejected.length} rejected.`,
          ];
          for (const rejection of rejected)
            lines.push(`  line ${rejection.line}: ${rejection.reasons.join('; ')}`);
          context.out.stdout(`${lines.join('\n')}\n`);
        }
        if (rejected.length > 0) {
          context.out.stderr(
            `${rejected.length} row(s) rejected; fix them and import the file again.\n`,
          );
          return 1;
        }
        return 0;
      },
    },
  ],
};
