/** A form body as flat text fields, whatever encoding it came in. */
export type FormFields = Record<string, string>;

/** The body could not be read in the content type it claims. */
export class FormBodyError extends Error {
  override readonly name = 'FormBodyError';
  readonly status: 400 | 415;
  constructor(status: 400 | 415, message: string, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}

const MAX_FIELDS = 100;
const MAX_FIELD_CHARS = 10_000;

function scalar(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Reads JSON, `application/x-www-form-urlencoded` and `multipart/form-data` into flat text
 * fields (files in a multipart body are ignored: a lead form has none). A repeated field
 * keeps its first value. JSON must be an object of scalars (nested values are dropped).
 */
export async function readFormBody(request: Request): Promise<FormFields> {
  const contentType = (request.headers.get('content-type') ?? '').toLowerCase();
  const fields: FormFields = {};
  const add = (name: string, value: string) => {
    if (Object.hasOwn(fields, name)) return;
    if (Object.keys(fields).length >= MAX_FIELDS)
      throw new FormBodyError(400, `more than ${MAX_FIELDS} fields`);
    fields[name] = value.slice(0, MAX_FIELD_CHARS);
  };

  if (/^application\/(.+\+)?json\b/.test(contentType)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await request.text());
    } catch (error) {
      throw new FormBodyError(400, 'The body is not valid JSON.', { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new FormBodyError(400, 'The JSON body must be an object of fields.');
    }
    for (const [name, value] of Object.entries(parsed)) {
      const text = scalar(value);
      if (text !== undefined) add(name, text);
    }
    return fields;
  }

  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    for (const [name, value] of new URLSearchParams(await request.text())) add(name, value);
    return fields;
  }

  if (contentType.startsWith('multipart/form-data')) {
    let form: FormData;
    try {
      form = await request.formData();
    } catch (error) {
      throw new FormBodyError(400, 'The multipart body could not be read.', { cause: error });
    }
    for (const [name, value] of form) if (typeof value === 'string') add(name, value);
    return fields;
  }

  throw new FormBodyError(
    415,
    'Send the form as application/json, application/x-www-form-urlencoded or multipart/form-data.',
  );
}
