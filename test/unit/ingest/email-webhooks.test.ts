import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it, vi } from 'vitest';
import { eventEnvelopeSchema } from '../../../lib/domain/events.ts';
import { MAX_BODY_BYTES } from '../../../lib/ingest/app.ts';
import { MAX_EXCERPT_CHARS } from '../../../lib/ingest/email/reply-text.ts';
import { testApi } from '../support/api.ts';
import { expectProblem } from '../support/problem.ts';

/**
 * `POST /v1/webhooks/email/{provider}` with the generic provider: Standard Webhooks signed
 * JSON, one item or {"events": [...]}. standardwebhooks checks the timestamp against the
 * real clock (Date.now), so requests are signed with the real time.
 */

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const OTHER_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const PATH = '/v1/webhooks/email/generic';

function genericApi() {
  return testApi({ providers: { generic: { secret: SECRET } } });
}

let counter = 0;
interface SignOptions {
  id?: string;
  date?: Date;
  secret?: string;
  /** Sign these bytes but send `body`. */
  signedBody?: string;
}

function signed(body: string, options: SignOptions = {}): RequestInit {
  const id = options.id ?? `msg_test_${++counter}`;
  const date = options.date ?? new Date();
  const signature = new Webhook(options.secret ?? SECRET).sign(
    id,
    date,
    options.signedBody ?? body,
  );
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(date.getTime() / 1000)),
      'webhook-signature': signature,
    },
    body,
  };
}

type Envelope = { v: number; event?: Record<string, unknown>; reply?: Record<string, unknown> };
function queued(sent: readonly string[]): Envelope[] {
  return sent.map((body) => {
    const envelope = JSON.parse(body) as Envelope;
    // Whatever is queued must be readable by the classify step.
    expect(eventEnvelopeSchema.safeParse(envelope).error).toBeUndefined();
    return envelope;
  });
}

const OPENED = {
  kind: 'email_opened',
  id: 'evt-1001',
  email: 'Anna@Example.com',
  occurredAt: '2025-03-01T10:00:00Z',
  messageId: 'abc-123@mail.example.com',
};

const QUOTED_REPLY = [
  'Hallo Herr Muster,',
  '',
  'ja, Dienstag um 10 Uhr passt mir gut. Bitte schicken Sie vorab das Angebot.',
  '',
  'Viele Grüße',
  'Anna Schmidt',
  '',
  'Am 28.02.2025 um 16:12 schrieb Max Muster <max@vertrieb.example.de>:',
  '> Sehr geehrte Frau Schmidt,',
  '> haben Sie nächste Woche Zeit für einen Termin?',
].join('\n');

describe('POST /v1/webhooks/email/generic', () => {
  it('queues one signed event and answers 200 {accepted: 1}, with a generic_ id', async () => {
    const { app, ingestQueue, logger } = genericApi();
    const response = await app.request(PATH, signed(JSON.stringify(OPENED)));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 1, skipped: 0 });
    expect(queued(ingestQueue.sent)).toEqual([
      {
        v: 1,
        event: {
          kind: 'email_opened',
          id: 'generic_evt-1001',
          email: 'anna@example.com',
          occurredAt: '2025-03-01T10:00:00.000Z',
          messageId: 'abc-123@mail.example.com',
          source: 'generic',
        },
      },
    ]);
    expect(logger.errors).toEqual([]);
  });

  it('queues a batch {"events": [...]} in order', async () => {
    const { app, ingestQueue } = genericApi();
    const events = [
      OPENED,
      { ...OPENED, kind: 'email_delivered', id: 'evt-1000' },
      {
        kind: 'email_bounced',
        id: 'evt-1002',
        email: 'x@example.org',
        occurredAt: OPENED.occurredAt,
        bounceType: 'hard',
      },
      {
        kind: 'unsubscribed',
        id: 'evt-1003',
        email: 'y@example.org',
        occurredAt: OPENED.occurredAt,
      },
    ];
    const response = await app.request(PATH, signed(JSON.stringify({ events })));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 4, skipped: 0 });
    expect(queued(ingestQueue.sent).map((envelope) => envelope.event?.id)).toEqual([
      'generic_evt-1001',
      'generic_evt-1000',
      'generic_evt-1002',
      'generic_evt-1003',
    ]);
  });

  it('queues a reply as an unresolved reply with the quoted text stripped into a short excerpt', async () => {
    const { app, ingestQueue } = genericApi();
    const reply = {
      kind: 'reply',
      id: '<CAF=reply-1@mail.example.de>',
      occurredAt: '2025-03-01T09:15:00+01:00',
      from: 'Anna.Schmidt@Example.de',
      to: ['reply+ct_0123456789abcdef01234567@in.example.com'],
      replyToken: 'ct_0123456789abcdef01234567',
      inReplyTo: 'offer-42@mail.example.com',
      references: ['intro-1@mail.example.com', 'offer-42@mail.example.com'],
      text: QUOTED_REPLY,
    };
    const response = await app.request(PATH, signed(JSON.stringify(reply)));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 1, skipped: 0 });
    const [envelope] = queued(ingestQueue.sent);
    expect(envelope?.event).toBeUndefined();
    expect(envelope?.reply).toEqual({
      id: 'generic_<CAF=reply-1@mail.example.de>',
      occurredAt: '2025-03-01T09:15:00+01:00',
      source: 'generic',
      from: 'Anna.Schmidt@Example.de',
      replyToken: 'ct_0123456789abcdef01234567',
      inReplyTo: 'offer-42@mail.example.com',
      references: ['intro-1@mail.example.com', 'offer-42@mail.example.com'],
      excerpt: expect.any(String),
    });
    const excerpt = String(envelope?.reply?.excerpt);
    expect(excerpt).toContain('Dienstag um 10 Uhr passt mir gut');
    expect(excerpt).not.toMatch(/schrieb|Sehr geehrte|nächste Woche/);
    expect(excerpt).not.toContain('\n');
  });

  it('cuts a long reply to a short excerpt and keeps no excerpt when only quoted text is left', async () => {
    const { app, ingestQueue } = genericApi();
    const long = `${'Sehr gerne, wir sind interessiert. '.repeat(40)}\n\nOn Fri, Feb 28, 2025 at 4:12 PM Max <max@example.de> wrote:\n> Hi`;
    const base = { kind: 'reply', occurredAt: OPENED.occurredAt, from: 'anna@example.com' };
    const events = [
      { ...base, id: 'long', text: long },
      { ...base, id: 'quoted-only', text: '> just the quote\n> nothing else' },
      { ...base, id: 'no-text' },
    ];
    const response = await app.request(PATH, signed(JSON.stringify({ events })));
    expect(await response.json()).toEqual({ accepted: 3, skipped: 0 });
    const [longReply, quotedOnly, noText] = queued(ingestQueue.sent).map((e) => e.reply);
    expect(String(longReply?.excerpt).length).toBeLessThanOrEqual(MAX_EXCERPT_CHARS + 1);
    expect(String(longReply?.excerpt)).toMatch(/^Sehr gerne, wir sind interessiert\..*…$/);
    expect(quotedOnly).not.toHaveProperty('excerpt');
    expect(noText).not.toHaveProperty('excerpt');
    expect(noText?.references).toEqual([]);
  });

  describe('refuses what is not proven to come from the sender with 401, queueing nothing', () => {
    const body = JSON.stringify(OPENED);
    it.each([
      [
        'a forged signature',
        () => {
          const init = signed(body);
          const headers = init.headers as Record<string, string>;
          headers['webhook-signature'] = `v1,${randomBytes(32).toString('base64')}`;
          return init;
        },
      ],
      [
        'a body changed after signing',
        () => signed(body.replace('evt-1001', 'evt-9999'), { signedBody: body }),
      ],
      ['the wrong secret', () => signed(body, { secret: OTHER_SECRET })],
      [
        'a timestamp older than 5 minutes',
        () => signed(body, { date: new Date(Date.now() - 6 * 60_000) }),
      ],
      [
        'a timestamp more than 5 minutes ahead',
        () => signed(body, { date: new Date(Date.now() + 6 * 60_000) }),
      ],
      [
        'no signature headers',
        () => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body }),
      ],
      [
        'a timestamp that is no number',
        () => {
          const init = signed(body);
          (init.headers as Record<string, string>)['webhook-timestamp'] = 'yesterday';
          return init;
        },
      ],
    ])('%s', async (_label, init) => {
      const { app, ingestQueue } = genericApi();
      const response = await app.request(PATH, init());
      expect((await expectProblem(response, 401)).type).toBe('/problems/webhook-unauthenticated');
      expect(ingestQueue.sent).toEqual([]);
    });

    it('a replayed webhook-id (the very same signed request again)', async () => {
      const { app, ingestQueue } = genericApi();
      const init = signed(body, { id: 'msg_replay' });
      expect((await app.request(PATH, init)).status).toBe(200);
      const replay = await app.request(PATH, { ...init, headers: { ...(init.headers as object) } });
      expect((await expectProblem(replay, 401)).detail).toMatch(/replay/);
      expect(ingestQueue.sent).toHaveLength(1);
    });
  });

  it('accepts the sender retrying the same webhook-id after the enqueue failed (500)', async () => {
    // Standard Webhooks senders resend a failed message with the same webhook-id. The replay
    // guard must not turn that retry into a 401, or the event is lost (the classify step
    // drops true duplicates by event id anyway).
    const { app, ingestQueue } = genericApi();
    const spy = vi.spyOn(ingestQueue, 'sendBatch').mockRejectedValueOnce(new Error('SQS down'));
    const init = signed(JSON.stringify(OPENED), { id: 'msg_retry' });
    const failed = await app.request(PATH, init);
    expect(failed.status).toBe(500);
    expect(ingestQueue.sent).toEqual([]);
    const retry = await app.request(PATH, init);
    expect(retry.status).toBe(200);
    expect(queued(ingestQueue.sent).map((envelope) => envelope.event?.id)).toEqual([
      'generic_evt-1001',
    ]);
    spy.mockRestore();
  });

  it('refuses an invalid item with 400 problem+json pointing at it, and queues nothing', async () => {
    const { app, ingestQueue } = genericApi();
    const single = await app.request(PATH, signed(JSON.stringify({ ...OPENED, email: 'nope' })));
    const document = await expectProblem(single, 400);
    expect(document.type).toBe('/problems/webhook-format');
    expect(document.errors).toEqual([{ pointer: '#/email', detail: expect.any(String) }]);

    const events = [OPENED, { ...OPENED, id: 'evt-2', occurredAt: 'yesterday' }, OPENED];
    const batch = await app.request(PATH, signed(JSON.stringify({ events })));
    expect((await expectProblem(batch, 400)).errors).toEqual([
      { pointer: '#/events/1/occurredAt', detail: expect.any(String) },
    ]);

    const reply = {
      kind: 'reply',
      id: 'r-1',
      occurredAt: OPENED.occurredAt,
      from: 'not an address',
    };
    const badReply = await app.request(PATH, signed(JSON.stringify({ events: [reply] })));
    expect((await expectProblem(badReply, 400)).errors).toEqual([
      { pointer: '#/events/0/from', detail: expect.any(String) },
    ]);
    expect(ingestQueue.sent).toEqual([]);
  });

  it.each([
    ['not JSON', '{"kind": "email_opened",'],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['a JSON string', '"email_opened"'],
    ['an unknown kind', JSON.stringify({ ...OPENED, kind: 'email_read' })],
  ])('refuses a signed body that is %s with 400 problem+json', async (_label, body) => {
    const { app, ingestQueue } = genericApi();
    const document = await expectProblem(await app.request(PATH, signed(body)), 400);
    expect(document.type).toBe('/problems/webhook-format');
    expect(ingestQueue.sent).toEqual([]);
  });

  it.each([
    ['null', null],
    ['a number', 7],
    ['a string', 'email_opened'],
    ['a list', [OPENED]],
  ])('refuses a signed batch with an item that is %s with 400, not 500', async (_label, item) => {
    const { app, ingestQueue, logger } = genericApi();
    const response = await app.request(PATH, signed(JSON.stringify({ events: [OPENED, item] })));
    const document = await expectProblem(response, 400);
    expect(document.errors?.map((issue) => issue.pointer)).toContainEqual(
      expect.stringMatching(/^#\/events\/1\b/),
    );
    expect(ingestQueue.sent).toEqual([]);
    expect(logger.errors).toEqual([]);
  });

  it('holds the bounds of {"events": [...]}: 1 to 500 items', async () => {
    const { app, ingestQueue } = genericApi();
    const many = Array.from({ length: 501 }, (_, i) => ({ ...OPENED, id: `evt-${i}` }));
    const tooMany = await app.request(PATH, signed(JSON.stringify({ events: many })));
    await expectProblem(tooMany, 400);
    const none = await app.request(PATH, signed(JSON.stringify({ events: [] })));
    await expectProblem(none, 400);
    expect(ingestQueue.sent).toEqual([]);

    const max = await app.request(PATH, signed(JSON.stringify({ events: many.slice(0, 500) })));
    expect(await max.json()).toEqual({ accepted: 500, skipped: 0 });
  });

  it('never queues an id the classify step cannot read (a sender id of 200 characters)', async () => {
    // Ids are namespaced with "generic_" after validation; the queued id must still fit
    // the envelope's 200 characters, or the accepted event ends in the DLQ.
    const { app, ingestQueue } = genericApi();
    const id = 'e'.repeat(200);
    const reply = { kind: 'reply', id, occurredAt: OPENED.occurredAt, from: 'anna@example.com' };
    for (const item of [{ ...OPENED, id }, reply]) {
      const response = await app.request(PATH, signed(JSON.stringify(item)));
      expect([200, 400]).toContain(response.status);
    }
    queued(ingestQueue.sent);
  });

  it('refuses a body over 256 KiB with 413 problem+json', async () => {
    const { app, ingestQueue } = genericApi();
    const body = JSON.stringify({ ...OPENED, padding: 'x'.repeat(MAX_BODY_BYTES) });
    await expectProblem(await app.request(PATH, signed(body)), 413);
    expect(ingestQueue.sent).toEqual([]);
  });
});

describe('providers that are not there', () => {
  it('answers an unknown provider name with 404 problem+json, whatever the body', async () => {
    const { app, ingestQueue } = genericApi();
    for (const provider of ['mailchimp', 'GENERIC', 'generic%2F..', '..']) {
      const response = await app.request(
        `/v1/webhooks/email/${provider}`,
        signed(JSON.stringify(OPENED)),
      );
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    const document = await expectProblem(
      await app.request('/v1/webhooks/email/mailchimp', signed('{}')),
      404,
    );
    expect(document.type).toBe('/problems/unknown-provider');
    expect(ingestQueue.sent).toEqual([]);
  });

  it.each(['postmark', 'mailgun', 'sendgrid', 'ses', 'generic'])(
    'answers the known but unconfigured provider %s with 404 problem+json',
    async (provider) => {
      const { app, ingestQueue } = testApi();
      const response = await app.request(
        `/v1/webhooks/email/${provider}`,
        signed(JSON.stringify(OPENED)),
      );
      const document = await expectProblem(response, 404);
      expect(document.type).toBe('/problems/unknown-provider');
      expect(document.detail).toContain('not configured');
      expect(ingestQueue.sent).toEqual([]);
    },
  );
});
