import { describe, expect, it } from 'vitest';
import { applyEvent } from '../../../lib/classify/apply-event.ts';
import { REPURGE_DELAY_SECONDS } from '../../../lib/classify/erase-contact.ts';
import { appConfigSchema } from '../../../lib/config/app-config.ts';
import { type LeadEventInput, leadEventSchema } from '../../../lib/domain/events.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { API_KEY, auth, classifyDepsFor, TEST_NOW, testApi } from '../support/api.ts';
import { subscription } from '../support/classify.ts';
import { expectProblem } from '../support/problem.ts';

/** `/v1/contacts`: contacts read back through the API after events were classified. */

const ANNA = 'anna.schmidt@example.com';
const annaId = contactIdFor(ANNA);
const BOB = 'bob.builder@example.com';
const bobId = contactIdFor(BOB);
const UNKNOWN_ID = contactIdFor('nobody@example.com');

/** A deployment with qualification criteria (so `missing` is not empty) and one CRM value overridden. */
const config = appConfigSchema.parse({
  qualification: { industries: { allowed: ['Manufacturing'] }, minEmployees: 50 },
  crm: { hubspotLeadStatus: { prospect: 'IN_PROGRESS' } },
});

type Api = ReturnType<typeof testApi>;

/** Applies the events (validated as the ingest queue would) on the API's stores. */
async function seed(api: Api, events: LeadEventInput[], now?: () => Date): Promise<void> {
  const deps = classifyDepsFor(api, now);
  for (const input of events) await applyEvent(leadEventSchema.parse(input), deps);
}

/** Anna: a form with consent and attribution, a delivered and opened mail, then a reply. */
const ANNA_EVENTS: LeadEventInput[] = [
  {
    kind: 'form_submitted',
    id: 'evt_form',
    occurredAt: '2025-03-01T10:00:00+01:00',
    email: 'Anna.Schmidt@Example.com',
    source: 'form:contact',
    formId: 'contact',
    profile: {
      firstName: 'Anna',
      lastName: 'Schmidt',
      name: 'Anna Schmidt',
      company: 'Schmidt Maschinenbau GmbH',
      jobTitle: 'CTO',
      employees: 120,
      country: 'de',
      phone: '+49 30 1234567',
    },
    consent: { text: 'Ich bin einverstanden.', version: '2026-11', ip: '203.0.113.9' },
    attribution: { utmSource: 'newsletter', utmCampaign: 'spring' },
  },
  {
    kind: 'email_delivered',
    id: 'evt_delivered',
    occurredAt: '2025-03-01T10:30:00Z',
    email: ANNA,
    source: 'postmark',
    messageId: '<m1@mail.example.com>',
  },
  {
    kind: 'email_opened',
    id: 'evt_opened',
    occurredAt: '2025-03-01T10:40:00Z',
    email: ANNA,
    source: 'postmark',
  },
  {
    kind: 'email_replied',
    id: 'evt_replied',
    occurredAt: '2025-03-01T11:00:00Z',
    email: ANNA,
    source: 'postmark',
    matchMethod: 'in_reply_to',
    excerpt: 'Yes, please call me on Monday.',
  },
];

const BOB_EVENTS: LeadEventInput[] = [
  {
    kind: 'form_submitted',
    id: 'evt_bob',
    occurredAt: '2025-03-01T09:00:00Z',
    email: BOB,
    source: 'form:contact',
    formId: 'contact',
    profile: { name: 'Bob Builder' },
  },
];

/** An app with Anna (a prospect) and Bob (a lead), and the given subscriptions. */
async function seededApi(subscriptions = [subscription('sub_a')]) {
  const api = testApi({ config });
  for (const s of subscriptions) await api.subscriptions.put(s);
  await seed(api, [...ANNA_EVENTS, ...BOB_EVENTS]);
  return api;
}

async function getJson<T = Record<string, unknown>>(api: Api, path: string): Promise<T> {
  const response = await api.app.request(path, { headers: auth });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json\b/);
  return (await response.json()) as T;
}

interface Page<T = Record<string, unknown>> {
  items: T[];
  nextCursor?: string;
}

/** Follows `nextCursor` from the first page to the last; every page but the last is full. */
async function walk(api: Api, path: string, limit: number): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | undefined;
  const separator = path.includes('?') ? '&' : '?';
  do {
    const query = `${separator}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = await getJson<Page>(api, `${path}${query}`);
    pages.push(page);
    cursor = page.nextCursor;
    if (cursor !== undefined) expect(page.items).toHaveLength(limit);
    expect(pages.length).toBeLessThan(50);
  } while (cursor !== undefined);
  return pages;
}

const del = (api: Api, id: string) =>
  api.app.request(`/v1/contacts/${id}`, { method: 'DELETE', headers: auth });

describe('/v1/contacts authentication', () => {
  const routes: [string, string][] = [
    ['GET', `/v1/contacts/${annaId}`],
    ['GET', `/v1/contacts?email=${ANNA}`],
    ['GET', '/v1/contacts?stage=prospect'],
    ['GET', '/v1/contacts'],
    ['GET', `/v1/contacts/${annaId}/timeline`],
    ['GET', `/v1/contacts/${annaId}/stage-history`],
    ['DELETE', `/v1/contacts/${annaId}`],
    ['GET', '/v1/contacts/not-an-id'],
  ];
  const credentials: [string, Record<string, string>][] = [
    ['without an Authorization header', {}],
    ['with a wrong key', { authorization: 'Bearer lsk_wrong-key-0123456789abcdef' }],
    ['with the key but not as a Bearer token', { authorization: `Basic ${API_KEY}` }],
  ];

  it.each(
    routes.flatMap(([method, path]) =>
      credentials.map(([label, headers]) => [method, path, label, headers] as const),
    ),
  )('%s %s answers 401 problem+json %s', async (method, path, _label, headers) => {
    const api = await seededApi();
    const deliveriesBefore = api.deliveries.all();
    const response = await api.app.request(path, { method, headers });
    const document = await expectProblem(response, 401);
    expect(document.type).toBe('/problems/unauthorized');
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    // Nothing was read out or erased.
    expect(JSON.stringify(document)).not.toContain('anna');
    expect(await api.contacts.get(annaId)).toBeDefined();
    expect(api.deliveries.all()).toEqual(deliveriesBefore);
    expect(api.ingestQueue.sent).toEqual([]);
  });
});

describe('GET /v1/contacts/{id}', () => {
  it('answers the full view: stage, reasons, missing, flags, CRM values, plain profile values and facts', async () => {
    const api = await seededApi();
    const view = await getJson(api, `/v1/contacts/${annaId}`);
    expect(view).toEqual({
      id: annaId,
      email: ANNA,
      stage: 'prospect',
      stageChangedAt: TEST_NOW.toISOString(),
      reasons: [
        {
          code: 'two_way_communication',
          message: 'Answered: replied to an email. Two-way communication makes a prospect.',
        },
        { code: 'not_sales_ready', message: expect.stringMatching(/^Not sales-ready yet: /) },
        {
          code: 'qualification_unknown',
          message: expect.stringMatching(/^Qualification undecided: .*industry/),
        },
      ],
      missing: ['industry'],
      qualification: 'unknown',
      flags: { contactable: true, stale: false, cadenceExceeded: false },
      sequence: 2,
      crm: {
        hubspot: { lifecycleStage: 'salesqualifiedlead', leadStatus: 'IN_PROGRESS' },
        salesforce: { leadStatus: 'Working - Contacted' },
      },
      // Values only: not the {value, at, by} stamps the facts keep.
      profile: {
        firstName: 'Anna',
        lastName: 'Schmidt',
        name: 'Anna Schmidt',
        company: 'Schmidt Maschinenbau GmbH',
        jobTitle: 'CTO',
        employees: 120,
        country: 'DE',
        phone: '+49 30 1234567',
      },
      facts: {
        counts: { form_submitted: 1, email_delivered: 1, email_opened: 1, email_replied: 1 },
        first: {
          form_submitted: '2025-03-01T09:00:00.000Z',
          email_delivered: '2025-03-01T10:30:00.000Z',
          email_opened: '2025-03-01T10:40:00.000Z',
          email_replied: '2025-03-01T11:00:00.000Z',
        },
        last: {
          form_submitted: '2025-03-01T09:00:00.000Z',
          email_delivered: '2025-03-01T10:30:00.000Z',
          email_opened: '2025-03-01T10:40:00.000Z',
          email_replied: '2025-03-01T11:00:00.000Z',
        },
        firstSeenAt: '2025-03-01T09:00:00.000Z',
        lastSeenAt: '2025-03-01T11:00:00.000Z',
        consent: {
          text: 'Ich bin einverstanden.',
          version: '2026-11',
          ip: '203.0.113.9',
          at: '2025-03-01T09:00:00.000Z',
        },
        attribution: {
          first: { utmSource: 'newsletter', utmCampaign: 'spring' },
          last: { utmSource: 'newsletter', utmCampaign: 'spring' },
        },
        replyMatch: 'in_reply_to',
      },
      updatedAt: TEST_NOW.toISOString(),
    });
    // The view agrees with the stored contact.
    const stored = await api.contacts.get(annaId);
    expect(view.reasons).toEqual(stored?.reasons);
    expect(view.missing).toEqual(stored?.missing);
  });

  it('leaves consent, attribution and replyMatch out when the facts have none', async () => {
    const api = await seededApi();
    const view = await getJson<{ facts: Record<string, unknown>; profile: unknown }>(
      api,
      `/v1/contacts/${bobId}`,
    );
    expect(view.profile).toEqual({ name: 'Bob Builder' });
    expect(Object.keys(view.facts).sort()).toEqual(
      ['counts', 'first', 'firstSeenAt', 'last', 'lastSeenAt'].sort(),
    );
  });

  it('answers 404 problem+json for an id no contact has', async () => {
    const api = await seededApi();
    const document = await expectProblem(
      await api.app.request(`/v1/contacts/${UNKNOWN_ID}`, { headers: auth }),
      404,
    );
    expect(document.type).toBe('/problems/not-found');
    expect(document.detail).toContain(UNKNOWN_ID);
  });

  it.each([
    ['too short', 'ct_123'],
    ['upper-case hex', `ct_${'A'.repeat(24)}`],
    ['without the prefix', 'f'.repeat(24)],
    ['too long', `ct_${'0'.repeat(25)}`],
    ['an email address', encodeURIComponent(ANNA)],
  ])('answers 400 pointing at #/id for an id that is %s', async (_label, id) => {
    const api = await seededApi();
    for (const path of [
      `/v1/contacts/${id}`,
      `/v1/contacts/${id}/timeline`,
      `/v1/contacts/${id}/stage-history`,
    ]) {
      const document = await expectProblem(await api.app.request(path, { headers: auth }), 400);
      expect(document.type).toBe('/problems/validation');
      expect(document.errors).toEqual([{ pointer: '#/id', detail: expect.any(String) }]);
    }
    const erase = await api.app.request(`/v1/contacts/${id}`, {
      method: 'DELETE',
      headers: auth,
    });
    expect((await expectProblem(erase, 400)).errors?.[0]?.pointer).toBe('#/id');
    expect(api.ingestQueue.sent).toEqual([]);
  });
});

describe('GET /v1/contacts?email=', () => {
  it.each([
    ['as stored', ANNA],
    ['in another case', 'ANNA.Schmidt@Example.COM'],
    ['with surrounding spaces', `  ${ANNA} `],
  ])('finds the contact by its email %s: one summary item', async (_label, email) => {
    const api = await seededApi();
    const page = await getJson<Page>(api, `/v1/contacts?email=${encodeURIComponent(email)}`);
    expect(page.nextCursor).toBeUndefined();
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({
      id: annaId,
      email: ANNA,
      stage: 'prospect',
      stageChangedAt: TEST_NOW.toISOString(),
      flags: { contactable: true, stale: false, cadenceExceeded: false },
      qualification: 'unknown',
      name: 'Anna Schmidt',
      firstName: 'Anna',
      lastName: 'Schmidt',
      company: 'Schmidt Maschinenbau GmbH',
    });
  });

  it('answers the same ContactSummary as the stage list (no other profile fields)', async () => {
    const api = await seededApi();
    const byEmail = await getJson<Page>(api, `/v1/contacts?email=${ANNA}`);
    const byStage = await getJson<Page>(api, '/v1/contacts?stage=prospect');
    expect(byEmail.items[0]).toEqual(byStage.items.find((item) => item.id === annaId));
    expect(Object.keys(byEmail.items[0] ?? {}).sort()).toEqual(
      [
        'company',
        'email',
        'firstName',
        'flags',
        'id',
        'lastName',
        'name',
        'qualification',
        'stage',
        'stageChangedAt',
      ].sort(),
    );
  });

  it('answers an empty page for an email no contact has', async () => {
    const api = await seededApi();
    expect(await getJson(api, '/v1/contacts?email=nobody%40example.com')).toEqual({ items: [] });
  });

  it('prefers email over stage when both are given', async () => {
    const api = await seededApi();
    const page = await getJson<Page>(api, `/v1/contacts?email=${BOB}&stage=prospect`);
    expect(page.items.map((item) => item.id)).toEqual([bobId]);
  });

  it('answers 400 problem+json when neither email nor stage is given', async () => {
    const api = await seededApi();
    for (const query of ['', '?limit=10']) {
      const document = await expectProblem(
        await api.app.request(`/v1/contacts${query}`, { headers: auth }),
        400,
      );
      expect(document.type).toBe('/problems/validation');
      expect(document.errors).toEqual([{ pointer: '#/stage', detail: expect.any(String) }]);
    }
  });

  it('answers 400 for an email longer than 254 characters', async () => {
    const api = await seededApi();
    const email = `${'a'.repeat(250)}@example.com`;
    const document = await expectProblem(
      await api.app.request(`/v1/contacts?email=${email}`, { headers: auth }),
      400,
    );
    expect(document.errors?.map((issue) => issue.pointer)).toEqual(['#/email']);
  });
});

describe('GET /v1/contacts?stage=', () => {
  /** Seven leads whose stage changed a minute apart (lead0 oldest), plus one prospect. */
  async function leadsApi() {
    const api = testApi({ config });
    let minute = 0;
    const clock = () => new Date(TEST_NOW.getTime() + minute * 60_000);
    for (let i = 0; i < 7; i++) {
      minute = i;
      await seed(
        api,
        [
          {
            kind: 'form_submitted',
            id: `evt_lead${i}`,
            occurredAt: '2025-03-01T08:00:00Z',
            email: `lead${i}@example.com`,
            source: 'form:contact',
            formId: 'contact',
            profile: { firstName: `Lead${i}`, company: `Company ${i}`, jobTitle: 'Buyer' },
          },
        ],
        clock,
      );
    }
    minute = 10;
    await seed(api, ANNA_EVENTS, clock);
    const newestFirst = [6, 5, 4, 3, 2, 1, 0].map((i) => contactIdFor(`lead${i}@example.com`));
    return { api, newestFirst };
  }

  it('lists the contacts in the stage, newest stage change first, as summaries', async () => {
    const { api, newestFirst } = await leadsApi();
    const page = await getJson<Page>(api, '/v1/contacts?stage=lead');
    expect(page.nextCursor).toBeUndefined();
    expect(page.items.map((item) => item.id)).toEqual(newestFirst);
    expect(page.items[0]).toEqual({
      id: contactIdFor('lead6@example.com'),
      email: 'lead6@example.com',
      stage: 'lead',
      stageChangedAt: '2025-03-01T12:06:00.000Z',
      flags: { contactable: true, stale: false, cadenceExceeded: false },
      qualification: 'unknown',
      firstName: 'Lead6',
      company: 'Company 6',
    });
    const prospects = await getJson<Page>(api, '/v1/contacts?stage=prospect');
    expect(prospects.items.map((item) => item.id)).toEqual([annaId]);
    expect(await getJson(api, '/v1/contacts?stage=sales_ready')).toEqual({ items: [] });
  });

  it.each([1, 2, 3, 7, 100])(
    'walks every contact exactly once with limit=%i and the cursors',
    async (limit) => {
      const { api, newestFirst } = await leadsApi();
      const pages = await walk(api, '/v1/contacts?stage=lead', limit);
      expect(pages).toHaveLength(Math.ceil(newestFirst.length / limit));
      expect(pages.flatMap((page) => page.items.map((item) => item.id))).toEqual(newestFirst);
    },
  );

  it('defaults to pages of 25', async () => {
    const api = testApi({ config });
    const events: LeadEventInput[] = Array.from({ length: 26 }, (_, i) => ({
      kind: 'form_submitted',
      id: `evt_${i}`,
      occurredAt: '2025-03-01T08:00:00Z',
      email: `p${i}@example.com`,
      source: 'form:contact',
      formId: 'contact',
    }));
    await seed(api, events);
    const first = await getJson<Page>(api, '/v1/contacts?stage=lead');
    expect(first.items).toHaveLength(25);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await getJson<Page>(
      api,
      `/v1/contacts?stage=lead&cursor=${encodeURIComponent(first.nextCursor ?? '')}`,
    );
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeUndefined();
  });

  it.each([
    ['JSON where an offset belongs', Buffer.from('{"pk":"CONTACT#x"}').toString('base64url')],
    ['a negative offset', Buffer.from('-2').toString('base64url')],
    ['a fractional offset', Buffer.from('1.5').toString('base64url')],
    ['garbage', 'garbage'],
  ])('answers 400 /problems/invalid-cursor for a cursor with %s', async (_label, cursor) => {
    const { api } = await leadsApi();
    const document = await expectProblem(
      await api.app.request(`/v1/contacts?stage=lead&limit=2&cursor=${cursor}`, {
        headers: auth,
      }),
      400,
    );
    expect(document.type).toBe('/problems/invalid-cursor');
    expect(document.errors).toEqual([{ pointer: '#/cursor', detail: expect.any(String) }]);
  });

  it.each([
    ['an unknown stage', 'stage=customer', '#/stage'],
    ['a stage in another case', 'stage=Lead', '#/stage'],
    ['limit above 100', 'stage=lead&limit=101', '#/limit'],
    ['limit 0', 'stage=lead&limit=0', '#/limit'],
    ['a fractional limit', 'stage=lead&limit=2.5', '#/limit'],
    ['a limit that is no number', 'stage=lead&limit=ten', '#/limit'],
    ['a cursor longer than 2048', `stage=lead&cursor=${'A'.repeat(2049)}`, '#/cursor'],
  ])('answers 400 pointing at %s', async (_label, query, pointer) => {
    const { api } = await leadsApi();
    const document = await expectProblem(
      await api.app.request(`/v1/contacts?${query}`, { headers: auth }),
      400,
    );
    expect(document.type).toBe('/problems/validation');
    expect(document.errors?.map((issue) => issue.pointer)).toEqual([pointer]);
  });
});

describe('GET /v1/contacts/{id}/timeline and /stage-history', () => {
  it('answers the timeline newest first, with what each kind keeps as details', async () => {
    const api = await seededApi();
    const page = await getJson<Page>(api, `/v1/contacts/${annaId}/timeline`);
    expect(page.nextCursor).toBeUndefined();
    expect(page.items).toEqual([
      {
        eventId: 'evt_replied',
        kind: 'email_replied',
        source: 'postmark',
        occurredAt: '2025-03-01T11:00:00.000Z',
        appliedAt: TEST_NOW.toISOString(),
        details: { matchMethod: 'in_reply_to', excerpt: 'Yes, please call me on Monday.' },
      },
      {
        eventId: 'evt_opened',
        kind: 'email_opened',
        source: 'postmark',
        occurredAt: '2025-03-01T10:40:00.000Z',
        appliedAt: TEST_NOW.toISOString(),
        details: {},
      },
      {
        eventId: 'evt_delivered',
        kind: 'email_delivered',
        source: 'postmark',
        occurredAt: '2025-03-01T10:30:00.000Z',
        appliedAt: TEST_NOW.toISOString(),
        details: {},
      },
      {
        eventId: 'evt_form',
        kind: 'form_submitted',
        source: 'form:contact',
        occurredAt: '2025-03-01T09:00:00.000Z',
        appliedAt: TEST_NOW.toISOString(),
        details: {
          formId: 'contact',
          attribution: { utmSource: 'newsletter', utmCampaign: 'spring' },
          consent: true,
        },
      },
    ]);
    // Only this contact's events, and no contactId in the entries.
    const bob = await getJson<Page>(api, `/v1/contacts/${bobId}/timeline`);
    expect(bob.items.map((item) => item.eventId)).toEqual(['evt_bob']);
    expect(bob.items[0]).not.toHaveProperty('contactId');
  });

  it('orders the timeline by when events happened, not by when they arrived', async () => {
    const api = testApi({ config });
    await seed(
      api,
      [3, 0, 2, 1].map((i) => ANNA_EVENTS[i] as LeadEventInput),
    );
    const page = await getJson<Page>(api, `/v1/contacts/${annaId}/timeline`);
    expect(page.items.map((item) => item.eventId)).toEqual([
      'evt_replied',
      'evt_opened',
      'evt_delivered',
      'evt_form',
    ]);
  });

  it.each([1, 2, 3, 4])('pages the timeline with limit=%i, every event once', async (limit) => {
    const api = await seededApi();
    const pages = await walk(api, `/v1/contacts/${annaId}/timeline`, limit);
    expect(pages.flatMap((page) => page.items.map((item) => item.eventId))).toEqual([
      'evt_replied',
      'evt_opened',
      'evt_delivered',
      'evt_form',
    ]);
  });

  it('answers the stage history oldest first, with from, to, direction, reasons and cause', async () => {
    const api = await seededApi();
    const page = await getJson<Page>(api, `/v1/contacts/${annaId}/stage-history`);
    expect(page.nextCursor).toBeUndefined();
    expect(page.items).toEqual([
      {
        sequence: 1,
        from: null,
        to: 'lead',
        direction: 'initial',
        reasons: [
          {
            code: 'left_data',
            message: 'Left their data through a form; communication is one-way so far.',
          },
          { code: 'qualification_unknown', message: expect.any(String) },
        ],
        missing: ['industry'],
        flags: { contactable: true, stale: false, cadenceExceeded: false },
        at: TEST_NOW.toISOString(),
        causedBy: 'evt_form',
      },
      {
        sequence: 2,
        from: 'lead',
        to: 'prospect',
        direction: 'forward',
        reasons: [
          { code: 'two_way_communication', message: expect.any(String) },
          { code: 'not_sales_ready', message: expect.any(String) },
          { code: 'qualification_unknown', message: expect.any(String) },
        ],
        missing: ['industry'],
        flags: { contactable: true, stale: false, cadenceExceeded: false },
        at: TEST_NOW.toISOString(),
        causedBy: 'evt_replied',
      },
    ]);
  });

  it('pages the stage history, every change once, oldest first', async () => {
    const api = await seededApi();
    const pages = await walk(api, `/v1/contacts/${annaId}/stage-history`, 1);
    expect(pages).toHaveLength(2);
    expect(pages.flatMap((page) => page.items.map((item) => item.sequence))).toEqual([1, 2]);
  });

  it.each(['timeline', 'stage-history'])(
    'answers 404 for the %s of an unknown contact and 400 for a tampered cursor',
    async (list) => {
      const api = await seededApi();
      const missing = await expectProblem(
        await api.app.request(`/v1/contacts/${UNKNOWN_ID}/${list}`, { headers: auth }),
        404,
      );
      expect(missing.type).toBe('/problems/not-found');
      const badCursor = await expectProblem(
        await api.app.request(`/v1/contacts/${annaId}/${list}?cursor=garbage`, {
          headers: auth,
        }),
        400,
      );
      expect(badCursor.type).toBe('/problems/invalid-cursor');
      const badLimit = await expectProblem(
        await api.app.request(`/v1/contacts/${annaId}/${list}?limit=101`, { headers: auth }),
        400,
      );
      expect(badLimit.errors?.map((issue) => issue.pointer)).toEqual(['#/limit']);
    },
  );
});

describe('DELETE /v1/contacts/{id}', () => {
  const subscriptions = [
    subscription('sub_a'),
    subscription('sub_off', false),
    subscription('sub_b'),
  ];

  /** The erasure notices to be sent now (a disabled subscription's is kept paused). */
  const erasedDeliveries = (api: Api, contactId = annaId) =>
    api.deliveries
      .all()
      .filter(
        (d) =>
          d.contactId === contactId && d.message.type === 'contact.erased' && d.status !== 'paused',
      );

  it('answers 204 with no body, after which every read answers as if there was no contact', async () => {
    const api = await seededApi(subscriptions);
    const response = await del(api, annaId);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');

    await expectProblem(await api.app.request(`/v1/contacts/${annaId}`, { headers: auth }), 404);
    expect(await getJson(api, `/v1/contacts?email=${ANNA}`)).toEqual({ items: [] });
    for (const stage of ['lead', 'prospect']) {
      const page = await getJson<Page>(api, `/v1/contacts?stage=${stage}`);
      expect(page.items.map((item) => item.id)).not.toContain(annaId);
    }
    for (const list of ['timeline', 'stage-history']) {
      await expectProblem(
        await api.app.request(`/v1/contacts/${annaId}/${list}`, { headers: auth }),
        404,
      );
    }
    // Bob is untouched.
    expect((await getJson<Page>(api, '/v1/contacts?stage=lead')).items.map((i) => i.id)).toEqual([
      bobId,
    ]);
    expect((await getJson(api, `/v1/contacts/${bobId}`)).email).toBe(BOB);
  });

  it('keeps only a marker without personal data and purges the timeline, history and deliveries', async () => {
    const api = await seededApi(subscriptions);
    const before = await api.contacts.get(annaId);
    const bobDeliveries = api.deliveries.all().filter((d) => d.contactId === bobId);
    expect(bobDeliveries).toHaveLength(2);
    expect(api.deliveries.all().filter((d) => d.contactId === annaId)).toHaveLength(4);

    expect((await del(api, annaId)).status).toBe(204);

    expect(await api.contacts.getForUpdate(annaId)).toEqual({
      contactId: annaId,
      erased: true,
      erasedAt: TEST_NOW.toISOString(),
      version: (before?.version ?? 0) + 1,
      sequence: before?.sequence,
    });
    expect(api.contacts.all().map((c) => c.contactId)).toEqual([bobId]);
    expect((await api.history.timeline(annaId, { limit: 100 })).items).toEqual([]);
    expect((await api.history.stageHistory(annaId, { limit: 100 })).items).toEqual([]);
    const left = api.deliveries.all().filter((d) => d.contactId === annaId);
    expect(left.every((d) => d.message.type === 'contact.erased')).toBe(true);
    // Bob's history and deliveries stay.
    expect((await api.history.timeline(bobId, { limit: 100 })).items).toHaveLength(1);
    expect((await api.history.stageHistory(bobId, { limit: 100 })).items).toHaveLength(1);
    expect(api.deliveries.all().filter((d) => d.contactId === bobId)).toEqual(bobDeliveries);
  });

  it('queues one contact.erased per enabled subscription, carrying only the id', async () => {
    const api = await seededApi(subscriptions);
    const jobsBefore = api.deliveryQueue.sent.length;
    expect((await del(api, annaId)).status).toBe(204);

    const erased = erasedDeliveries(api);
    expect(erased.map((d) => d.subscriptionId).sort()).toEqual(['sub_a', 'sub_b']);
    for (const delivery of erased) {
      expect(delivery).toMatchObject({
        contactId: annaId,
        status: 'pending',
        attemptCount: 0,
        createdAt: TEST_NOW.toISOString(),
      });
      expect(delivery.deliveryId).toMatch(/^msg_[0-9a-f]{24}_[0-9a-f]{12}$/);
      expect(delivery.message).toEqual({
        type: 'contact.erased',
        timestamp: TEST_NOW.toISOString(),
        data: { contact: { id: annaId }, erasedAt: TEST_NOW.toISOString() },
      });
      const text = JSON.stringify(delivery).toLowerCase();
      for (const personal of ['anna', 'schmidt', 'example.com', 'maschinenbau', '+49']) {
        expect(text).not.toContain(personal);
      }
    }
    const jobs = api.deliveryQueue.sent
      .slice(jobsBefore)
      .map((body) => JSON.parse(body) as Record<string, unknown>);
    expect(jobs).toHaveLength(2);
    expect(
      jobs.sort((a, b) => String(a.subscriptionId).localeCompare(String(b.subscriptionId))),
    ).toEqual(
      ['sub_a', 'sub_b'].map((subscriptionId) => ({
        v: 1,
        contactId: annaId,
        subscriptionId,
        deliveryId: erased.find((d) => d.subscriptionId === subscriptionId)?.deliveryId,
      })),
    );
  });

  it('schedules a delayed purge on the ingest queue', async () => {
    const api = await seededApi(subscriptions);
    expect((await del(api, annaId)).status).toBe(204);
    expect(api.ingestQueue.sent.map((body) => JSON.parse(body))).toEqual([
      { v: 1, purge: { contactId: annaId } },
    ]);
    expect(api.ingestQueue.delays).toEqual([REPURGE_DELAY_SECONDS]);
    expect(REPURGE_DELAY_SECONDS).toBeGreaterThan(0);
  });

  it('sends nothing to subscribers when none is enabled, and still erases', async () => {
    const api = await seededApi([subscription('sub_off', false)]);
    const jobsBefore = api.deliveryQueue.sent.length;
    expect((await del(api, annaId)).status).toBe(204);
    expect(erasedDeliveries(api)).toEqual([]);
    expect(api.deliveryQueue.sent.length).toBe(jobsBefore);
    expect(await api.contacts.get(annaId)).toBeUndefined();
    expect(api.ingestQueue.delays).toEqual([REPURGE_DELAY_SECONDS]);
  });

  it('answers 204 again for an erased contact, without a second set of notices', async () => {
    let now = TEST_NOW;
    const api = testApi({ config, now: () => new Date(now) });
    for (const s of subscriptions) await api.subscriptions.put(s);
    await seed(api, ANNA_EVENTS);
    expect((await del(api, annaId)).status).toBe(204);
    const first = erasedDeliveries(api);
    const marker = await api.contacts.getForUpdate(annaId);

    now = new Date(TEST_NOW.getTime() + 3_600_000);
    const again = await del(api, annaId);
    expect(again.status).toBe(204);
    expect(await again.text()).toBe('');
    expect(await api.contacts.getForUpdate(annaId)).toEqual(marker);
    const second = erasedDeliveries(api);
    expect(second.map((d) => d.deliveryId).sort()).toEqual(first.map((d) => d.deliveryId).sort());
    for (const delivery of second) {
      expect(delivery.message.data).toEqual({
        contact: { id: annaId },
        erasedAt: TEST_NOW.toISOString(),
      });
    }
    await expectProblem(await api.app.request(`/v1/contacts/${annaId}`, { headers: auth }), 404);
  });

  it('answers 404 problem+json for an id no contact has, and sends nothing', async () => {
    const api = await seededApi(subscriptions);
    const deliveriesBefore = api.deliveries.all();
    const jobsBefore = api.deliveryQueue.sent.length;
    const document = await expectProblem(await del(api, UNKNOWN_ID), 404);
    expect(document.type).toBe('/problems/not-found');
    expect(api.deliveries.all()).toEqual(deliveriesBefore);
    expect(api.deliveryQueue.sent.length).toBe(jobsBefore);
    expect(api.ingestQueue.sent).toEqual([]);
  });
});
