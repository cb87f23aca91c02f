import { describe, expect, it } from 'vitest';
import { parseAppConfig } from '../../../lib/config/app-config.ts';
import { MAX_BODY_BYTES } from '../../../lib/ingest/app.ts';
import { postJson, testApi } from '../support/api.ts';
import { expectProblem } from '../support/problem.ts';

const submit = (formId: string) => `/v1/forms/${formId}/submissions`;

function envelopes(sent: readonly string[]) {
  return sent.map((body) => JSON.parse(body) as { v: number; event: Record<string, unknown> });
}

describe('POST /v1/forms/{formId}/submissions', () => {
  it('answers 202 with the event id and queues exactly one normalized envelope', async () => {
    const { app, ingestQueue, logger } = testApi();
    const response = await app.request(
      submit('contact'),
      postJson({ email: 'Anna.Schmidt@Example.COM', name: 'Anna Schmidt', company: 'ACME' }),
    );
    expect(response.status).toBe(202);
    const { eventId } = (await response.json()) as { eventId: string };
    expect(eventId).toMatch(/^form_/);
    expect(envelopes(ingestQueue.sent)).toEqual([
      {
        v: 1,
        event: {
          kind: 'form_submitted',
          id: eventId,
          occurredAt: '2025-03-01T12:00:00.000Z',
          email: 'anna.schmidt@example.com',
          source: 'form:contact',
          formId: 'contact',
          profile: { name: 'Anna Schmidt', company: 'ACME' },
        },
      },
    ]);
    expect(logger.errors).toEqual([]);
  });

  it('gives each submission without an Idempotency-Key its own event id', async () => {
    const { app, ingestQueue } = testApi();
    const first = await app.request(submit('contact'), postJson({ email: 'a@example.com' }));
    const second = await app.request(submit('contact'), postJson({ email: 'a@example.com' }));
    const ids = [await first.json(), await second.json()].map(
      (b) => (b as { eventId: string }).eventId,
    );
    expect(ids[0]).not.toBe(ids[1]);
    expect(ingestQueue.sent).toHaveLength(2);
  });

  it('refuses an unknown form with 404 problem+json and queues nothing, even with a bad body', async () => {
    const { app, ingestQueue } = testApi();
    const good = await app.request(submit('nope'), postJson({ email: 'a@example.com' }));
    expect((await expectProblem(good, 404)).type).toBe('/problems/unknown-form');
    const bad = await app.request(submit('nope'), postJson('{not json'));
    expect((await expectProblem(bad, 404)).type).toBe('/problems/unknown-form');
    const wrongType = await app.request(submit('nope'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    await expectProblem(wrongType, 404);
    expect(ingestQueue.sent).toEqual([]);
  });

  it.each([
    ['an invalid email', { email: 'not-an-email' }, '#/email'],
    ['a missing email', { name: 'Anna' }, '#/email'],
    ['a non-string email', { email: 42 }, '#/email'],
    ['a name that is too long', { email: 'a@example.com', name: 'x'.repeat(401) }, '#/name'],
  ])('refuses %s with 400 problem+json pointing at the field', async (_label, body, pointer) => {
    const { app, ingestQueue } = testApi();
    const response = await app.request(submit('contact'), postJson(body));
    const document = await expectProblem(response, 400);
    expect(document.errors).toEqual([{ pointer, detail: expect.any(String) }]);
    expect(ingestQueue.sent).toEqual([]);
  });

  it('refuses malformed JSON with 400 problem+json and a root error entry, queueing nothing', async () => {
    const { app, ingestQueue } = testApi();
    const response = await app.request(submit('contact'), postJson('{"email": "a@example.com"'));
    const document = await expectProblem(response, 400);
    expect(document.errors).toEqual([{ pointer: '#', detail: expect.any(String) }]);
    expect(ingestQueue.sent).toEqual([]);
  });

  it.each([
    ['an array', '[{"email":"a@example.com"}]'],
    ['a string', '"a@example.com"'],
    ['null', 'null'],
  ])(
    'refuses %s as the JSON body with 400 and a pointer to the document root (#)',
    async (_label, body) => {
      const { app, ingestQueue } = testApi();
      const response = await app.request(submit('contact'), postJson(body));
      const document = await expectProblem(response, 400);
      // RFC 6901: "#" is the whole document; "#/" would be a member named "".
      expect(document.errors).toEqual([{ pointer: '#', detail: expect.any(String) }]);
      expect(ingestQueue.sent).toEqual([]);
    },
  );

  it('refuses a content type it does not read with 415 problem+json and queues nothing', async () => {
    const { app, ingestQueue } = testApi();
    const plain = await app.request(submit('contact'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'email=a@example.com',
    });
    await expectProblem(plain, 415);
    const none = await app.request(submit('contact'), {
      method: 'POST',
      body: '{"email":"a@example.com"}',
    });
    await expectProblem(none, 415);
    expect(ingestQueue.sent).toEqual([]);
  });

  it('refuses a body over 256 KiB with 413 problem+json and queues nothing', async () => {
    const { app, ingestQueue } = testApi();
    const body = JSON.stringify({ email: 'a@example.com', name: 'x'.repeat(MAX_BODY_BYTES) });
    expect(MAX_BODY_BYTES).toBe(256 * 1024);
    const response = await app.request(submit('contact'), postJson(body));
    expect((await expectProblem(response, 413)).type).toBe('/problems/payload-too-large');
    expect(ingestQueue.sent).toEqual([]);
  });

  it('accepts a body just under the limit as far as the size check goes', async () => {
    const { app } = testApi();
    // A valid envelope would be refused by the name's max length, so the 400 proves the
    // body got past the size limit to validation.
    const padding = 'x'.repeat(MAX_BODY_BYTES - 100);
    const response = await app.request(
      submit('contact'),
      postJson({ email: 'a@example.com', name: padding }),
    );
    const document = await expectProblem(response, 400);
    expect(document.errors?.map((issue) => issue.pointer)).toEqual(['#/name']);
  });
});

describe('Idempotency-Key', () => {
  const config = parseAppConfig({ forms: [{ id: 'contact' }, { id: 'newsletter' }] }, 'test');

  async function eventIdOf(response: Response): Promise<string> {
    expect(response.status).toBe(202);
    return ((await response.json()) as { eventId: string }).eventId;
  }

  it('gives the same event id for the same key on the same form', async () => {
    const { app, ingestQueue } = testApi({ config });
    const headers = { 'idempotency-key': 'key-1' };
    const first = await eventIdOf(
      await app.request(submit('contact'), postJson({ email: 'a@example.com' }, headers)),
    );
    const second = await eventIdOf(
      await app.request(submit('contact'), postJson({ email: 'a@example.com' }, headers)),
    );
    expect(second).toBe(first);
    // Both are queued; classify drops the second as a duplicate of the same event id.
    expect(envelopes(ingestQueue.sent).map((envelope) => envelope.event.id)).toEqual([
      first,
      first,
    ]);
  });

  it('gives different event ids for different keys', async () => {
    const { app } = testApi({ config });
    const a = await eventIdOf(
      await app.request(
        submit('contact'),
        postJson({ email: 'a@example.com' }, { 'idempotency-key': 'key-1' }),
      ),
    );
    const b = await eventIdOf(
      await app.request(
        submit('contact'),
        postJson({ email: 'a@example.com' }, { 'idempotency-key': 'key-2' }),
      ),
    );
    expect(a).not.toBe(b);
  });

  it('gives a different event id for the same key on another form', async () => {
    const { app, ingestQueue } = testApi({ config });
    const headers = { 'idempotency-key': 'key-1' };
    const contact = await eventIdOf(
      await app.request(submit('contact'), postJson({ email: 'a@example.com' }, headers)),
    );
    const newsletter = await eventIdOf(
      await app.request(submit('newsletter'), postJson({ email: 'a@example.com' }, headers)),
    );
    expect(newsletter).not.toBe(contact);
    expect(envelopes(ingestQueue.sent)[1]?.event.source).toBe('form:newsletter');
  });
});
