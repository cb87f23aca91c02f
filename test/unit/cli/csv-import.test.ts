import { describe, expect, it } from 'vitest';
import {
  batchEvents,
  type CsvRow,
  detectDelimiter,
  importEventId,
  mapColumns,
  parseCsv,
  type RowResult,
  rowToEvent,
} from '../../../lib/cli/csv-import.ts';
import { CliError } from '../../../lib/cli/errors.ts';

const options = { source: 'import', defaultCurrency: 'EUR' };

function convert(csv: string): RowResult[] {
  const { header, rows } = parseCsv(csv);
  const mapping = mapColumns(header);
  return rows.map((row) => rowToEvent(row, mapping, options));
}

function errorOf(action: () => unknown): CliError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return error as CliError;
  }
  throw new Error('expected a CliError');
}

describe('CSV import: header mapping', () => {
  it('understands common spellings of the lead fields and ignores other columns', () => {
    const mapping = mapColumns([
      'E-Mail',
      'First Name',
      'last_name',
      'Company Name',
      'Job Title',
      'Number of Employees',
      'Annual Revenue',
      'Country Code',
      'Phone Number',
      'Lead Owner',
    ]);
    expect(mapping.fields).toEqual([
      'email',
      'firstName',
      'lastName',
      'company',
      'jobTitle',
      'employees',
      'annualRevenue',
      'country',
      'phone',
      undefined,
    ]);
    expect(mapping.ignored).toEqual(['Lead Owner']);
  });

  it('needs an email column and refuses two columns for one field', () => {
    expect(errorOf(() => mapColumns(['name', 'company'])).message).toMatch(/No email column/);
    expect(errorOf(() => mapColumns(['email', 'mail'])).message).toMatch(
      /"email" and "mail" both map to email/,
    );
  });
});

describe('CSV import: parsing', () => {
  it('detects comma, semicolon and tab from the header line, ignoring quoted ones', () => {
    expect(detectDelimiter('email,name\na;b;c;d\n')).toBe(',');
    expect(detectDelimiter('email;name;"Firma, GmbH"\n')).toBe(';');
    expect(detectDelimiter('email\tname\n')).toBe('\t');
    expect(detectDelimiter('email\n')).toBe(',');
  });

  it('reads a BOM, quoted fields and blank lines, numbering rows by their line in the file', () => {
    const { header, rows } = parseCsv(
      '\uFEFFemail;company\n\na@example.com;"Muster; Co"\nb@example.com;B AG\n',
    );
    expect(header).toEqual(['email', 'company']);
    expect(rows).toEqual([
      { line: 3, values: ['a@example.com', 'Muster; Co'] },
      { line: 4, values: ['b@example.com', 'B AG'] },
    ]);
  });

  it('reports malformed CSV with its line, and an empty file', () => {
    expect(errorOf(() => parseCsv('email\n"a@example.com\n')).message).toMatch(
      /not valid CSV.*line 2/,
    );
    expect(errorOf(() => parseCsv('')).message).toMatch(/empty/);
  });
});

describe('CSV import: rows to contact_imported events', () => {
  it('maps a full row to a profile with typed numbers, money and an upper-case country', () => {
    const [result] = convert(
      'email,name,company,employees,annual revenue,country,occurredAt\n' +
        'Anna.Schmidt@Example.com,Anna Schmidt,Muster AG,"1,200",2500000 USD,de,2025-03-01\n',
    );
    expect(result).toMatchObject({
      ok: true,
      line: 2,
      event: {
        kind: 'contact_imported',
        email: 'Anna.Schmidt@Example.com',
        occurredAt: '2025-03-01T00:00:00Z',
        source: 'import',
        profile: {
          name: 'Anna Schmidt',
          company: 'Muster AG',
          employees: 1200,
          annualRevenue: { amount: 2_500_000, currency: 'USD' },
          country: 'DE',
        },
      },
    });
  });

  it('takes revenue currency from its column, a symbol, or the default', () => {
    const results = convert(
      'email,revenue,currency\na@example.com,1000,chf\nb@example.com,€2.5,\nc@example.com,300,\n',
    );
    const revenues = results.map((result) =>
      result.ok ? result.event.profile.annualRevenue : result.reasons,
    );
    expect(revenues).toEqual([
      { amount: 1000, currency: 'CHF' },
      { amount: 2.5, currency: 'EUR' },
      { amount: 300, currency: 'EUR' },
    ]);
  });

  it('rejects bad rows with the line and a reason naming the column', () => {
    const results = convert(
      'email,Land,employees,revenue\n' +
        'ok@example.com,DE,10,5\n' +
        'not-an-email,DE,,\n' +
        ',DE,,\n' +
        'c@example.com,Germany,many,lots\n' +
        'd@example.com,DE\n',
    );
    expect(results[0]?.ok).toBe(true);
    const rejected = results.flatMap((result) => (result.ok ? [] : [result]));
    expect(rejected.map((result) => result.line)).toEqual([3, 4, 5, 6]);
    expect(rejected[0]?.reasons).toEqual([expect.stringMatching(/^email: /)]);
    expect(rejected[1]?.reasons).toEqual(['email is empty']);
    expect(rejected[2]?.reasons).toEqual([
      'employees: "many" is not a whole number',
      'annualRevenue (column "revenue"): "lots" is not an amount (e.g. 2500000 or 2500000 EUR)',
      'country (column "Land"): an ISO 3166-1 alpha-2 code such as DE',
    ]);
    expect(rejected[3]?.reasons).toEqual(['has 2 fields, the header has 4']);
  });

  it('names a bad email first among the reasons of a row', () => {
    const [result] = convert('employees,email\nmany,nobody\n');
    expect(result?.ok === false && result.reasons).toEqual([
      'email: Invalid email address',
      'employees: "many" is not a whole number',
    ]);
  });
});

describe('CSV import: event ids', () => {
  const row = (line: number, values: string[]): CsvRow => ({ line, values });
  const mapping = mapColumns(['email', 'company']);
  const idOf = (values: string[], line = 2) => {
    const result = rowToEvent(row(line, values), mapping, options);
    if (!result.ok) throw new Error(result.reasons.join());
    return result.event.id;
  };

  it('is the same for the same row wherever it is, whatever the email case', () => {
    expect(idOf(['a@example.com', 'A AG'], 2)).toBe(idOf(['A@Example.com', 'A AG'], 90));
    expect(idOf(['a@example.com', 'A AG'])).toMatch(/^import-[0-9a-f]{32}$/);
  });

  it('changes when the row says something else', () => {
    expect(idOf(['a@example.com', 'A AG'])).not.toBe(idOf(['a@example.com', 'B AG']));
    expect(idOf(['a@example.com', 'A AG'])).not.toBe(idOf(['b@example.com', 'A AG']));
  });

  it('does not depend on the order of profile fields', () => {
    expect(
      importEventId({ kind: 'contact_imported', email: 'x@example.com', profile: { a: 1, b: 2 } }),
    ).toBe(
      importEventId({ kind: 'contact_imported', email: 'x@example.com', profile: { b: 2, a: 1 } }),
    );
  });
});

describe('CSV import: batches', () => {
  it('splits by count and by size, keeping order', () => {
    const items = Array.from({ length: 7 }, (_, index) => ({ n: index, pad: 'x'.repeat(20) }));
    const byCount = batchEvents(items, { maxEvents: 3, maxBytes: 1_000_000 });
    expect(byCount.map((batch) => batch.length)).toEqual([3, 3, 1]);
    expect(byCount.flat()).toEqual(items);
    const size = JSON.stringify(items[0]).length + 1;
    const bySize = batchEvents(items, { maxEvents: 100, maxBytes: size * 2 });
    expect(bySize.map((batch) => batch.length)).toEqual([2, 2, 2, 1]);
  });

  it('sends 500 events at most per request by default', () => {
    const items = Array.from({ length: 1001 }, (_, index) => ({ n: index }));
    expect(batchEvents(items).map((batch) => batch.length)).toEqual([500, 500, 1]);
  });
});
