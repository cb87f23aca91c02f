import { createHmac, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { SQSClient } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAppConfig } from '../../lib/config/app-config.ts';
import { STAGES } from '../../lib/domain/stage.ts';
import { type LocalRuntime, startLocalRuntime } from '../../lib/local/runtime.ts';
import { type Logger, silentLogger } from '../../lib/observability/logger.ts';
import { UsageMeter } from '../../lib/observability/usage-meter.ts';
import { queueDepth as sqsQueueDepth } from '../support/sqs-helpers.ts';
import { makeTempDir } from '../support/temp-dir.ts';

/**
 * Issue #8, fuzz: tens of thousands of malformed requests over real HTTP against the whole
 * local runtime (dynalite, fauxqs, pollers), to every route the app documents in its own
 * /openapi.json (so routes added later are fuzzed without touching this file), every email
 * provider's webhook, and paths and methods that do not exist. Whatever arrives:
 *   - never a 5xx, never a dropped connection;
 *   - every 4xx is problem+json whose `status` matches, with no stack trace in it (except
 *     the documented HTML error page for a browser posting a form, and Node's own bodiless
 *     431 for headers over its 16 KiB limit, which never reach the app);
 *   - nothing is queued: no SQS SendMessage at all, both queues stay empty;
 *   - no subscription or contact appears, the seeded subscription is unchanged;
 *   - afterwards /healthz answers and one valid submission goes through.
 *
 * FUZZ_SEED picks the sample (printed, so a failure can be replayed); FUZZ_REQUESTS its size.
 * The sample is sent 32 at a time (FUZZ_CONCURRENCY), one connection per request. A failure
 * names its request's index: FUZZ_ONLY=<index,...> with the same seed and size replays just
 * those, one at a time; FUZZ_CONCURRENCY=1 also names each request that made an SQS send.
 * Not sent: a forged SES envelope good enough to make the app fetch AWS's signing certificate
 * (that goes to the internet, and a failed fetch answers 5xx on purpose so that SNS retries).
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_126);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 30_000);
/** Comma-separated indexes: replay only these requests of the sample, one at a time. */
const ONLY = process.env.FUZZ_ONLY?.split(',').map(Number);
const CONCURRENCY = ONLY ? 1 : Number(process.env.FUZZ_CONCURRENCY ?? 32);
const API_KEY = `lsk_fuzz_${randomBytes(16).toString('hex')}`;
/** What Node's HTTP parser accepts for all headers together before it answers 431 itself. */
const NODE_MAX_HEADER_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 256 * 1024;
const FORM_ROUTE = '/v1/forms/{formId}/submissions';

// ---------------------------------------------------------------------------------------
// Provider credentials: every provider is configured, so forged requests reach verification.

const GENERIC_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const MAILGUN_KEY = randomBytes(24).toString('hex');
const POSTMARK = { username: 'postmark', password: randomBytes(12).toString('hex') };
const PARSE_AUTH = { username: 'parse', password: randomBytes(12).toString('hex') };
const sendgridKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const SENDGRID_PUBLIC_KEY = sendgridKeys.publicKey
  .export({ format: 'der', type: 'spki' })
  .toString('base64');
const SES_TOPIC = 'arn:aws:sns:eu-central-1:123456789012:ses-events';
const ALLOWED_ORIGIN = 'https://www.example.com';

const config = parseAppConfig(
  {
    forms: [
      { id: 'contact' },
      {
        id: 'demo',
        fields: { firma: 'company', vorname: 'firstName' },
        required: ['company'],
        thankYouUrl: 'https://www.example.com/danke',
        errorUrl: 'https://www.example.com/fehler',
        allowedOrigins: [ALLOWED_ORIGIN],
        consent: { text: 'Ja, ich willige ein.', version: 'v1', required: true },
        honeypotField: 'hp',
      },
    ],
    providers: {
      postmark: { basicAuth: POSTMARK },
      mailgun: { signingKey: MAILGUN_KEY },
      sendgrid: {
        eventWebhookPublicKey: SENDGRID_PUBLIC_KEY,
        inboundParse: { basicAuth: PARSE_AUTH },
      },
      ses: { topicArns: [SES_TOPIC] },
      generic: { secret: GENERIC_SECRET },
    },
  },
  'fuzz',
);

// ---------------------------------------------------------------------------------------
// The routes, from the app's own OpenAPI document

interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  enum?: unknown[];
  format?: string;
  minimum?: number;
  minLength?: number;
  minItems?: number;
  additionalProperties?: boolean | JsonSchema;
  example?: unknown;
}

interface Operation {
  method: string;
  /** The OpenAPI path template, e.g. `/v1/subscriptions/{id}`: the label figures are kept by. */
  template: string;
  pathParams: string[];
  queryParams: string[];
  secured: boolean;
  bodySchema: JsonSchema | undefined;
}

interface OpenApiDocument {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { in: string; name: string }[];
        security?: unknown[];
        requestBody?: { content: Record<string, { schema?: JsonSchema }> };
      }
    >
  >;
  components: { schemas: Record<string, JsonSchema> };
}

function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [template, methods] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = op.parameters ?? [];
      const content = op.requestBody?.content ?? {};
      operations.push({
        method: method.toUpperCase(),
        template,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.in === 'query').map((p) => p.name),
        secured: (op.security?.length ?? 0) > 0,
        bodySchema: content['application/json']?.schema,
      });
    }
  }
  return operations;
}

// ---------------------------------------------------------------------------------------
// Bodies that are wrong for their schema, generated from the schema

function resolver(document: OpenApiDocument) {
  return (schema: JsonSchema): JsonSchema => {
    let current = schema;
    while (current.$ref !== undefined) {
      const name = current.$ref.replace('#/components/schemas/', '');
      current = document.components.schemas[name] ?? {};
    }
    return current;
  };
}

/** The JSON types a schema allows; empty when it says nothing (anything goes). */
function allowedTypes(schema: JsonSchema, resolve: (s: JsonSchema) => JsonSchema): Set<string> {
  const s = resolve(schema);
  const types = new Set<string>();
  if (typeof s.type === 'string') types.add(s.type);
  if (Array.isArray(s.type)) for (const type of s.type) types.add(type);
  for (const member of [...(s.oneOf ?? []), ...(s.anyOf ?? [])]) {
    const inner = allowedTypes(member, resolve);
    if (inner.size === 0) return new Set();
    for (const type of inner) types.add(type);
  }
  if (s.enum !== undefined && types.size === 0) types.add('string');
  return types;
}

const WRONG_VALUES: { type: string; value: unknown }[] = [
  { type: 'string', value: 'fuzz' },
  { type: 'string', value: '' },
  { type: 'number', value: 1.5 },
  { type: 'integer', value: -7 },
  { type: 'boolean', value: true },
  { type: 'null', value: null },
  { type: 'object', value: { nested: { deeper: [1, 2, 3] } } },
  { type: 'array', value: ['a', 1, null] },
];

function wrongValuesFor(types: Set<string>): unknown[] {
  return WRONG_VALUES.filter(({ type }) => {
    if (types.has(type)) return false;
    if (type === 'integer' && types.has('number')) return false;
    return true;
  }).map(({ value }) => value);
}

/** A value the schema accepts (as far as these keywords go): the base a mutation breaks. */
function validValue(
  schema: JsonSchema,
  resolve: (s: JsonSchema) => JsonSchema,
  depth = 0,
): unknown {
  const s = resolve(schema);
  if (s.example !== undefined) return structuredClone(s.example);
  if (s.enum !== undefined) return s.enum[0];
  const members = s.oneOf ?? s.anyOf;
  if (members?.[0] !== undefined) return validValue(members[0], resolve, depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'string':
      if (s.format === 'email') return 'fuzz.contact@example.com';
      if (s.format === 'uri') return 'https://crm.example.com/hooks/fuzz';
      if (s.format === 'date-time') return '2025-03-01T00:00:00Z';
      return 'x'.repeat(Math.max(1, s.minLength ?? 1));
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return depth > 4 || s.items === undefined
        ? []
        : Array.from({ length: Math.max(1, s.minItems ?? 1) }, () =>
            validValue(s.items as JsonSchema, resolve, depth + 1),
          );
    case 'object': {
      const object: Record<string, unknown> = {};
      if (depth > 4) return object;
      for (const name of s.required ?? []) {
        const property = s.properties?.[name];
        if (property !== undefined) object[name] = validValue(property, resolve, depth + 1);
      }
      return object;
    }
    default:
      return 'x';
  }
}

type Mutation =
  | { path: (string | number)[]; kind: 'wrong-type'; value: unknown }
  | {
      path: (string | number)[];
      kind: 'drop-required';
    };

/** Every way to make `schema` refuse `value` by one change (wrong type, missing required field). */
function mutationsOf(
  schema: JsonSchema,
  value: unknown,
  resolve: (s: JsonSchema) => JsonSchema,
  path: (string | number)[] = [],
): Mutation[] {
  const s = resolve(schema);
  const found: Mutation[] = [];
  const types = allowedTypes(s, resolve);
  if (types.size > 0) {
    for (const wrong of wrongValuesFor(types))
      found.push({ path, kind: 'wrong-type', value: wrong });
  }
  if (path.length > 4) return found;
  const members = (s.oneOf ?? s.anyOf ?? []).map(resolve);
  // The member the value was made for (an example need not be the first): every key of the
  // value is one of its properties. A mutation of a property no member declares breaks nothing.
  const keys = value !== null && typeof value === 'object' ? Object.keys(value) : [];
  const objectSchema =
    s.properties !== undefined
      ? s
      : members.find(
          (member) =>
            member.properties !== undefined &&
            keys.every((key) => key in (member.properties as object)),
        );
  if (objectSchema?.properties !== undefined && value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    for (const [name, property] of Object.entries(objectSchema.properties)) {
      if (objectSchema.required?.includes(name) && name in object) {
        found.push({ path: [...path, name], kind: 'drop-required' });
      }
      found.push(...mutationsOf(property, object[name], resolve, [...path, name]));
    }
  }
  if (s.items !== undefined && Array.isArray(value) && value.length > 0) {
    found.push(...mutationsOf(s.items, value[0], resolve, [...path, 0]));
  }
  return found;
}

function applyMutation(base: unknown, mutation: Mutation): unknown {
  if (mutation.path.length === 0) return mutation.kind === 'wrong-type' ? mutation.value : base;
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of mutation.path.slice(0, -1)) {
    const next = parent[key];
    if (next === null || typeof next !== 'object') {
      parent[key] = {};
    }
    parent = parent[key] as Record<string | number, unknown>;
  }
  const last = mutation.path.at(-1) as string | number;
  if (mutation.kind === 'drop-required') delete parent[last];
  else parent[last] = mutation.value;
  return copy;
}

// ---------------------------------------------------------------------------------------
// Requests

/** A request body and the content type it is sent with. */
interface Payload {
  kind: string;
  contentType: string | undefined;
  body: Buffer;
  chunked?: boolean;
}

interface FuzzRequest {
  /** A short name for what was done, for figures and failure messages. */
  kind: string;
  /** The route it was aimed at (OpenAPI template, provider, or `unknown`). */
  route: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** Sent in pieces with no Content-Length (Transfer-Encoding: chunked). */
  chunked: boolean;
}

const text = (value: string) => Buffer.from(value, 'utf8');

const HUGE_STRING = 'x'.repeat(MAX_BODY_BYTES + 1024);
const OVERSIZED_JSON = text(JSON.stringify({ email: 'huge@example.com', name: HUGE_STRING }));
const OVERSIZED_BYTES = randomBytes(MAX_BODY_BYTES + 4096);
const DEEP_ARRAY = text(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
const DEEP_OBJECT = text(`${'{"a":'.repeat(40_000)}1${'}'.repeat(40_000)}`);
const DEEP_UNCLOSED = text('{"email":'.repeat(20_000));

const malformedJsonText = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '{',
    '}',
    '{"email":',
    '{"email":"anna@example.com"',
    '{"email": anna@example.com}',
    "{'email':'anna@example.com'}",
    '{"events":[{"kind":"call_logged",}]}',
    '[1,2,',
    'nul',
    'NaN',
    '{"a":1}{"b":2}',
    '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    '\uFEFF{"email":"bom@example.com"',
    '{"email":"\\ud800"}',
    '{"email":"\\u00"}',
  ),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 3 }).map((value) => {
    const json = JSON.stringify(value) ?? 'null';
    return json.slice(0, Math.max(0, json.length - 1));
  }),
);

const hugeNumberJson = fc
  .constantFrom(
    '1e999',
    '-1e999',
    '9'.repeat(400),
    '-0',
    '1e-999',
    '123456789012345678901234567890',
    '0x10',
    'Infinity',
    '1.7976931348623157e309',
  )
  .chain((number) =>
    fc.constantFrom(
      `{"email":${number}}`,
      `{"events":[{"kind":"call_logged","email":"a@example.com","id":${number}}]}`,
      `{"overlapSeconds":${number}}`,
      `{"from":${number},"to":${number}}`,
      `{"url":"https://crm.example.com/h","eventTypes":${number}}`,
      `{"profile":{"employees":${number}}}`,
      number,
    ),
  );

/** Valid JSON wrapped around bytes that are not UTF-8. */
const invalidUtf8 = fc
  .tuple(
    fc.constantFrom(
      '{"email":"',
      '{"url":"https://x.example/',
      '{"events":[{"kind":"',
      '{"from":"',
    ),
    fc.uint8Array({ minLength: 1, maxLength: 16 }),
    fc.constantFrom([0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]),
  )
  .map(([prefix, bytes, bad]) =>
    Buffer.concat([text(prefix), Buffer.from(bad), Buffer.from(bytes), text('"}')]),
  );

/** Multipart bodies whose boundary is missing, wrong, unterminated or never declared. */
const brokenMultipart = fc
  .tuple(
    fc.constantFrom(
      'multipart/form-data',
      'multipart/form-data; boundary=',
      'multipart/form-data; boundary=declared',
      'multipart/form-data; boundary="unterminated',
      `multipart/form-data; boundary=${'b'.repeat(300)}`,
      'multipart/mixed; boundary=declared',
    ),
    fc.constantFrom(
      '--other\r\nContent-Disposition: form-data; name="email"\r\n\r\nanna@example.com\r\n--other--\r\n',
      '--declared\r\nContent-Disposition: form-data; name="email"\r\n\r\nanna@example.com',
      '--declared\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--declared--\r\n',
      '--declared\r\n\r\n\r\n--declared--',
      '--declared--',
      'not multipart at all',
      '',
    ),
  )
  .map(([contentType, body]) => ({ contentType, body: text(body) }));

const urlencodedGarbage = fc.oneof(
  fc.constantFrom(
    'email=%ZZ%',
    'email=%E0%A4%A',
    'email=%FF%FE%FD',
    '=&=&&&=',
    'email&email&email',
    `email=${'%41'.repeat(2000)}`,
    'email[]=a&email[]=b',
    'email=not-an-email&consent=on',
    '__proto__[polluted]=1&constructor[prototype][polluted]=1',
  ),
  fc.string({ maxLength: 200 }),
  fc
    .array(fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })), { maxLength: 20 })
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&')),
);

const contentTypeArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=----fuzz',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'text/plain',
      'application/xml',
      'application/problem+json',
      'application/json; charset=utf-16',
      'application/json; charset=ISO-8859-1',
      'application/octet-stream',
      'APPLICATION/JSON',
      'application/json, text/plain',
      'application/vnd.api+json',
      '*/*',
      ';',
      '',
    ),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 1,
    arbitrary: fc
      .string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map(String.fromCharCode),
        maxLength: 60,
      })
      .map((value) => value),
  },
);

/** A header value Node's client will send: visible ASCII, tab, and obs-text (0x80-0xff). */
const headerValue = (maxLength: number) =>
  fc.string({
    unit: fc.oneof(
      { weight: 9, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map(String.fromCharCode) },
      { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map(String.fromCharCode) },
    ),
    maxLength,
  });

const authorizationArb = (secured: boolean) =>
  fc.oneof(
    // Half the requests to a secured route carry the valid key: the body must be what fails.
    { weight: secured ? 6 : 1, arbitrary: fc.constant(`Bearer ${API_KEY}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'Bearer',
        'Bearer ',
        'Bearer lsk_wrong',
        `Bearer ${API_KEY}x`,
        `Bearer ${API_KEY.slice(0, -1)}`,
        `Basic ${API_KEY}`,
        `Token ${API_KEY}`,
        `Bearer ${API_KEY} ${API_KEY}`,
        `Bearer ${'A'.repeat(8000)}`,
        'Basic Og==',
        `Basic ${Buffer.from('postmark:wrong').toString('base64')}`,
        API_KEY,
      ),
    },
    { weight: 1, arbitrary: headerValue(100) },
  );

const idempotencyKeyArb = fc.option(
  fc.oneof(
    fc.constantFrom('', ' ', 'k'.repeat(201), 'k'.repeat(4000), '\u00ff\u00fe', 'a,b', '../../etc'),
    headerValue(260),
  ),
  { nil: undefined, freq: 3 },
);

/** Extra headers: oversized (under and over Node's limit), many, and odd ones. */
const extraHeadersArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant({}) },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        accept: fc.constantFrom(
          'text/html,application/xhtml+xml',
          'application/json',
          '*/*',
          'image/png',
          '',
        ),
        origin: fc.constantFrom(ALLOWED_ORIGIN, 'https://evil.example', 'null', ''),
        'x-forwarded-for': fc.constantFrom('203.0.113.7', 'not-an-ip', '1.1.1.1, ::1, garbage', ''),
        referer: fc.constantFrom('javascript:alert(1)', 'https://www.example.com/p?q=1', '::'),
        'content-encoding': fc.constantFrom('gzip', 'br', 'identity', 'bogus'),
        'x-http-method-override': fc.constantFrom('DELETE', 'PUT'),
        'webhook-id': headerValue(40),
        'webhook-timestamp': fc.constantFrom('0', '-1', '9999999999999', 'now', ''),
        'webhook-signature': headerValue(120),
      },
      { requiredKeys: [] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { 'x-big': 'h'.repeat(8 * 1024) },
      { 'x-big': 'h'.repeat(NODE_MAX_HEADER_BYTES + 4096) },
      Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`x-many-${i}`, `v${i}`])),
      { cookie: `${'c=1; '.repeat(2000)}` },
    ),
  },
);

const queryGarbage = (names: string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant('') },
    {
      weight: 4,
      arbitrary: fc
        .array(
          fc.tuple(
            fc.constantFrom(...names, 'limit', 'cursor', 'email', 'stage', 'status', '__proto__'),
            fc.constantFrom(
              '',
              '-1',
              '0',
              '1e999',
              '99999999999999999999',
              'abc',
              '1.5',
              '%ZZ',
              '%',
              '%FF%FE',
              'not-an-email',
              'lead,qualified',
              'eyJub3QiOiJhIGN1cnNvciJ9',
              '..%2F..%2Fetc%2Fpasswd',
              'x'.repeat(3000),
              '[]',
              '%00',
            ),
          ),
          { minLength: 1, maxLength: 5 },
        )
        .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom('?', '??', '?&&&', '?limit', '?limit=1&limit=2', '?a[b][c]=d'),
    },
  );

const pathParamArb = (realIds: string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...realIds) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'sub_0000000000',
        'ct_0000000000',
        'dlv_0000000000',
        '..',
        '..%2F..%2Fetc%2Fpasswd',
        '%2e%2e%2f%2e%2e%2f',
        '%00',
        '%FF%FE',
        '%C3%A9',
        '%',
        'x'.repeat(1500),
        '__proto__',
        'constructor',
        '%20',
        "'%20OR%201=1--",
      ),
    },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~-]{1,40}$/) },
  );

/** Fills a template's `{name}` parameters with values (already URL-safe). */
function fillPath(template: string, values: string[]): string {
  let index = 0;
  return template.replace(/\{[^}]+\}/g, () => values[index++] ?? 'x');
}

interface Context {
  operations: Operation[];
  resolve: (s: JsonSchema) => JsonSchema;
  realIds: string[];
}

/** A body that is wrong for `op`: schema mutations, broken encodings, sizes and nesting. */
function malformedBody(
  op: Operation,
  resolve: (s: JsonSchema) => JsonSchema,
): fc.Arbitrary<{
  kind: string;
  contentType: string | undefined;
  body: Buffer;
  chunked?: boolean;
}> {
  const choices: fc.WeightedArbitrary<{
    kind: string;
    contentType: string | undefined;
    body: Buffer;
    chunked?: boolean;
  }>[] = [
    {
      weight: 3,
      arbitrary: fc
        .tuple(contentTypeArb, malformedJsonText)
        .map(([contentType, body]) => ({ kind: 'invalid-json', contentType, body: text(body) })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(contentTypeArb, hugeNumberJson)
        .map(([contentType, body]) => ({ kind: 'huge-number', contentType, body: text(body) })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(contentTypeArb, fc.constantFrom(DEEP_ARRAY, DEEP_OBJECT, DEEP_UNCLOSED))
        .map(([contentType, body]) => ({ kind: 'deep-json', contentType, body })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(contentTypeArb, invalidUtf8)
        .map(([contentType, body]) => ({ kind: 'invalid-utf8', contentType, body })),
    },
    {
      weight: 1,
      arbitrary: brokenMultipart.map((b) => ({ kind: 'broken-multipart', ...b })),
    },
    {
      weight: 1,
      arbitrary: urlencodedGarbage.map((body) => ({
        kind: 'urlencoded-garbage',
        contentType: 'application/x-www-form-urlencoded',
        body: text(body),
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(contentTypeArb, fc.uint8Array({ maxLength: 400 }))
        .map(([contentType, bytes]) => ({ kind: 'bytes', contentType, body: Buffer.from(bytes) })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(contentTypeArb, fc.constantFrom(OVERSIZED_JSON, OVERSIZED_BYTES), fc.boolean())
        .map(([contentType, body, chunked]) => ({
          kind: chunked ? 'oversized-chunked' : 'oversized',
          contentType,
          body,
          chunked,
        })),
    },
  ];
  if (op.bodySchema !== undefined) {
    const schema = op.bodySchema;
    const base = validValue(schema, resolve);
    // A form takes any scalar for any field and ignores the rest: only its email can be wrong.
    const mutations = mutationsOf(schema, base, resolve).filter(
      (mutation) => op.template !== FORM_ROUTE || mutation.path[0] === 'email',
    );
    if (mutations.length > 0) {
      choices.push({
        weight: 6,
        arbitrary: fc
          .tuple(
            fc.constantFrom(...mutations),
            fc.constantFrom('application/json', 'application/json; charset=utf-8'),
          )
          .map(([mutation, contentType]) => ({
            kind: `schema-${mutation.kind}`,
            contentType,
            body: text(JSON.stringify(applyMutation(base, mutation)) ?? 'null'),
          })),
      });
      // Truncated at every length: a valid document cut short is never valid JSON.
      const whole = JSON.stringify(base) ?? 'null';
      choices.push({
        weight: 2,
        arbitrary: fc.integer({ min: 0, max: Math.max(0, whole.length - 1) }).map((cut) => ({
          kind: 'truncated-json',
          contentType: 'application/json',
          body: text(whole.slice(0, cut)),
        })),
      });
    }
  }
  return fc.oneof(...choices);
}

/**
 * Form bodies in all three encodings, well-formed except that the email is never a usable
 * address (missing, wrong type, not an address, too long): each must be refused.
 */
const brokenEmail = fc.constantFrom<unknown>(
  undefined,
  '',
  ' ',
  'not-an-email',
  'a@b',
  '@example.com',
  'anna@',
  `${'x'.repeat(250)}@example.com`,
  'anna@example.com\r\nBcc: x@example.com',
  ['anna@example.com'],
  { address: 'anna@example.com' },
  null,
);
const formFieldsArb = fc
  .tuple(
    brokenEmail,
    fc.record(
      {
        name: fc.oneof(fc.string({ maxLength: 30 }), fc.constant('n'.repeat(500))),
        company: fc.string({ maxLength: 30 }),
        firma: fc.string({ maxLength: 30 }),
        employees: fc.constantFrom('12', '-1', '1e9', 'many', '9999999999'),
        annualRevenue: fc.constantFrom('8000000,50', 'lots', '1e999'),
        country: fc.constantFrom('DE', 'Germany', '', '12'),
        consent: fc.constantFrom('on', 'yes', '', 'off'),
        _started: fc.constantFrom('0', 'yesterday', String(Date.now() + 60_000), '-1'),
        utm_source: fc.string({ maxLength: 20 }),
      },
      { requiredKeys: [] },
    ),
  )
  .map(([email, fields]) =>
    email === undefined ? fields : ({ ...fields, email } as Record<string, unknown>),
  );

const formBodyArb: fc.Arbitrary<Payload> = fc
  .tuple(formFieldsArb, fc.constantFrom('json', 'urlencoded', 'multipart'))
  .map(([fields, encoding]) => {
    if (encoding === 'json') {
      return {
        kind: 'form-bad-email',
        contentType: 'application/json',
        body: text(JSON.stringify(fields)),
      };
    }
    const pairs = Object.entries(fields).map(
      ([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)] as [string, string],
    );
    if (encoding === 'urlencoded') {
      return {
        kind: 'form-bad-email',
        contentType: 'application/x-www-form-urlencoded',
        body: text(new URLSearchParams(pairs).toString()),
      };
    }
    const boundary = '----fuzzboundary';
    const parts = pairs
      .map(
        ([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`,
      )
      .join('');
    return {
      kind: 'form-bad-email',
      contentType: `multipart/form-data; boundary=${boundary}`,
      body: text(`${parts}--${boundary}--\r\n`),
    };
  });

/** Requests to one documented operation. */
function operationRequest(op: Operation, ctx: Context): fc.Arbitrary<FuzzRequest> {
  const isForm = op.template === FORM_ROUTE;
  const isProviderRoute = op.template.startsWith('/v1/webhooks/email/');
  const pathValues = fc.tuple(
    ...op.pathParams.map((name) =>
      name === 'formId'
        ? fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom('contact', 'demo') },
            { weight: 1, arbitrary: pathParamArb(['nope']) },
          )
        : name === 'provider'
          ? fc.constantFrom('postmark', 'mailgun', 'sendgrid', 'ses', 'generic', 'unknown')
          : pathParamArb(ctx.realIds),
    ),
  );
  const hasBody = op.bodySchema !== undefined || isForm || isProviderRoute;
  const bodyArb = hasBody
    ? isForm
      ? fc.oneof(
          { weight: 2, arbitrary: formBodyArb },
          { weight: 3, arbitrary: malformedBody(op, ctx.resolve) },
        )
      : malformedBody(op, ctx.resolve)
    : fc.option(malformedBody(op, ctx.resolve), { nil: undefined, freq: 2 });
  return fc
    .record({
      pathValues,
      query: queryGarbage(op.queryParams),
      authorization: authorizationArb(op.secured),
      idempotencyKey: idempotencyKeyArb,
      extra: extraHeadersArb,
      payload: bodyArb,
    })
    .filter(({ pathValues: values, authorization, payload }) => {
      // With the valid key, a request on the seeded subscription must be malformed by its
      // body: a body-less DELETE, ping or redeliver on it would be a valid request.
      const onRealId = values.some((value) => ctx.realIds.includes(value));
      const validKey = authorization === `Bearer ${API_KEY}`;
      return !(onRealId && validKey && (payload === undefined || op.bodySchema === undefined));
    })
    .map(({ pathValues: values, query, authorization, idempotencyKey, extra, payload }) => {
      const headers: Record<string, string> = { ...extra };
      if (authorization !== undefined) headers.authorization = authorization;
      if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
      if (payload?.contentType !== undefined) headers['content-type'] = payload.contentType;
      const method = op.method;
      return {
        kind: payload?.kind ?? 'no-body',
        route: isProviderRoute ? `${op.template} (${values[0]})` : op.template,
        method,
        path: `${fillPath(op.template, values)}${query}`,
        headers,
        body: method === 'GET' || method === 'HEAD' ? undefined : payload?.body,
        chunked: payload?.chunked ?? false,
      };
    });
}

// ---------------------------------------------------------------------------------------
// Provider webhooks: forged, replayed, and correctly signed but malformed

const nowSeconds = () => Math.floor(Date.now() / 1000);
const STALE_SECONDS = 2 * 24 * 60 * 60;

const garbagePayload = fc.oneof(
  fc.constantFrom('', '{}', '[]', 'null', '{"events":[]}', '{"type":"email.bounced"}', '<xml/>'),
  malformedJsonText,
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null'),
);

function mailgunSignature(timestamp: string, token: string): string {
  return createHmac('sha256', MAILGUN_KEY)
    .update(timestamp + token)
    .digest('hex');
}

const providerRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    fc.constantFrom('postmark', 'mailgun', 'sendgrid', 'ses', 'generic', 'sendgrid-parse'),
    fc.constantFrom('forged', 'replayed', 'signed-garbage', 'unsigned'),
    garbagePayload,
    fc.nat(),
  )
  .map(([provider, how, generated, n]): FuzzRequest => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    // With valid credentials, text holding an address can be a real message (a reply "From"
    // someone): garbage has none.
    const payload = how === 'signed-garbage' ? generated.replaceAll('@', '(at)') : generated;
    let body = payload;
    let path = `/v1/webhooks/email/${provider}`;
    const id = `msg_fuzz_${n}_${randomBytes(4).toString('hex')}`;
    const ts = how === 'replayed' ? nowSeconds() - STALE_SECONDS : nowSeconds();
    switch (provider) {
      case 'postmark': {
        const credentials =
          how === 'forged' || how === 'replayed'
            ? `${POSTMARK.username}:wrong-${n}`
            : `${POSTMARK.username}:${POSTMARK.password}`;
        if (how !== 'unsigned') {
          headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
        }
        break;
      }
      case 'mailgun': {
        const token = randomBytes(25).toString('hex');
        const timestamp = String(ts);
        const signature =
          how === 'forged'
            ? mailgunSignature(timestamp, `${token}x`)
            : mailgunSignature(timestamp, token);
        let eventData: unknown;
        try {
          eventData = JSON.parse(payload);
        } catch {
          eventData = payload;
        }
        body =
          how === 'unsigned'
            ? JSON.stringify({ 'event-data': eventData })
            : JSON.stringify({
                signature: { timestamp, token, signature },
                'event-data': eventData,
              });
        break;
      }
      case 'sendgrid': {
        const timestamp = String(ts);
        if (how !== 'unsigned') {
          const signed = createSign('sha256')
            .update(timestamp + (how === 'forged' ? `${payload} ` : payload))
            .sign(sendgridKeys.privateKey)
            .toString('base64');
          headers['x-twilio-email-event-webhook-signature'] = signed;
          headers['x-twilio-email-event-webhook-timestamp'] = timestamp;
        }
        break;
      }
      case 'sendgrid-parse': {
        path = '/v1/webhooks/email/sendgrid';
        const credentials =
          how === 'signed-garbage'
            ? `${PARSE_AUTH.username}:${PARSE_AUTH.password}`
            : `${PARSE_AUTH.username}:wrong`;
        if (how !== 'unsigned') {
          headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
        }
        const boundary = `parse${n}`;
        headers['content-type'] = `multipart/form-data; boundary=${boundary}`;
        body =
          `--${boundary}\r\nContent-Disposition: form-data; name="from"\r\n\r\n${payload}\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n${payload}\r\n--${boundary}--\r\n`;
        break;
      }
      case 'ses': {
        // Never a forged envelope that passes every check up to fetching AWS's certificate:
        // that fetch goes to the internet, and failing it answers 5xx on purpose (SNS retries).
        const timestamp = new Date(ts * 1000).toISOString();
        const variants = [
          { TopicArn: 'arn:aws:sns:eu-central-1:999999999999:other', Timestamp: timestamp },
          {
            TopicArn: SES_TOPIC,
            Timestamp: new Date((nowSeconds() - STALE_SECONDS) * 1000).toISOString(),
          },
          {
            TopicArn: SES_TOPIC,
            Timestamp: timestamp,
            SigningCertURL: 'https://sns.eu-central-1.amazonaws.com.evil.example/cert.pem',
          },
          {
            TopicArn: SES_TOPIC,
            Timestamp: timestamp,
            SigningCertURL: 'http://sns.eu-central-1.amazonaws.com/x.pem',
          },
          { TopicArn: SES_TOPIC, Timestamp: timestamp, SignatureVersion: '3' },
          { TopicArn: SES_TOPIC, Timestamp: 'not a date' },
        ];
        const variant = variants[n % variants.length];
        const envelope = {
          Type: 'Notification',
          MessageId: id,
          Message: payload,
          SignatureVersion: '1',
          Signature: randomBytes(64).toString('base64'),
          SigningCertURL:
            'https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-0000.pem',
          ...variant,
        };
        body = how === 'unsigned' ? payload : JSON.stringify(envelope);
        headers['x-amz-sns-message-type'] = 'Notification';
        break;
      }
      case 'generic': {
        if (how !== 'unsigned') {
          const signed = new Webhook(GENERIC_SECRET).sign(id, new Date(ts * 1000), payload);
          headers['webhook-id'] = id;
          headers['webhook-timestamp'] = String(ts);
          headers['webhook-signature'] =
            how === 'forged' ? signed.replace(/,.{4}/, ',AAAA') : signed;
        }
        break;
      }
    }
    return {
      kind: `provider-${how}`,
      route: `/v1/webhooks/email/{provider} (${provider})`,
      method: 'POST',
      path,
      headers,
      body: text(body),
      chunked: false,
    };
  });

// ---------------------------------------------------------------------------------------
// Unknown paths and methods

const unknownRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: fc.constantFrom(
      'GET',
      'POST',
      'PUT',
      'PATCH',
      'DELETE',
      'HEAD',
      'OPTIONS',
      'PROPFIND',
      'PURGE',
      'SEARCH',
    ),
    path: fc.oneof(
      fc.constantFrom(
        '/',
        '/v1',
        '/v1/',
        '/v2/events',
        '/v1/forms',
        '/v1/forms/contact',
        '/v1/webhooks/email/',
        '/v1/../../../../etc/passwd',
        '/..%2f..%2f..%2fetc%2fpasswd',
        '/%2e%2e/%2e%2e/etc/passwd',
        '/v1/forms/..%2f..%2fetc/submissions',
        '/v1/events/../subscriptions',
        '//v1//events',
        '/v1/events%00',
        '/v1/events;jsessionid=1',
        '/v1/%FF%FE',
        '/v1/%',
        '/static/../../package.json',
        '/.env',
        '/.git/config',
        '/node_modules/.bin/node',
        `/${'a'.repeat(6000)}`,
        '/V1/EVENTS',
        '/healthz/',
        '/openapi.json/..',
        '/docs/../openapi.json',
      ),
      fc
        .tuple(
          fc.constantFrom('/v1/', '/', '/v1/subscriptions/', '/v1/contacts/'),
          fc.stringMatching(/^[A-Za-z0-9._~%+/-]{0,40}$/),
        )
        .map(([prefix, rest]) => `${prefix}${rest}`),
    ),
    auth: fc.boolean(),
    payload: fc.option(fc.tuple(contentTypeArb, malformedJsonText), { nil: undefined }),
  })
  .map(({ method, path, auth, payload }) => {
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = `Bearer ${API_KEY}`;
    if (payload?.[0] !== undefined) headers['content-type'] = payload[0];
    return {
      kind: 'unknown-route',
      route: 'unknown',
      method,
      path,
      headers,
      body:
        method === 'GET' || method === 'HEAD' || payload === undefined
          ? undefined
          : text(payload[1]),
      chunked: false,
    };
  });

// ---------------------------------------------------------------------------------------
// Sending and checking

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function send(base: URL, request: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...request.headers };
    if (request.body !== undefined) {
      // Node's client frames a DELETE's body only when told to; unframed, the bytes would
      // reach the server as a second, garbage request.
      if (request.chunked) headers['transfer-encoding'] = 'chunked';
      else headers['content-length'] = request.body.length;
    }
    let settled = false;
    const req = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: request.method,
        path: request.path,
        // A connection per request (Connection: close), so that an answer, or its absence,
        // belongs to its own request and not to what an earlier one left on a shared socket.
        headers: { connection: 'close', ...headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          settled = true;
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          });
        });
        res.on('error', (error) => {
          if (!settled) reject(error);
        });
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
    // The server may answer (413) and close before the whole body is written: the answer counts.
    req.on('error', (error) => {
      if (!settled) {
        // Give a response that is already on its way a moment to arrive.
        setTimeout(() => {
          if (!settled) reject(error);
        }, 50);
      }
    });
    if (request.body === undefined) {
      req.end();
    } else if (request.chunked) {
      const size = 16 * 1024;
      for (let offset = 0; offset < request.body.length; offset += size) {
        if (req.destroyed) break;
        req.write(request.body.subarray(offset, offset + size));
      }
      req.end();
    } else {
      req.end(request.body);
    }
  });
}

// Stack frames, not file names: a 404 may echo a path like /node_modules/x back.
const STACK_TRACE = /\n\s+at\s|\bat\s\S+\s\(.*:\d+:\d+\)|file:\/\/\/|\.[cm]?[jt]s:\d+:\d+/;
const headerBytes = (request: FuzzRequest) =>
  Object.entries(request.headers).reduce((sum, [k, v]) => sum + k.length + v.length + 4, 0) +
  request.path.length;

/** What is wrong with this answer to this request, or undefined. */
function violation(request: FuzzRequest, answer: Answer): string | undefined {
  if (answer.status >= 500) return `answered ${answer.status}`;
  if (answer.status < 400) {
    // The answers that say something was queued (a form's 202 may also be dropped spam, so
    // forms are left to the SQS count after the run).
    if (request.method === 'POST' && request.route === '/v1/events' && answer.status === 202) {
      return 'accepted and queued (202)';
    }
    if (request.route.startsWith('/v1/webhooks/email/') && answer.status === 200) {
      let accepted: unknown;
      try {
        accepted = (JSON.parse(answer.body.toString('utf8')) as { accepted?: unknown }).accepted;
      } catch {
        return 'a webhook answered 200 without a JSON body';
      }
      if (accepted !== 0) return `accepted and queued ${String(accepted)} event(s)`;
    }
    return undefined;
  }
  const contentType = String(answer.headers['content-type'] ?? '');
  const bodyText = answer.body.toString('utf8');
  if (STACK_TRACE.test(bodyText)) return 'stack trace in the body';
  if (
    contentType.startsWith('text/html') &&
    request.method === 'POST' &&
    /^\/v1\/forms\/[^/]+\/submissions/.test(request.path) &&
    /text\/html/.test(request.headers.accept ?? '')
  ) {
    // A browser posting a plain HTML form gets an error page (documented in the OpenAPI).
    return undefined;
  }
  if (
    answer.status === 431 &&
    contentType === '' &&
    headerBytes(request) > NODE_MAX_HEADER_BYTES - 1024
  ) {
    // Node's HTTP parser refuses headers over its limit before the app sees the request.
    return undefined;
  }
  if (!contentType.startsWith('application/problem+json')) {
    return `${answer.status} with content-type "${contentType}"`;
  }
  if (request.method === 'HEAD') return undefined;
  try {
    const document = JSON.parse(bodyText) as { status?: unknown; type?: unknown; title?: unknown };
    if (document.status !== answer.status)
      return `problem status ${document.status} != ${answer.status}`;
    if (typeof document.type !== 'string' || typeof document.title !== 'string') {
      return 'problem without type or title';
    }
  } catch {
    return 'problem+json body is not JSON';
  }
  return undefined;
}

function describeRequest(index: number, request: FuzzRequest): string {
  const headers = Object.entries(request.headers)
    .map(([k, v]) => `${k}: ${v.length > 80 ? `${v.slice(0, 80)}...(${v.length})` : v}`)
    .join(' | ');
  const body =
    request.body === undefined
      ? '(none)'
      : `${JSON.stringify(request.body.subarray(0, 160).toString('latin1'))}${request.body.length > 160 ? `...(${request.body.length} bytes)` : ''}`;
  const path =
    request.path.length > 200
      ? `${request.path.slice(0, 200)}...(${request.path.length})`
      : request.path;
  return `#${index} [${request.kind}${request.chunked ? ', chunked' : ''}] ${request.method} ${path}\n    headers: ${headers}\n    body: ${body}`;
}

/** Collects error-level log lines (an unexpected error is logged before it becomes a 500). */
function recordingLogger(): Logger & { errors: { message: string; fields?: unknown }[] } {
  const errors: { message: string; fields?: unknown }[] = [];
  return {
    ...silentLogger,
    errors,
    error(message, fields) {
      errors.push({ message, fields });
    },
  };
}

describe('fuzzing every route of the running pipeline over HTTP', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let runtime: LocalRuntime;
  const meter = new UsageMeter();
  const logger = recordingLogger();
  let sqs: SQSClient;

  beforeAll(async () => {
    dir = await makeTempDir('leadstage-fuzz-');
    runtime = await startLocalRuntime({
      dataDir: dir.path,
      port: 0,
      host: '127.0.0.1',
      apiKey: API_KEY,
      config,
      logger,
      meter,
      sweepIntervalMs: 5_000,
    });
    sqs = new SQSClient({
      region: 'us-east-1',
      endpoint: runtime.endpoints.sqs,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    sqs?.destroy();
    await runtime?.stop();
    await dir?.remove();
  });

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${runtime.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${API_KEY}`, ...(init.headers as Record<string, string>) },
    });

  const queueDepth = (url: string) => sqsQueueDepth(sqs, url);

  it(`answers ${REQUESTS} malformed requests with 4xx problems, queues nothing, and stays healthy`, async () => {
    console.log(`fuzz: FUZZ_SEED=${SEED} FUZZ_REQUESTS=${REQUESTS} (replay with these)`);

    // A subscription that exists, so that requests on a real id get past the lookup.
    const seeded = await api('/v1/subscriptions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'http://127.0.0.1:9/fuzz-hook', description: 'fuzz seed' }),
    });
    expect(seeded.status).toBe(201);
    const subscription = (await seeded.json()) as { id: string };
    const subscriptionsBefore = await (await api('/v1/subscriptions')).json();

    const document = (await (await fetch(`${runtime.url}/openapi.json`)).json()) as OpenApiDocument;
    const operations = operationsOf(document);
    expect(operations.length).toBeGreaterThan(10);
    const ctx: Context = {
      operations,
      resolve: resolver(document),
      realIds: [subscription.id, 'dlv_0000000001'],
    };
    const requestArb = fc.oneof(
      { weight: 8, arbitrary: fc.oneof(...operations.map((op) => operationRequest(op, ctx))) },
      { weight: 2, arbitrary: providerRequest },
      { weight: 1, arbitrary: unknownRequest },
    );
    const sample = fc.sample(requestArb, { seed: SEED, numRuns: REQUESTS });
    const indexes = ONLY ?? sample.map((_, index) => index);
    const requests = indexes.map((index) => sample[index] as FuzzRequest);

    meter.reset();
    const sqsSends = () => {
      const usage = meter.snapshot().requests;
      return (usage['SQS.SendMessage'] ?? 0) + (usage['SQS.SendMessageBatch'] ?? 0);
    };
    const base = new URL(runtime.url);
    const byClass: Record<string, number> = {};
    const byRoute: Record<string, Record<string, number>> = {};
    const byKind: Record<string, number> = {};
    const failures: string[] = [];
    /** Writes answered 2xx: spam dropped as if accepted, webhooks with nothing to queue. */
    const acceptedWrites: string[] = [];
    let failureCount = 0;
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < requests.length) {
        const position = next++;
        const index = indexes[position] as number;
        const request = requests[position] as FuzzRequest;
        const sendsBefore = sqsSends();
        let problem: string | undefined;
        let status = 'error';
        try {
          const answer = await send(base, request);
          status = String(answer.status);
          problem = violation(request, answer);
          if (problem !== undefined) {
            problem += `; body: ${answer.body.subarray(0, 300).toString('utf8')}`;
          }
        } catch (error) {
          problem = `no answer: ${(error as Error).message}`;
        }
        // One at a time, a send is this request's own; concurrently it is found after the run.
        if (problem === undefined && CONCURRENCY === 1 && sqsSends() > sendsBefore) {
          problem = `queued ${sqsSends() - sendsBefore} SQS message(s)`;
        }
        const statusClass = status === 'error' ? 'error' : `${status[0]}xx`;
        byClass[statusClass] = (byClass[statusClass] ?? 0) + 1;
        const routeKey = `${request.method} ${request.route}`;
        const route = byRoute[routeKey] ?? {};
        byRoute[routeKey] = route;
        route[statusClass] = (route[statusClass] ?? 0) + 1;
        byKind[request.kind] = (byKind[request.kind] ?? 0) + 1;
        if (
          problem === undefined &&
          /^2/.test(status) &&
          !['GET', 'HEAD'].includes(request.method) &&
          acceptedWrites.length < 40
        ) {
          acceptedWrites.push(`${describeRequest(index, request)}\n    -> ${status}`);
        }
        if (problem !== undefined) {
          failureCount++;
          if (failures.length < 15)
            failures.push(`${describeRequest(index, request)}\n    -> ${problem}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsedMs = performance.now() - started;

    const usage = meter.snapshot().requests;
    console.log(
      [
        `fuzz: ${requests.length} requests in ${(elapsedMs / 1000).toFixed(1)} s (${((requests.length / elapsedMs) * 1000).toFixed(0)} req/s), seed ${SEED}`,
        `  by status class: ${JSON.stringify(byClass)}`,
        `  by kind: ${JSON.stringify(byKind)}`,
        '  by route:',
        ...Object.entries(byRoute)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([route, classes]) => `    ${route.padEnd(72)} ${JSON.stringify(classes)}`),
        `  SQS requests during the fuzz: ${JSON.stringify(
          Object.fromEntries(Object.entries(usage).filter(([op]) => op.startsWith('SQS.'))),
        )}`,
        `  writes answered 2xx (first ${acceptedWrites.length}; none may queue):`,
        ...acceptedWrites,
        `  violations: ${failureCount}`,
        ...failures,
      ].join('\n'),
    );

    // Soft: every broken promise of the run is reported at once, not just the first.
    expect.soft(failures, `${failureCount} violations (seed ${SEED})`).toEqual([]);
    expect.soft(byClass['5xx'] ?? 0).toBe(0);
    expect.soft(logger.errors).toEqual([]);

    // Nothing queued: not one SendMessage, and both queues empty.
    const queuedBy = 'replay with FUZZ_CONCURRENCY=1 to name the requests that queued';
    expect.soft(usage['SQS.SendMessage'] ?? 0, `SendMessage: ${queuedBy}`).toBe(0);
    expect.soft(usage['SQS.SendMessageBatch'] ?? 0, `SendMessageBatch: ${queuedBy}`).toBe(0);
    expect.soft(await queueDepth(runtime.queues.ingest.url)).toBe(0);
    expect.soft(await queueDepth(runtime.queues.delivery.url)).toBe(0);

    // Nothing created or changed.
    expect.soft(await (await api('/v1/subscriptions')).json()).toEqual(subscriptionsBefore);
    for (const stage of STAGES) {
      const listed = await api(`/v1/contacts?stage=${stage}`);
      expect.soft(listed.status).toBe(200);
      expect.soft(((await listed.json()) as { items?: unknown[] }).items, stage).toEqual([]);
    }

    // Still healthy: /healthz, and one valid submission is queued once and classified. The
    // seeded subscription goes first, so the only SQS send is the submission's own.
    expect((await fetch(`${runtime.url}/healthz`)).status).toBe(200);
    expect(
      (await api(`/v1/subscriptions/${subscription.id}`, { method: 'DELETE' })).status,
    ).toBeLessThan(300);
    meter.reset();
    const submitted = await fetch(`${runtime.url}/v1/forms/contact/submissions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'after.fuzz@example.com', name: 'After Fuzz' }),
    });
    expect(submitted.status).toBe(202);
    let found: { items: { id: string; email: string; stage: string }[] } = { items: [] };
    const deadline = Date.now() + 20_000;
    while (found.items.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      found = (await (
        await api('/v1/contacts?email=after.fuzz%40example.com')
      ).json()) as typeof found;
    }
    expect(found.items).toHaveLength(1);
    expect(found.items[0]).toMatchObject({ email: 'after.fuzz@example.com', stage: 'lead' });
    const after = meter.snapshot().requests;
    expect((after['SQS.SendMessage'] ?? 0) + (after['SQS.SendMessageBatch'] ?? 0)).toBe(1);
    // The poller deletes the message once the handler is done, a moment after the contact is
    // visible: the queue empties then.
    let depth = await queueDepth(runtime.queues.ingest.url);
    for (let tries = 0; depth > 0 && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      depth = await queueDepth(runtime.queues.ingest.url);
    }
    expect(depth).toBe(0);
  });
});
