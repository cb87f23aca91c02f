import { describe, expect, it } from 'vitest';
import { eventEnvelopeSchema } from '../../../lib/domain/events.ts';
import { MAX_EVENTS_PER_REQUEST } from '../../../lib/ingest/routes/events.ts';
import { auth, postJson, TEST_NOW, testApi } from '../support/api.ts';
import { expectProblem } from '../support/problem.ts';

/** `POST /v1/events`: sales activity and imports with an API key, all or nothing. */

type Queued = { v: number; event: Record<string, unknown> };
const queued = (sent: readonly string[]) => sent.map((body) => JSON.parse(body) as Queued);

const ACTIVITY = [
  {
    kind: 'call_logged',
    id: 'call-1',
    email: 'Anna.Schmidt@Example.com',
    direction: 'outbound',
    reached: true,
    occurredAt: '2025-02-28T09:30:00+01:00',
  },
  { kind: 'meeting_held', id: 'meeting-1', email: 'anna.schmidt@example.com' },
  { kind: 'quote_requested', email: 'anna.schmidt@example.com' },
  {
    kind: 'contact_imported',
    email: 'max.muster@example.de',
    profile: { firstName: 'Max', lastName: 'Muster', company: 'Muster AG', country: 'de' },
  },
];

describe('POST /v1/events', () => {
  it('answers 401 problem+json without an API key, or with a wrong one, and queues nothing', async () => {
    const { app, ingestQueue } = testApi();
    for (const headers of [
      {},
      { authorization: 'Bearer lsk_wrong' },
      { authorization: 'Basic x' },
    ] as Record<string, string>[]) {
      const response = await app.request('/v1/events', postJson({ events: ACTIVITY }, headers));
      expect((await expectProblem(response, 401)).type).toBe('/problems/unauthorized');
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect(ingestQueue.sent).toEqual([]);
  });

  it('queues a valid batch of several kinds, one message per event, and answers 202 with their ids', async () => {
    const { app, ingestQueue, logger } = testApi();
    const response = await app.request('/v1/events', postJson({ events: ACTIVITY }, auth));
    expect(response.status).toBe(202);
    const { eventIds } = (await response.json()) as { eventIds: string[] };
    expect(eventIds).toHaveLength(ACTIVITY.length);
    for (const id of eventIds) expect(id).toMatch(/^api_/);
    expect(eventIds.slice(0, 2)).toEqual(['api_call-1', 'api_meeting-1']);

    const sent = queued(ingestQueue.sent);
    expect(sent).toHaveLength(ACTIVITY.length);
    for (const envelope of sent) expect(eventEnvelopeSchema.safeParse(envelope).success).toBe(true);
    expect(sent.map((envelope) => envelope.event.id)).toEqual(eventIds);
    expect(sent.map((envelope) => envelope.event.kind)).toEqual(ACTIVITY.map((a) => a.kind));
    for (const envelope of sent) expect(envelope.event.source).toBe('api');
    expect(sent[0]?.event).toEqual({
      kind: 'call_logged',
      id: 'api_call-1',
      email: 'anna.schmidt@example.com',
      direction: 'outbound',
      reached: true,
      // normalized to UTC
      occurredAt: '2025-02-28T08:30:00.000Z',
      source: 'api',
    });
    // Without occurredAt the event happened now.
    expect(sent[1]?.event.occurredAt).toBe(TEST_NOW.toISOString());
    expect(sent[2]?.event.occurredAt).toBe(TEST_NOW.toISOString());
    expect(sent[3]?.event).toMatchObject({
      kind: 'contact_imported',
      email: 'max.muster@example.de',
      profile: { firstName: 'Max', lastName: 'Muster', company: 'Muster AG', country: 'DE' },
    });
    expect(logger.errors).toEqual([]);
  });

  it('gives the same event id for the same client id, and a fresh one for each event without', async () => {
    const { app } = testApi();
    const post = async (events: unknown[]) => {
      const response = await app.request('/v1/events', postJson({ events }, auth));
      expect(response.status).toBe(202);
      return ((await response.json()) as { eventIds: string[] }).eventIds;
    };
    const item = { kind: 'meeting_held', id: 'crm-activity-81723', email: 'a@example.com' };
    const [first] = await post([item]);
    const [second] = await post([{ ...item, occurredAt: '2025-01-01T00:00:00Z' }]);
    expect(first).toBe('api_crm-activity-81723');
    expect(second).toBe(first);
    const anonymous = { kind: 'meeting_held', email: 'a@example.com' };
    const [a, b] = await post([anonymous, anonymous]);
    expect(a).not.toBe(b);
  });

  it('keeps a client source as api:<source>, and refuses a source that is not 1 to 96 characters of text', async () => {
    const { app, ingestQueue } = testApi();
    const call = {
      kind: 'call_logged',
      email: 'a@example.com',
      direction: 'outbound',
      reached: true,
    };
    const accepted = await app.request(
      '/v1/events',
      postJson({ events: [{ ...call, source: 'hubspot' }] }, auth),
    );
    expect(accepted.status).toBe(202);
    expect(queued(ingestQueue.sent)[0]?.event.source).toBe('api:hubspot');
    ingestQueue.sent.splice(0);
    for (const source of [42, {}, true, null, '', 'x'.repeat(97)]) {
      const response = await app.request(
        '/v1/events',
        postJson({ events: [call, { ...call, source }] }, auth),
      );
      const document = await expectProblem(response, 400);
      expect(document.errors).toEqual([
        { pointer: '#/events/1/source', detail: expect.any(String) },
      ]);
    }
    expect(ingestQueue.sent).toEqual([]);
  });

  it('refuses a batch with one invalid event with 400 pointing into it, and queues nothing', async () => {
    const { app, ingestQueue } = testApi();
    const events = [
      ACTIVITY[0],
      { kind: 'call_logged', email: 'a@example.com', direction: 'sideways', reached: true },
      ACTIVITY[2],
    ];
    const response = await app.request('/v1/events', postJson({ events }, auth));
    const document = await expectProblem(response, 400);
    expect(document.type).toBe('/problems/validation');
    expect(document.errors).toEqual([
      { pointer: '#/events/1/direction', detail: expect.any(String) },
    ]);
    expect(ingestQueue.sent).toEqual([]);
  });

  it.each([
    ['an invalid email', { kind: 'meeting_held', email: 'not-an-email' }, 'email'],
    ['a missing email', { kind: 'meeting_held' }, 'email'],
    [
      'an invalid occurredAt',
      { kind: 'meeting_held', email: 'a@x.de', occurredAt: 'yesterday' },
      'occurredAt',
    ],
    ['an unknown kind', { kind: 'coffee_had', email: 'a@example.com' }, 'kind'],
    ['a missing kind', { email: 'a@example.com' }, 'kind'],
    [
      'an invalid profile field',
      { kind: 'contact_imported', email: 'a@x.de', profile: { country: 'Germany' } },
      'profile/country',
    ],
    [
      'a client id too long for the namespace',
      { kind: 'meeting_held', email: 'a@x.de', id: 'x'.repeat(200) },
      'id',
    ],
  ])('refuses %s with a pointer #/events/<i>/<field>', async (_label, bad, field) => {
    const { app, ingestQueue } = testApi();
    const events = [ACTIVITY[1], ACTIVITY[1], bad];
    const response = await app.request('/v1/events', postJson({ events }, auth));
    const document = await expectProblem(response, 400);
    expect(document.errors?.map((issue) => issue.pointer)).toContain(`#/events/2/${field}`);
    for (const issue of document.errors ?? []) expect(issue.pointer).toMatch(/^#\/events\/2(\/|$)/);
    expect(ingestQueue.sent).toEqual([]);
  });

  it(`accepts ${MAX_EVENTS_PER_REQUEST} events and refuses ${MAX_EVENTS_PER_REQUEST + 1} with 400`, async () => {
    const { app, ingestQueue } = testApi();
    const item = (i: number) => ({
      kind: 'contact_imported',
      id: `imp-${i}`,
      email: `lead${i}@example.com`,
    });
    const max = Array.from({ length: MAX_EVENTS_PER_REQUEST }, (_, i) => item(i));
    const ok = await app.request('/v1/events', postJson({ events: max }, auth));
    expect(ok.status).toBe(202);
    expect(ingestQueue.sent).toHaveLength(MAX_EVENTS_PER_REQUEST);

    const tooMany = [...max, item(MAX_EVENTS_PER_REQUEST)];
    const refused = await app.request('/v1/events', postJson({ events: tooMany }, auth));
    expect((await expectProblem(refused, 400)).errors).toEqual([
      { pointer: '#/events', detail: expect.any(String) },
    ]);
    expect(ingestQueue.sent).toHaveLength(MAX_EVENTS_PER_REQUEST);
  });

  it.each([
    ['not JSON', '{"events": [', '#'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), '#'],
    ['an empty body', '', '#'],
    ['a JSON array', '[]', '#'],
    ['JSON null', 'null', '#'],
    ['no events member', '{"event": []}', '#/events'],
    ['an empty events list', '{"events": []}', '#/events'],
    ['events that is no list', '{"events": {"kind": "meeting_held"}}', '#/events'],
  ])('refuses %s with 400 problem+json, queueing nothing', async (_label, body, pointer) => {
    const { app, ingestQueue } = testApi();
    const response = await app.request('/v1/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body,
    });
    const document = await expectProblem(response, 400);
    expect(document.errors?.[0]?.pointer).toBe(pointer);
    expect(ingestQueue.sent).toEqual([]);
  });

  it('refuses items that are not objects with a pointer at each', async () => {
    const { app, ingestQueue } = testApi();
    const response = await app.request(
      '/v1/events',
      postJson({ events: [ACTIVITY[1], null, 'call', 7, []] }, auth),
    );
    const document = await expectProblem(response, 400);
    const pointers = new Set(
      document.errors?.map((issue) => issue.pointer.split('/').slice(0, 3).join('/')),
    );
    expect([...pointers].sort()).toEqual(['#/events/1', '#/events/2', '#/events/3', '#/events/4']);
    expect(ingestQueue.sent).toEqual([]);
  });

  it('never silently replaces a numeric client id: refused, or used as the same id each time', async () => {
    // CRMs often number their activities. A retry of {"id": 81723} must not be counted twice.
    const { app, ingestQueue } = testApi();
    const item = {
      kind: 'call_logged',
      id: 81723,
      email: 'a@example.com',
      direction: 'inbound',
      reached: true,
    };
    const answers = [];
    for (let i = 0; i < 2; i++) {
      const response = await app.request('/v1/events', postJson({ events: [item] }, auth));
      answers.push({
        status: response.status,
        body: (await response.json()) as Record<string, unknown>,
      });
    }
    if (answers[0]?.status === 400) {
      for (const answer of answers)
        expect(answer.body.errors).toContainEqual({
          pointer: '#/events/0/id',
          detail: expect.any(String),
        });
      expect(ingestQueue.sent).toEqual([]);
    } else {
      expect(answers.map((answer) => answer.status)).toEqual([202, 202]);
      expect(answers[1]?.body.eventIds).toEqual(answers[0]?.body.eventIds);
    }
  });

  it("keeps a client id in the api_ namespace even when it looks like another source's id", async () => {
    const { app, ingestQueue } = testApi();
    const response = await app.request(
      '/v1/events',
      postJson(
        {
          events: [
            { ...ACTIVITY[1], id: 'form_123' },
            { ...ACTIVITY[1], id: 'generic_x' },
          ],
        },
        auth,
      ),
    );
    expect(response.status).toBe(202);
    expect(queued(ingestQueue.sent).map((envelope) => envelope.event.id)).toEqual([
      'api_form_123',
      'api_generic_x',
    ]);
  });
});
