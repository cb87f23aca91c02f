import { createHash } from 'node:crypto';
import { CsvError, parse } from 'csv-parse/sync';
import { FORM_TARGET_FIELDS, type FormTargetField } from '../config/app-config.ts';
import { leadEventSchema } from '../domain/events.ts';
import { CliError } from './errors.ts';

/**
 * The lead fields a CSV column can fill: those a form field can, but consent (an import
 * carries none), and `occurredAt`, when the lead came to be.
 */
export type ImportField = Exclude<FormTargetField, 'consent'> | 'occurredAt';
export const IMPORT_FIELDS: readonly ImportField[] = [
  ...FORM_TARGET_FIELDS.filter(
    (field): field is Exclude<FormTargetField, 'consent'> => field !== 'consent',
  ),
  'occurredAt',
];

/** The most events one request carries (POST /v1/events takes 500). */
export const MAX_BATCH_EVENTS = 500;
/** The most JSON one request carries: well under the API's 256 KiB body limit. */
export const MAX_BATCH_BYTES = 200_000;

/** Header spellings (lower-cased, letters and digits only) and the field each one fills. */
const HEADER_ALIASES: Record<string, ImportField> = Object.fromEntries(
  (
    [
      ['email', ['email', 'emailaddress', 'mail', 'mailaddress']],
      ['name', ['name', 'fullname', 'contactname']],
      ['firstName', ['firstname', 'givenname', 'first', 'vorname']],
      ['lastName', ['lastname', 'surname', 'familyname', 'last', 'nachname']],
      ['company', ['company', 'companyname', 'organization', 'organisation', 'account', 'firma']],
      ['jobTitle', ['jobtitle', 'title', 'position', 'role']],
      ['industry', ['industry', 'sector', 'branche']],
      [
        'employees',
        ['employees', 'numberofemployees', 'employeecount', 'companysize', 'mitarbeiter'],
      ],
      ['annualRevenue', ['annualrevenue', 'revenue', 'umsatz']],
      [
        'annualRevenueCurrency',
        ['annualrevenuecurrency', 'revenuecurrency', 'currency', 'waehrung'],
      ],
      ['country', ['country', 'countrycode', 'land']],
      ['city', ['city', 'town', 'stadt', 'ort']],
      ['phone', ['phone', 'phonenumber', 'telephone', 'tel', 'mobile', 'telefon']],
      ['occurredAt', ['occurredat', 'createdat', 'created', 'createddate', 'date']],
    ] as const
  ).flatMap(([field, aliases]) => aliases.map((alias) => [alias, field])),
);

const normalizeHeader = (header: string) => header.toLowerCase().replace(/[^a-z0-9]/g, '');

/** How the header row maps onto lead fields. */
export interface ColumnMapping {
  /** For each column, the field it fills (undefined: ignored). */
  fields: (ImportField | undefined)[];
  /** The header text of each mapped field, for messages. */
  headers: Partial<Record<ImportField, string>>;
  /** Columns no field matched; they are ignored. */
  ignored: string[];
}

/** Maps a header row to fields; an email column is required and no field may appear twice. */
export function mapColumns(header: readonly string[]): ColumnMapping {
  const headers: Partial<Record<ImportField, string>> = {};
  const ignored: string[] = [];
  const fields = header.map((text) => {
    const field = HEADER_ALIASES[normalizeHeader(text)];
    if (field === undefined) {
      if (text.trim() !== '') ignored.push(text);
      return undefined;
    }
    const earlier = headers[field];
    if (earlier !== undefined) {
      throw new CliError(`The columns "${earlier}" and "${text}" both map to ${field}; keep one.`);
    }
    headers[field] = text;
    return field;
  });
  if (headers.email === undefined) {
    throw new CliError(
      `No email column: the header row needs one (e.g. "email"); it has ${header.map((h) => `"${h}"`).join(', ')}.`,
    );
  }
  return { fields, headers, ignored };
}

/** Picks the delimiter of the header line: the most frequent of `,` `;` and tab outside quotes. */
export function detectDelimiter(text: string): string {
  const counts = new Map<string, number>([
    [',', 0],
    [';', 0],
    ['\t', 0],
  ]);
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && (char === '\n' || char === '\r')) break;
    else if (!quoted && counts.has(char)) counts.set(char, (counts.get(char) ?? 0) + 1);
  }
  let best = ',';
  for (const [delimiter, count] of counts) if (count > (counts.get(best) ?? 0)) best = delimiter;
  return best;
}

/** One data row of the file: its line number (the header is line 1) and its fields. */
export interface CsvRow {
  line: number;
  values: string[];
}

/** Parses CSV text into the header and the data rows; a malformed file is one clear error. */
export function parseCsv(
  text: string,
  delimiter = detectDelimiter(text.replace(/^\uFEFF/, '')),
): { header: string[]; rows: CsvRow[] } {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      delimiter,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    if (error instanceof CsvError) {
      throw new CliError(`The file is not valid CSV: ${error.message}`);
    }
    throw error;
  }
  const [first, ...rest] = records;
  if (first === undefined) throw new CliError('The file is empty: it needs a header row.');
  return {
    header: first.record.map((cell) => cell.trim()),
    rows: rest.map(({ record, info }) => ({ line: info.lines, values: record })),
  };
}

/** A whole number as people write it: `1200`, `1,200`, `1.200`, `1 200`. */
function parseWholeNumber(text: string): number | undefined {
  const compact = /^\d{1,3}([,.\s'_]\d{3})+$/.test(text) ? text.replace(/[^\d]/g, '') : text;
  return /^\d+$/.test(compact) ? Number(compact) : undefined;
}

const CURRENCY_SYMBOLS: Record<string, string> = { '€': 'EUR', $: 'USD', '£': 'GBP' };

/** An amount with an optional currency: `2500000`, `2,500,000 EUR`, `€2.5`, `USD 1200.50`. */
function parseMoney(
  text: string,
  currencyColumn: string | undefined,
  defaultCurrency: string,
): { amount: number; currency: string } | string {
  let rest = text.replace(/\s+/g, ' ').trim();
  let currency = currencyColumn;
  const code = /^([A-Za-z]{3}) ?|[ ]?([A-Za-z]{3})$/.exec(rest);
  if (code) {
    currency ??= (code[1] ?? code[2] ?? '').toUpperCase();
    rest = rest.replace(code[0], '').trim();
  }
  const symbol = /^[€$£]|[€$£]$/.exec(rest);
  if (symbol) {
    currency ??= CURRENCY_SYMBOLS[symbol[0]];
    rest = rest.replace(symbol[0], '').trim();
  }
  const whole = parseWholeNumber(rest);
  const amount = whole ?? (/^\d+(\.\d+)?$/.test(rest) ? Number(rest) : undefined);
  if (amount === undefined) return `"${text}" is not an amount (e.g. 2500000 or 2500000 EUR)`;
  return { amount, currency: currency ?? defaultCurrency };
}

/** The event a row becomes, as sent to POST /v1/events. */
export interface ImportEvent {
  kind: 'contact_imported';
  id: string;
  email: string;
  profile: Record<string, unknown>;
  occurredAt?: string;
  source: string;
}

export type RowResult =
  | { ok: true; line: number; event: ImportEvent }
  | { ok: false; line: number; reasons: string[] };

export interface RowOptions {
  /** Kept as the events' source (`api:<source>`). */
  source: string;
  /** The currency of revenue without one. */
  defaultCurrency: string;
}

/**
 * The event id of an imported row: derived from what the row says (email, profile, time), so
 * importing the same file again sends the same ids and the pipeline drops them as duplicates,
 * while a row whose data changed since is a new event that updates the contact.
 */
export function importEventId(event: Omit<ImportEvent, 'id' | 'source'>): string {
  const canonical = JSON.stringify([
    event.email.trim().toLowerCase(),
    Object.entries(event.profile).sort(([a], [b]) => (a < b ? -1 : 1)),
    event.occurredAt ?? null,
  ]);
  return `import-${createHash('sha256').update(canonical).digest('hex').slice(0, 32)}`;
}

/**
 * One CSV row as a `contact_imported` event, checked with the domain's own event schema so a
 * bad row is refused here with its line and reason instead of failing its whole batch.
 */
export function rowToEvent(row: CsvRow, mapping: ColumnMapping, options: RowOptions): RowResult {
  const text: Partial<Record<ImportField, string>> = {};
  mapping.fields.forEach((field, index) => {
    const value = row.values[index]?.trim();
    if (field !== undefined && value !== undefined && value !== '') text[field] = value;
  });
  const reasons: string[] = [];
  const label = (field: ImportField) => {
    const header = mapping.headers[field];
    return header === undefined || normalizeHeader(header) === field.toLowerCase()
      ? field
      : `${field} (column "${header}")`;
  };
  if (row.values.length !== mapping.fields.length) {
    reasons.push(`has ${row.values.length} fields, the header has ${mapping.fields.length}`);
  }
  if (text.email === undefined) reasons.push('email is empty');

  const profile: Record<string, unknown> = {};
  for (const field of [
    'name',
    'firstName',
    'lastName',
    'company',
    'jobTitle',
    'industry',
    'country',
    'city',
    'phone',
  ] as const) {
    const value = text[field];
    if (value !== undefined) profile[field] = field === 'country' ? value.toUpperCase() : value;
  }
  if (text.employees !== undefined) {
    const employees = parseWholeNumber(text.employees);
    if (employees === undefined)
      reasons.push(`${label('employees')}: "${text.employees}" is not a whole number`);
    else profile.employees = employees;
  }
  if (text.annualRevenue !== undefined) {
    const money = parseMoney(
      text.annualRevenue,
      text.annualRevenueCurrency?.toUpperCase(),
      options.defaultCurrency,
    );
    if (typeof money === 'string') reasons.push(`${label('annualRevenue')}: ${money}`);
    else profile.annualRevenue = money;
  }
  let occurredAt: string | undefined;
  if (text.occurredAt !== undefined) {
    occurredAt = /^\d{4}-\d{2}-\d{2}$/.test(text.occurredAt)
      ? `${text.occurredAt}T00:00:00Z`
      : text.occurredAt;
  }

  const body = {
    kind: 'contact_imported' as const,
    email: text.email ?? '',
    profile,
    ...(occurredAt ? { occurredAt } : {}),
  };
  const event: ImportEvent = { ...body, id: importEventId(body), source: options.source };
  if (text.email !== undefined) {
    const checked = leadEventSchema.safeParse({
      occurredAt: new Date().toISOString(),
      ...event,
    });
    if (!checked.success) {
      for (const issue of checked.error.issues) {
        const field = String(issue.path[issue.path[0] === 'profile' ? 1 : 0] ?? '');
        const name = (IMPORT_FIELDS as readonly string[]).includes(field)
          ? label(field as ImportField)
          : field;
        reasons.push(`${name}: ${issue.message}`);
      }
    }
  }
  // The email first: without it nothing else about the row matters.
  reasons.sort((a, b) => Number(b.startsWith('email')) - Number(a.startsWith('email')));
  return reasons.length > 0
    ? { ok: false, line: row.line, reasons }
    : { ok: true, line: row.line, event };
}

/** Splits the events into requests of at most MAX_BATCH_EVENTS and about MAX_BATCH_BYTES each. */
export function batchEvents<T>(
  items: readonly T[],
  limits: { maxEvents: number; maxBytes: number } = {
    maxEvents: MAX_BATCH_EVENTS,
    maxBytes: MAX_BATCH_BYTES,
  },
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (
      current.length > 0 &&
      (current.length >= limits.maxEvents || bytes + size > limits.maxBytes)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
