import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { parseAppConfig } from '../../../lib/config/app-config.ts';
import { eventEnvelopeSchema } from '../../../lib/domain/events.ts';
import { MAX_BODY_BYTES } from '../../../lib/ingest/app.ts';
import { API_KEY, TEST_NOW, testApi } from '../support/api.ts';

/**
 * Fuzzing the whole HTTP app with fast-check: arbitrary methods, paths, content types,
 * bodies and headers against every route. Whatever arrives:
 *   - the answer is never a 5xx;
 *   - every 4xx under /v1 is problem+json (whose `status` matches), or an HTML page for a
 *     browser posting a form;
 *   - nothing is queued unless the answer is a success, and what is queued is an envelope
 *     the classify step can read;
 *   - a body that is not a well-formed submission (random text, random JSON, bytes) queues
 *     nothing.
 */

const GENERIC_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const ALLOWED_ORIGIN = 'https://www.example.com';
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

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
        doubleOptIn: true,
        honeypotField: 'hp',
        minFillSeconds: 5,
        defaultCurrency: 'CHF',
      },
    ],
  },
  'fuzz',
);

/** Runs per property scale with FUZZ_SCALE (e.g. FUZZ_SCALE=10 for a deeper local run). */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1) || 1;
const runs = (count: number) => Math.round(count * SCALE);
const TIMEOUT_MS = 30_000 * SCALE;

function fuzzApi() {
  return testApi({ config, providers: { generic: { secret: GENERIC_SECRET } } });
}

// ---------------------------------------------------------------------------------------
// Arbitraries

/** Printable ASCII: what the Headers class accepts as a value. */
const headerValue = (maxLength = 80) =>
  fc
    .array(
      fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
      { maxLength },
    )
    .map((chars) => chars.join(''));

const optionalHeader = (...choices: fc.Arbitrary<string>[]) =>
  fc.option(fc.oneof(...choices), { nil: undefined });

const KNOWN_PATHS = [
  '/v1/forms/contact/submissions',
  '/v1/forms/demo/submissions',
  '/v1/forms/nope/submissions',
  '/v1/forms/contact/thanks',
  '/v1/forms/nope/thanks',
  '/v1/forms/contact',
  '/v1/events',
  '/v1/subscriptions',
  '/v1/subscriptions/sub_0123',
  '/v1/webhooks/email/generic',
  '/v1/webhooks/email/postmark',
  '/v1/webhooks/email/mailgun',
  '/v1/webhooks/email/sendgrid',
  '/v1/webhooks/email/ses',
  '/v1/webhooks/email/unknown',
  '/v1/webhooks/email/',
  '/healthz',
  '/openapi.json',
  '/docs',
  '/',
  '/v1',
  '/v1/',
  '/v2/events',
];

const segment = fc.stringMatching(/^[A-Za-z0-9._~%+-]{0,12}$/);
const pathArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...KNOWN_PATHS) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('/v1/forms/', '/v1/webhooks/email/', '/v1/', '/'), segment, segment)
      .map(([prefix, a, b]) => `${prefix}${a}${b ? `/${b}` : ''}`),
  },
);

const methodArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant('POST') },
  { weight: 2, arbitrary: fc.constantFrom('GET', 'OPTIONS') },
  { weight: 1, arbitrary: fc.constantFrom('PUT', 'PATCH', 'DELETE', 'HEAD') },
);

const contentTypeArb = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=----fuzzboundary',
      'multipart/form-data',
      'text/plain',
      'application/problem+json',
      'application/x-www-form-urlencoded; charset=ISO-8859-1',
    ),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: headerValue(40) },
);

const HUGE_UNDER = 'x'.repeat(MAX_BODY_BYTES - 64);
const HUGE_OVER = 'x'.repeat(MAX_BODY_BYTES + 1);
const HUGE_JSON_UNDER = JSON.stringify({ email: 'anna@example.com', name: HUGE_UNDER.slice(40) });
const HUGE_JSON_OVER = JSON.stringify({ email: 'anna@example.com', name: HUGE_OVER });

/** Bodies that are no well-formed submission of any route. */
const garbageBody: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 300 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  // Invalid UTF-8 inside something that looks like JSON.
  {
    weight: 1,
    arbitrary: fc
      .uint8Array({ minLength: 1, maxLength: 20 })
      .map((bytes) =>
        Uint8Array.from([
          ...Buffer.from('{"email":"'),
          0xff,
          0xc3,
          ...bytes,
          ...Buffer.from('@example.com"}'),
        ]),
      ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', '{}', '[]', 'null', '{"events":[]}', '{"events":null}'),
  },
  { weight: 1, arbitrary: fc.constantFrom(HUGE_UNDER, HUGE_OVER) },
);

const emailArb = fc.oneof(
  fc.constantFrom(
    'anna@example.com',
    'Max.Muster@Example.DE',
    ' padded@example.org ',
    'not-an-email',
    '',
    'a@b',
    `${'x'.repeat(250)}@example.com`,
  ),
  fc.string({ maxLength: 30 }),
);

const fieldValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('on', 'yes', '0', '42', '8000000,50', 'de', 'CHF', '', ' '),
);

/** Well-formed form bodies, valid or not: realistic fields with realistic and random values. */
const formFields = fc
  .record(
    {
      email: emailArb,
      name: fieldValue,
      firma: fieldValue,
      vorname: fieldValue,
      company: fieldValue,
      employees: fieldValue,
      umsatz: fieldValue,
      currency: fieldValue,
      country: fieldValue,
      consent: fieldValue,
      hp: fc.constantFrom('', 'http://spam.example'),
      website_url: fc.constantFrom('', 'http://spam.example'),
      _started: fc.oneof(
        fc.integer({ min: -20_000, max: 120_000 }).map((ago) => String(TEST_NOW.getTime() - ago)),
        fc.string({ maxLength: 15 }),
      ),
      _page: fc.oneof(fc.webUrl({ withQueryParameters: true }), fc.string({ maxLength: 40 })),
      utm_source: fieldValue,
    },
    { requiredKeys: [] },
  )
  .chain((fields) =>
    fc
      .dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 20 }), { maxKeys: 3 })
      .map((extra) => ({ ...extra, ...fields }) as Record<string, string>),
  );

type Body = string | Uint8Array | { formData: [string, string][] };

const formBody: fc.Arbitrary<{ contentType: string | undefined; body: Body }> = fc
  .tuple(formFields, fc.constantFrom('json', 'urlencoded', 'multipart'))
  .map(([fields, encoding]) => {
    if (encoding === 'json')
      return { contentType: 'application/json', body: JSON.stringify(fields) };
    if (encoding === 'urlencoded')
      return {
        contentType: 'application/x-www-form-urlencoded',
        body: new URLSearchParams(fields).toString(),
      };
    // FormData sets its own multipart content type with the boundary.
    return { contentType: undefined, body: { formData: Object.entries(fields) } };
  });

const activityItem = fc.record(
  {
    kind: fc.constantFrom(
      'call_logged',
      'meeting_held',
      'quote_requested',
      'contact_imported',
      'budget_confirmed',
      'decision_maker_identified',
      'email_opened',
      'coffee_had',
    ),
    id: fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.constant('x'.repeat(199))),
    email: emailArb,
    occurredAt: fc.oneof(
      fc.constantFrom('2025-02-28T09:30:00+01:00', '2025-03-01T10:00:00Z', 'yesterday', ''),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    ),
    direction: fc.constantFrom('inbound', 'outbound', 'sideways'),
    reached: fc.oneof(fc.boolean(), fc.constant('yes')),
    profile: fc.record(
      { firstName: fieldValue, country: fieldValue, employees: fc.oneof(fc.nat(), fc.integer()) },
      { requiredKeys: [] },
    ),
    budget: fc.record({ amount: fc.double(), currency: fc.constantFrom('EUR', 'eur', 'EURO') }),
  },
  { requiredKeys: ['kind'] },
);

const eventsBody: fc.Arbitrary<{ contentType: string | undefined; body: Body }> = fc
  .array(
    fc.oneof({ weight: 9, arbitrary: activityItem }, { weight: 1, arbitrary: fc.jsonValue() }),
    {
      minLength: 0,
      maxLength: 6,
    },
  )
  .map((events) => ({ contentType: 'application/json', body: JSON.stringify({ events }) }));

interface FuzzRequest {
  path: string;
  method: string;
  contentType: string | undefined;
  body: Body | undefined;
  headers: Record<string, string>;
  /** False for garbage bodies: no route may queue anything for them. */
  wellFormed: boolean;
}

const headersArb = fc
  .record({
    authorization: optionalHeader(
      fc.constant(`Bearer ${API_KEY}`),
      fc.constant(`bearer   ${API_KEY}  `),
      fc.constant('Bearer lsk_wrong'),
      headerValue(60),
    ),
    accept: optionalHeader(
      fc.constantFrom(
        BROWSER_ACCEPT,
        'application/json',
        '*/*',
        'text/html',
        'application/json, text/html',
      ),
      headerValue(40),
    ),
    origin: optionalHeader(
      fc.constantFrom(ALLOWED_ORIGIN, 'https://evil.example', 'null'),
      headerValue(40),
    ),
    'idempotency-key': optionalHeader(headerValue(250)),
    'x-forwarded-for': optionalHeader(fc.constant('203.0.113.7, 10.0.0.1'), headerValue(120)),
    referer: optionalHeader(fc.webUrl({ withQueryParameters: true }), headerValue(60)),
    'webhook-id': optionalHeader(headerValue(30)),
    'webhook-timestamp': optionalHeader(
      fc.constant(String(Math.floor(Date.now() / 1000))),
      headerValue(15),
    ),
    'webhook-signature': optionalHeader(headerValue(100)),
    'access-control-request-method': optionalHeader(fc.constant('POST')),
  })
  .map(
    (headers) =>
      Object.fromEntries(
        Object.entries(headers).filter(([, value]) => value !== undefined),
      ) as Record<string, string>,
  );

const requestArb: fc.Arbitrary<FuzzRequest> = fc
  .record({
    path: pathArb,
    method: methodArb,
    headers: headersArb,
    payload: fc.oneof(
      {
        weight: 3,
        arbitrary: fc
          .tuple(contentTypeArb, garbageBody)
          .map(([contentType, body]) => ({ contentType, body, wellFormed: false })),
      },
      { weight: 2, arbitrary: formBody.map((payload) => ({ ...payload, wellFormed: true })) },
      { weight: 1, arbitrary: eventsBody.map((payload) => ({ ...payload, wellFormed: true })) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(HUGE_JSON_UNDER, HUGE_JSON_OVER).map((body) => ({
          contentType: 'application/json',
          body,
          wellFormed: true,
        })),
      },
      {
        weight: 1,
        arbitrary: fc.constant({ contentType: undefined, body: undefined, wellFormed: false }),
      },
    ),
  })
  .map(({ path, method, headers, payload }) => ({
    path,
    method,
    headers,
    contentType: payload.contentType,
    // GET and HEAD carry no body.
    body: method === 'GET' || method === 'HEAD' ? undefined : payload.body,
    wellFormed: payload.wellFormed,
  }));

// ---------------------------------------------------------------------------------------
// Running and checking

function toInit(request: FuzzRequest): RequestInit {
  const headers: Record<string, string> = { ...request.headers };
  if (request.contentType !== undefined) headers['content-type'] = request.contentType;
  let body: RequestInit['body'];
  if (request.body instanceof Uint8Array || typeof request.body === 'string') body = request.body;
  else if (request.body !== undefined) {
    const form = new FormData();
    for (const [name, value] of request.body.formData) form.append(name, value);
    body = form;
  }
  return { method: request.method, headers, ...(body === undefined ? {} : { body }) };
}

const isFormPost = (request: FuzzRequest) =>
  request.method === 'POST' && /^\/v1\/forms\/[^/]+\/submissions$/.test(request.path);

type Api = ReturnType<typeof fuzzApi>;

/** Sends one request and checks every invariant; returns the answer for further checks. */
async function check(api: Api, request: FuzzRequest): Promise<Response> {
  const before = api.ingestQueue.sent.length;
  const response = await api.app.request(request.path, toInit(request));
  const added = api.ingestQueue.sent.slice(before);
  const contentType = response.headers.get('content-type') ?? '';
  const label = `${request.method} ${request.path} -> ${response.status} ${contentType}`;

  expect(response.status, label).toBeLessThan(500);
  expect(response.status, label).toBeGreaterThanOrEqual(200);

  if (request.path.startsWith('/v1') && response.status >= 400) {
    if (contentType.startsWith('text/html')) {
      // Only a browser posting a form gets an HTML error page.
      expect(isFormPost(request), label).toBe(true);
    } else {
      expect(contentType, label).toMatch(/^application\/problem\+json/);
      if (request.method !== 'HEAD') {
        const document = (await response.json()) as { status: number; type: string; title: string };
        expect(document.status, label).toBe(response.status);
        expect(typeof document.type, label).toBe('string');
        expect(typeof document.title, label).toBe('string');
      }
    }
  }

  if (added.length > 0) {
    expect(request.wellFormed, `${label} queued for a garbage body`).toBe(true);
    expect([200, 202, 303], label).toContain(response.status);
    for (const body of added) {
      const parsed = eventEnvelopeSchema.safeParse(JSON.parse(body));
      expect(parsed.error, `${label} queued an unreadable envelope`).toBeUndefined();
    }
  }
  if (!request.wellFormed) expect(added, label).toEqual([]);
  return response;
}

describe('fuzzing the HTTP app', () => {
  it(
    'never fails, always answers problems properly and queues only valid submissions (every route)',
    async () => {
      const api = fuzzApi();
      await fc.assert(
        fc.asyncProperty(requestArb, async (request) => {
          await check(api, request);
        }),
        { numRuns: runs(2500) },
      );
      expect(api.logger.errors).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it(
    'form submissions: the answer matches what was queued',
    async () => {
      const api = fuzzApi();
      const arb = fc.record({
        formId: fc.constantFrom('contact', 'demo'),
        payload: formBody,
        headers: headersArb,
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ formId, payload, headers }) => {
          const request: FuzzRequest = {
            path: `/v1/forms/${formId}/submissions`,
            method: 'POST',
            headers,
            ...payload,
            wellFormed: true,
          };
          const before = api.ingestQueue.sent.length;
          const response = await check(api, request);
          const added = api.ingestQueue.sent.length - before;
          // One submission queues at most one event, and only when it is answered as a success.
          expect(added).toBeLessThanOrEqual(1);
          if (added === 1) expect([202, 303]).toContain(response.status);
          if (response.status === 202) {
            const { eventId } = (await response.json()) as { eventId: string };
            expect(eventId).toMatch(/^form_/);
            if (added === 1)
              expect(JSON.parse(api.ingestQueue.sent.at(-1) ?? '{}').event.id).toBe(eventId);
          }
          // CORS headers only ever for the allowed origin of the form that allows it.
          const acao = response.headers.get('access-control-allow-origin');
          if (acao !== null) {
            expect(formId).toBe('demo');
            expect(acao).toBe(ALLOWED_ORIGIN);
          }
        }),
        { numRuns: runs(1500) },
      );
      expect(api.logger.errors).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it(
    'events: all or nothing, one queued event per accepted id',
    async () => {
      const api = fuzzApi();
      const arb = fc.record({ payload: eventsBody, withKey: fc.boolean() });
      await fc.assert(
        fc.asyncProperty(arb, async ({ payload, withKey }) => {
          const request: FuzzRequest = {
            path: '/v1/events',
            method: 'POST',
            headers: withKey ? { authorization: `Bearer ${API_KEY}` } : {},
            ...payload,
            wellFormed: true,
          };
          const before = api.ingestQueue.sent.length;
          const response = await check(api, request);
          const added = api.ingestQueue.sent.slice(before);
          if (!withKey) expect(response.status).toBe(401);
          if (response.status === 202) {
            const { eventIds } = (await response.json()) as { eventIds: string[] };
            const count = (JSON.parse(payload.body as string) as { events: unknown[] }).events
              .length;
            expect(eventIds).toHaveLength(count);
            expect(added.map((body) => JSON.parse(body).event.id)).toEqual(eventIds);
          } else {
            expect(added).toEqual([]);
          }
        }),
        { numRuns: runs(1000) },
      );
      expect(api.logger.errors).toEqual([]);
    },
    TIMEOUT_MS,
  );

  describe('generic webhooks, correctly signed', () => {
    const item = fc.oneof(
      activityItem,
      fc.record(
        {
          kind: fc.constant('reply'),
          id: fc.oneof(fc.string({ maxLength: 20 }), fc.constant('r'.repeat(200))),
          occurredAt: fc.constantFrom('2025-03-01T10:00:00Z', 'now'),
          from: emailArb,
          inReplyTo: fc.string({ maxLength: 30 }),
          references: fc.oneof(
            fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
            fc.string(),
          ),
          text: fc.string({ maxLength: 400 }),
        },
        { requiredKeys: ['kind'] },
      ),
      fc.jsonValue({ maxDepth: 2 }),
    );
    let counter = 0;

    /** Posts `payload` signed with the configured secret, now, under a fresh webhook-id. */
    async function postSigned(api: Api, payload: string) {
      const id = `msg_fuzz_${++counter}`;
      const now = new Date();
      const before = api.ingestQueue.sent.length;
      const response = await check(api, {
        path: '/v1/webhooks/email/generic',
        method: 'POST',
        contentType: 'application/json',
        headers: {
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': new Webhook(GENERIC_SECRET).sign(id, now, payload),
        },
        body: payload,
        wellFormed: true,
      });
      return { response, added: api.ingestQueue.sent.length - before };
    }

    it(
      'JSON of any shape never fails, and queues exactly the accepted, readable envelopes',
      async () => {
        const api = fuzzApi();
        const body = fc.oneof(
          item.map((value) => JSON.stringify(value)),
          fc.array(item, { maxLength: 5 }).map((events) => JSON.stringify({ events })),
        );
        await fc.assert(
          fc.asyncProperty(body, async (payload) => {
            const { response, added } = await postSigned(api, payload);
            // Authentic: never refused as unauthenticated.
            expect(response.status).not.toBe(401);
            if (response.status === 200) {
              const { accepted } = (await response.json()) as { accepted: number };
              expect(added).toBe(accepted);
            } else expect(added).toBe(0);
          }),
          { numRuns: runs(1000) },
        );
        expect(api.logger.errors).toEqual([]);
      },
      TIMEOUT_MS,
    );

    it(
      'a body that is not JSON is refused as malformed (400), not as unauthenticated (401)',
      async () => {
        const api = fuzzApi();
        const notJson = fc.string({ maxLength: 100 }).filter((text) => {
          try {
            JSON.parse(text);
            return false;
          } catch {
            return true;
          }
        });
        await fc.assert(
          fc.asyncProperty(notJson, async (payload) => {
            const { response, added } = await postSigned(api, payload);
            expect(response.status).toBe(400);
            expect(added).toBe(0);
          }),
          { numRuns: runs(300) },
        );
      },
      TIMEOUT_MS,
    );
  });
});
