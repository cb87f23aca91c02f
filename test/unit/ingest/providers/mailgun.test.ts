import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createMailgunAdapter,
  MAILGUN_DEFAULT_TOLERANCE_SECONDS,
  mailgunConfigSchema,
} from '../../../../lib/ingest/email/providers/mailgun.ts';
import { MemoryReplayGuard } from '../../../../lib/ingest/email/replay-guard.ts';
import {
  type EmailProviderAdapter,
  type EmailSignal,
  type ProviderContext,
  type ProviderOutcome,
  type RawWebhookRequest,
  type ReplayGuard,
  WebhookAuthError,
  WebhookFormatError,
} from '../../../../lib/ingest/email/types.ts';

const FIXTURES = new URL('../../../fixtures/providers/mailgun/', import.meta.url);
const fixtureBytes = (name: string): Uint8Array => readFileSync(new URL(name, FIXTURES));
const fixtureText = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

/** The test signing key the fixtures were signed with (see the fixtures' .source.txt). */
const SIGNING_KEY = 'key-7f3c1e0b9a8d4c2e6f5a4b3c2d1e0f9a';
const MULTIPART = 'multipart/form-data; boundary=----MailgunFormBoundary7c2f9e1a';
const URLENCODED = 'application/x-www-form-urlencoded';

const adapter = createMailgunAdapter({ signingKey: SIGNING_KEY });

function contextAt(seconds: number, replayGuard: ReplayGuard = new MemoryReplayGuard()) {
  return {
    now: () => new Date(seconds * 1000),
    replayGuard,
    fetchText: async () => {
      throw new Error('Mailgun needs no fetch');
    },
  } satisfies ProviderContext;
}

function request(body: string | Uint8Array, contentType = 'application/json'): RawWebhookRequest {
  return {
    method: 'POST',
    url: 'https://leadstage.example/v1/webhooks/email/mailgun',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? new TextEncoder().encode(body) : body,
  };
}

function sign(key: string, timestamp: string, token: string): string {
  return createHmac('sha256', key)
    .update(timestamp + token)
    .digest('hex');
}

/** The signature timestamp of a JSON event fixture, in seconds. */
function signedAt(text: string): number {
  return Number(JSON.parse(text).signature.timestamp);
}

async function eventSignals(name: string): Promise<EmailSignal[]> {
  const text = fixtureText(name);
  const outcome = await adapter.handle(request(text), contextAt(signedAt(text) + 120));
  if (outcome.kind !== 'signals') throw new Error(`expected signals, got ${outcome.kind}`);
  return outcome.signals;
}

async function rejection(
  promise: Promise<ProviderOutcome>,
): Promise<WebhookAuthError | WebhookFormatError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof WebhookAuthError || error instanceof WebhookFormatError)) {
    throw new Error(`expected a webhook error, got ${String(error)}`);
  }
  return error;
}

/** A JSON event body signed now with `key`, around the given event-data. */
function signedEvent(
  eventData: unknown,
  options: { key?: string; timestamp?: number; token?: string } = {},
): string {
  const timestamp = String(options.timestamp ?? 1741000000);
  const token = options.token ?? 'a'.repeat(50);
  return JSON.stringify({
    signature: {
      timestamp,
      token,
      signature: sign(options.key ?? SIGNING_KEY, timestamp, token),
    },
    'event-data': eventData,
  });
}

/** The url-encoded route fixture with some fields replaced and the block re-signed. */
function routeForm(
  changes: Record<string, string | undefined>,
  options: { timestamp?: number; token?: string } = {},
): string {
  const form = new URLSearchParams(fixtureText('route-reply.urlencoded.txt'));
  const timestamp = String(options.timestamp ?? form.get('timestamp'));
  const token = options.token ?? `${form.get('token')}`;
  form.set('timestamp', timestamp);
  form.set('token', token);
  form.set('signature', sign(SIGNING_KEY, timestamp, token));
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) form.delete(name);
    else form.set(name, value);
  }
  return form.toString();
}

const ROUTE_TIMESTAMP = 1741001400;

describe('mailgun config', () => {
  it('defaults the timestamp window to 9 hours and refuses unknown keys', () => {
    expect(mailgunConfigSchema.parse({ signingKey: 'k' })).toEqual({
      signingKey: 'k',
      timestampToleranceSeconds: MAILGUN_DEFAULT_TOLERANCE_SECONDS,
    });
    expect(MAILGUN_DEFAULT_TOLERANCE_SECONDS).toBe(32_400);
    expect(mailgunConfigSchema.safeParse({ signingKey: '' }).success).toBe(false);
    expect(mailgunConfigSchema.safeParse({ signingKey: 'k', apiKey: 'x' }).success).toBe(false);
    expect(
      mailgunConfigSchema.safeParse({ signingKey: 'k', timestampToleranceSeconds: 0 }).success,
    ).toBe(false);
  });

  it('is named mailgun', () => {
    expect(adapter.name).toBe('mailgun');
  });
});

describe('mailgun event webhooks', () => {
  const anna = 'anna.schmidt@schmidt-maschinenbau.example';
  const firstMail = '20250303105955.1.5f3a9c@mg.leadstage.example';

  it('delivered -> delivered', async () => {
    expect(await eventSignals('event-delivered.json')).toEqual([
      {
        type: 'delivered',
        providerEventId: 'Xk2pQe7uTBu0sJm8yV1Lrw:1740999998',
        occurredAt: '2025-03-03T11:06:38.412Z',
        recipient: anna,
        messageId: firstMail,
      },
    ]);
  });

  it('opened -> opened', async () => {
    expect(await eventSignals('event-opened.json')).toEqual([
      {
        type: 'opened',
        providerEventId: 'mH4d2Vn0Q8ei7sLx1cK9Zg:1741003598',
        occurredAt: '2025-03-03T12:06:38.070Z',
        recipient: anna,
        messageId: firstMail,
      },
    ]);
  });

  it('clicked -> clicked with the url', async () => {
    expect(await eventSignals('event-clicked.json')).toEqual([
      {
        type: 'clicked',
        providerEventId: 'Pq7sYb1eRFm3k0WcJd5uNa:1741003695',
        occurredAt: '2025-03-03T12:08:15.500Z',
        recipient: anna,
        messageId: firstMail,
        url: 'https://www.leadstage.example/preise?utm_source=angebot',
      },
    ]);
  });

  it('failed, permanent -> bounced hard', async () => {
    expect(await eventSignals('event-failed-permanent.json')).toEqual([
      {
        type: 'bounced',
        providerEventId: 'Bv9cLq2mTk6xW0pYe4Rj1s:1741000997',
        occurredAt: '2025-03-03T11:23:17.250Z',
        recipient: 'm.keller@keller-bau.example',
        messageId: '20250303110317.4.77ab01@mg.leadstage.example',
        bounceType: 'hard',
      },
    ]);
  });

  it('failed, temporary -> bounced soft', async () => {
    expect(await eventSignals('event-failed-temporary.json')).toEqual([
      {
        type: 'bounced',
        providerEventId: 'Hn3wTz8aQye5r1KdVb0MiA:1741001195',
        occurredAt: '2025-03-03T11:26:35.900Z',
        recipient: 'lena.hoffmann@hoffmann-druck.example',
        messageId: '20250303110500.9.1c2d3e@mg.leadstage.example',
        bounceType: 'soft',
      },
    ]);
  });

  it('failed, permanent, suppress-unsubscribe -> unsubscribed (not a bounce)', async () => {
    expect(await eventSignals('event-failed-suppress-unsubscribe.json')).toEqual([
      {
        type: 'unsubscribed',
        providerEventId: 'Ru6eNp0cXs2Lq8TjWm4bHd:1741001299',
        occurredAt: '2025-03-03T11:28:19.010Z',
        recipient: 't.wagner@wagner-elektro.example',
        messageId: '20250303110800.2.9f8e7d@mg.leadstage.example',
      },
    ]);
  });

  it('failed, permanent, suppress-complaint -> complained', async () => {
    const data = JSON.parse(fixtureText('event-failed-suppress-unsubscribe.json'))['event-data'];
    data.reason = 'suppress-complaint';
    const outcome = await adapter.handle(request(signedEvent(data)), contextAt(1741000000));
    expect(outcome).toMatchObject({ signals: [{ type: 'complained' }] });
  });

  it('unsubscribed -> unsubscribed', async () => {
    expect(await eventSignals('event-unsubscribed.json')).toEqual([
      {
        type: 'unsubscribed',
        providerEventId: 'Zt1aKc9vPm4oQx7gEs2nLb:1741003990',
        occurredAt: '2025-03-03T12:13:10.440Z',
        recipient: anna,
        messageId: firstMail,
      },
    ]);
  });

  it('complained -> complained', async () => {
    expect(await eventSignals('event-complained.json')).toEqual([
      {
        type: 'complained',
        providerEventId: 'Wd8fGh2jKl5mNp0qRs3tUv:1741089000',
        occurredAt: '2025-03-04T11:50:00.500Z',
        recipient: 't.wagner@wagner-elektro.example',
        messageId: '20250303090000.7.abcdef@mg.leadstage.example',
      },
    ]);
  });

  it('an event it does not map (accepted) -> nothing, but only once authenticated', async () => {
    expect(await eventSignals('event-accepted.json')).toEqual([]);
    const forged = JSON.parse(fixtureText('event-accepted.json'));
    forged.signature.signature = '0'.repeat(64);
    await expect(
      adapter.handle(request(JSON.stringify(forged)), contextAt(1740999990)),
    ).rejects.toBeInstanceOf(WebhookAuthError);
  });
});

describe('mailgun route forwards (inbound replies)', () => {
  it("turns the url-encoded forward into a reply signal with Mailgun's stripped text", async () => {
    const outcome = await adapter.handle(
      request(fixtureBytes('route-reply.urlencoded.txt'), URLENCODED),
      contextAt(ROUTE_TIMESTAMP + 30),
    );
    expect(outcome).toEqual({
      kind: 'signals',
      signals: [
        {
          type: 'reply',
          providerEventId: 'caf7x9q2-reply.4712@mail.schmidt-maschinenbau.example',
          occurredAt: '2025-03-03T11:09:41.000Z',
          from: 'anna.schmidt@schmidt-maschinenbau.example',
          to: [
            'reply+ct_0123456789abcdef01234567@reply.leadstage.example',
            'jonas.weber+intern@schmidt-maschinenbau.example',
          ],
          replyToken: 'ct_0123456789abcdef01234567',
          inReplyTo: '20250303105955.1.5f3a9c@mg.leadstage.example',
          references: [
            'first.mail.1@leadstage.example',
            '20250303105955.1.5f3a9c@mg.leadstage.example',
          ],
          strippedText: 'Hallo Herr Becker,\n\ndas passt, bitte rufen Sie mich Donnerstag an.',
        },
      ],
    });
  });

  it('reads the multipart forward (with an attachment) and strips the German quote itself', async () => {
    const outcome = await adapter.handle(
      request(fixtureBytes('route-reply.multipart.txt'), MULTIPART),
      contextAt(ROUTE_TIMESTAMP + 90),
    );
    expect(outcome).toEqual({
      kind: 'signals',
      signals: [
        {
          type: 'reply',
          providerEventId: 'caf7x9q2-reply.4712@mail.schmidt-maschinenbau.example',
          occurredAt: '2025-03-03T11:09:41.000Z',
          from: 'anna.schmidt@schmidt-maschinenbau.example',
          to: [
            'reply+ct_0123456789abcdef01234567@reply.leadstage.example',
            'jonas.weber+intern@schmidt-maschinenbau.example',
          ],
          replyToken: 'ct_0123456789abcdef01234567',
          inReplyTo: '20250303105955.1.5f3a9c@mg.leadstage.example',
          references: [
            'first.mail.1@leadstage.example',
            '20250303105955.1.5f3a9c@mg.leadstage.example',
          ],
          strippedText:
            'Hallo Herr Becker,\n\ndas passt, bitte rufen Sie mich Donnerstag an.\n\nViele Grüße\nAnna Schmidt',
        },
      ],
    });
  });

  it('falls back to the sender, the signed time and a content id when headers are missing', async () => {
    const body = routeForm({
      From: undefined,
      from: undefined,
      Date: undefined,
      'Message-Id': undefined,
      'In-Reply-To': undefined,
      References: undefined,
      'message-headers': '[["Subject", "Re: Angebot"]]',
    });
    const outcome = await adapter.handle(request(body, URLENCODED), contextAt(ROUTE_TIMESTAMP));
    const [reply] = outcome.kind === 'signals' ? outcome.signals : [];
    expect(reply).toMatchObject({
      type: 'reply',
      from: 'anna.schmidt@schmidt-maschinenbau.example',
      occurredAt: new Date(ROUTE_TIMESTAMP * 1000).toISOString(),
      references: [],
    });
    expect(reply?.providerEventId).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(reply).not.toHaveProperty('inReplyTo');
  });

  it('yields nothing for an automatic answer (Auto-Submitted, out of office)', async () => {
    const form = new URLSearchParams(fixtureText('route-reply.urlencoded.txt'));
    const headers = JSON.parse(`${form.get('message-headers')}`) as [string, string][];
    headers.push(['Auto-Submitted', 'auto-replied']);
    const body = routeForm({ 'message-headers': JSON.stringify(headers) });
    expect(await adapter.handle(request(body, URLENCODED), contextAt(ROUTE_TIMESTAMP))).toEqual({
      kind: 'signals',
      signals: [],
    });
  });

  it('strips only the start of a huge hostile body, quickly', async () => {
    const body = routeForm({
      'stripped-text': undefined,
      'body-plain': `Danke!\nOn ${' \n'.repeat(500_000)}`,
    });
    const started = performance.now();
    const outcome = await adapter.handle(request(body, URLENCODED), contextAt(ROUTE_TIMESTAMP));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(outcome).toMatchObject({ signals: [{ type: 'reply' }] });
  });

  it('takes no token from a Cc plus-address', async () => {
    const body = routeForm({
      recipient: 'vertrieb@reply.leadstage.example',
      To: 'vertrieb@reply.leadstage.example',
      'message-headers': JSON.stringify([
        ['To', 'vertrieb@reply.leadstage.example'],
        ['Cc', 'Jonas Weber <jonas.weber+intern@schmidt-maschinenbau.example>'],
      ]),
    });
    const outcome = await adapter.handle(request(body, URLENCODED), contextAt(ROUTE_TIMESTAMP));
    expect(outcome.kind === 'signals' ? outcome.signals[0] : undefined).not.toHaveProperty(
      'replyToken',
    );
  });
});

describe('mailgun signature verification', () => {
  const text = fixtureText('event-delivered.json');
  const ts = signedAt(text);

  it('accepts the published mailgun-php vector and refuses its bad twin (frozen 2014 clock)', async () => {
    // mailgun/mailgun-php tests/Api/WebhookTest.php testVerifyWebhookGood / testVerifyWebhookBad
    const key = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
    const vectorAdapter = createMailgunAdapter({ signingKey: key });
    const eventData = JSON.parse(text)['event-data'];
    const body = (token: string) =>
      JSON.stringify({
        signature: {
          timestamp: '1403645220',
          token,
          signature: '9cfc5c41582e51246e73c88d34db3af0a3a2692a76fbab81492842f000256d33',
        },
        'event-data': eventData,
      });
    const good = await vectorAdapter.handle(
      request(body('5egbgr1vjgqxtrnp65xfznchgdccwh5d6i09vijqi3whgowmn6')),
      contextAt(1403645220 + 5),
    );
    expect(good.kind).toBe('signals');
    await expect(
      vectorAdapter.handle(
        request(body('owyldpe6nxhmrn78epljl6bj0orrki1u3d2v5e6cnlmmuox8jr')),
        contextAt(1403645220 + 5),
      ),
    ).rejects.toBeInstanceOf(WebhookAuthError);
  });

  it('refuses a forged signature', async () => {
    const forged = JSON.parse(text);
    const digits: string = forged.signature.signature;
    forged.signature.signature = `${digits.slice(0, -1)}${digits.endsWith('0') ? '1' : '0'}`;
    await expect(
      adapter.handle(request(JSON.stringify(forged)), contextAt(ts)),
    ).rejects.toBeInstanceOf(WebhookAuthError);
  });

  it('refuses a signature made with another key', async () => {
    const other = createMailgunAdapter({ signingKey: 'key-someone-elses-0000000000000000' });
    await expect(other.handle(request(text), contextAt(ts))).rejects.toBeInstanceOf(
      WebhookAuthError,
    );
  });

  it('refuses a signature that is not 64 hex digits (e.g. the 65-digit docs sample)', async () => {
    const bad = JSON.parse(text);
    bad.signature.signature = `${bad.signature.signature}7`;
    await expect(
      adapter.handle(request(JSON.stringify(bad)), contextAt(ts)),
    ).rejects.toBeInstanceOf(WebhookAuthError);
  });

  it('accepts the timestamp up to the window either way and refuses it beyond', async () => {
    const window = MAILGUN_DEFAULT_TOLERANCE_SECONDS;
    for (const now of [ts - window, ts + window, ts + 8 * 60 * 60]) {
      expect((await adapter.handle(request(text), contextAt(now))).kind).toBe('signals');
    }
    for (const now of [ts + window + 1, ts - window - 1]) {
      const error = await rejection(adapter.handle(request(text), contextAt(now)));
      expect(error).toBeInstanceOf(WebhookAuthError);
      expect(error.message).toMatch(/outside the accepted window/);
    }
  });

  it('honours a configured window', async () => {
    const strict = createMailgunAdapter({
      signingKey: SIGNING_KEY,
      timestampToleranceSeconds: 900,
    });
    expect((await strict.handle(request(text), contextAt(ts + 900))).kind).toBe('signals');
    await expect(strict.handle(request(text), contextAt(ts + 901))).rejects.toBeInstanceOf(
      WebhookAuthError,
    );
  });

  it('refuses a replayed token, even with other event-data', async () => {
    const guard = new MemoryReplayGuard();
    expect((await adapter.handle(request(text), contextAt(ts, guard))).kind).toBe('signals');
    await expect(adapter.handle(request(text), contextAt(ts + 1, guard))).rejects.toThrow(
      /already used/,
    );
    const swapped = JSON.parse(text);
    swapped['event-data'] = JSON.parse(fixtureText('event-unsubscribed.json'))['event-data'];
    await expect(
      adapter.handle(request(JSON.stringify(swapped)), contextAt(ts + 2, guard)),
    ).rejects.toBeInstanceOf(WebhookAuthError);
  });

  it('remembers a token as long as its timestamp is acceptable', async () => {
    const calls: { key: string; ttlMs: number }[] = [];
    const guard: ReplayGuard = {
      firstUse: (key, ttlMs) => {
        calls.push({ key, ttlMs });
        return true;
      },
      release: () => undefined,
    };
    await adapter.handle(request(text), contextAt(ts + 60, guard));
    expect(calls).toEqual([
      {
        key: `mailgun:${JSON.parse(text).signature.token}`,
        ttlMs: (MAILGUN_DEFAULT_TOLERANCE_SECONDS - 60) * 1000,
      },
    ]);
  });

  it('lets neither a forgery nor a malformed body use up the token', async () => {
    const guard = new MemoryReplayGuard();
    const forged = JSON.parse(text);
    forged.signature.signature = '0'.repeat(64);
    await expect(
      adapter.handle(request(JSON.stringify(forged)), contextAt(ts, guard)),
    ).rejects.toBeInstanceOf(WebhookAuthError);
    const malformed = JSON.parse(text);
    malformed['event-data'].recipient = 'nobody';
    await expect(
      adapter.handle(request(JSON.stringify(malformed)), contextAt(ts, guard)),
    ).rejects.toBeInstanceOf(WebhookFormatError);
    expect((await adapter.handle(request(text), contextAt(ts, guard))).kind).toBe('signals');
  });

  it('accepts a subaccount event signed only in parent-signature with our key', async () => {
    const body = JSON.parse(text);
    body.signature['parent-signature'] = body.signature.signature;
    body.signature.signature = sign(
      'key-the-subaccounts-own',
      body.signature.timestamp,
      body.signature.token,
    );
    expect((await adapter.handle(request(JSON.stringify(body)), contextAt(ts))).kind).toBe(
      'signals',
    );
  });

  it.each([
    ['no signature object', (body: Record<string, unknown>) => delete body.signature],
    ['a signature that is a string', (body: Record<string, unknown>) => (body.signature = 'abc')],
    ['no token', (body: { signature: Record<string, unknown> }) => delete body.signature.token],
    [
      'an empty signature',
      (body: { signature: Record<string, unknown> }) => (body.signature.signature = ''),
    ],
  ])('refuses %s (missing auth)', async (_label, change) => {
    const body = JSON.parse(text);
    change(body);
    await expect(
      adapter.handle(request(JSON.stringify(body)), contextAt(ts)),
    ).rejects.toBeInstanceOf(WebhookAuthError);
  });

  it('verifies route forwards the same way: forged, missing, expired, replayed', async () => {
    const forged = new URLSearchParams(fixtureText('route-reply.urlencoded.txt'));
    forged.set('signature', '1'.repeat(64));
    await expect(
      adapter.handle(request(forged.toString(), URLENCODED), contextAt(ROUTE_TIMESTAMP)),
    ).rejects.toBeInstanceOf(WebhookAuthError);

    const missing = new URLSearchParams(fixtureText('route-reply.urlencoded.txt'));
    missing.delete('token');
    await expect(
      adapter.handle(request(missing.toString(), URLENCODED), contextAt(ROUTE_TIMESTAMP)),
    ).rejects.toBeInstanceOf(WebhookAuthError);

    const body = fixtureBytes('route-reply.urlencoded.txt');
    await expect(
      adapter.handle(
        request(body, URLENCODED),
        contextAt(ROUTE_TIMESTAMP + MAILGUN_DEFAULT_TOLERANCE_SECONDS + 1),
      ),
    ).rejects.toBeInstanceOf(WebhookAuthError);

    const guard = new MemoryReplayGuard();
    await adapter.handle(request(body, URLENCODED), contextAt(ROUTE_TIMESTAMP, guard));
    await expect(
      adapter.handle(request(body, URLENCODED), contextAt(ROUTE_TIMESTAMP, guard)),
    ).rejects.toBeInstanceOf(WebhookAuthError);
  });
});

describe('mailgun bad bodies', () => {
  const ts = 1741000000;
  const delivered = () => JSON.parse(fixtureText('event-delivered.json'))['event-data'];

  it.each([
    ['not JSON', '{not json', 'application/json'],
    ['a JSON array', '[]', 'application/json'],
    ['bytes that are not UTF-8', new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]), 'application/json'],
    ['plain text', 'hello', 'text/plain'],
    [
      'multipart without its boundary',
      fixtureBytes('route-reply.multipart.txt'),
      'multipart/form-data',
    ],
    ['no content type and no JSON', 'a=b', ''],
  ])('refuses %s with a format error', async (_label, body, contentType) => {
    const error = await rejection(adapter.handle(request(body, contentType), contextAt(ts)));
    expect(error).toBeInstanceOf(WebhookFormatError);
    expect((error as WebhookFormatError).issues[0]?.pointer).toBe('');
  });

  it('reads JSON sent without a content type', async () => {
    const text = fixtureText('event-delivered.json');
    expect((await adapter.handle(request(text, ''), contextAt(signedAt(text)))).kind).toBe(
      'signals',
    );
  });

  it('points at signed event-data that is missing or incomplete', async () => {
    const noData = await rejection(adapter.handle(request(signedEvent(undefined)), contextAt(ts)));
    expect(noData).toBeInstanceOf(WebhookFormatError);
    expect((noData as WebhookFormatError).issues.map((issue) => issue.pointer)).toEqual([
      '/event-data',
    ]);

    const data = delivered();
    delete data.id;
    data.timestamp = 'soon';
    const incomplete = (await rejection(
      adapter.handle(request(signedEvent(data)), contextAt(ts)),
    )) as WebhookFormatError;
    expect(incomplete.issues.map((issue) => issue.pointer).sort()).toEqual([
      '/event-data/id',
      '/event-data/timestamp',
    ]);
  });

  it.each([
    ['a recipient that is no address', { recipient: 'nobody' }, '/event-data/recipient'],
    ['a timestamp beyond any date', { timestamp: 1e300 }, '/event-data/timestamp'],
    ['a negative timestamp', { timestamp: -5 }, '/event-data/timestamp'],
    ['a click without url', { event: 'clicked' }, '/event-data/url'],
    ['a failure without severity', { event: 'failed' }, '/event-data/severity'],
    ['a failure of unknown severity', { event: 'failed', severity: 'bad' }, '/event-data/severity'],
  ])('points at %s', async (_label, change, pointer) => {
    const error = await rejection(
      adapter.handle(request(signedEvent({ ...delivered(), ...change })), contextAt(ts)),
    );
    expect(error).toBeInstanceOf(WebhookFormatError);
    expect((error as WebhookFormatError).issues.map((issue) => issue.pointer)).toEqual([pointer]);
  });

  it('points at a signed route forward without any sender', async () => {
    const body = routeForm({
      From: undefined,
      from: undefined,
      sender: undefined,
      'message-headers': '[["Subject", "Re: Angebot"]]',
    });
    const error = await rejection(
      adapter.handle(request(body, URLENCODED), contextAt(ROUTE_TIMESTAMP)),
    );
    expect(error).toBeInstanceOf(WebhookFormatError);
    expect((error as WebhookFormatError).issues).toEqual([
      { pointer: '/sender', detail: 'not an email address' },
    ]);
  });

  it('points at message-headers that are not a JSON list of pairs', async () => {
    for (const value of ['{oops', '{"From": "x"}']) {
      const body = routeForm({ 'message-headers': value });
      const error = await rejection(
        adapter.handle(request(body, URLENCODED), contextAt(ROUTE_TIMESTAMP)),
      );
      expect((error as WebhookFormatError).issues[0]?.pointer).toBe('/message-headers');
    }
  });

  it('refuses the legacy form-encoded event webhooks with a format error', async () => {
    const timestamp = String(ROUTE_TIMESTAMP);
    const token = 'b'.repeat(50);
    const body = new URLSearchParams({
      event: 'delivered',
      recipient: 'anna@example.com',
      'Message-Id': '<x@y>',
      timestamp,
      token,
      signature: sign(SIGNING_KEY, timestamp, token),
    }).toString();
    const error = await rejection(
      adapter.handle(request(body, URLENCODED), contextAt(ROUTE_TIMESTAMP)),
    );
    expect(error).toBeInstanceOf(WebhookFormatError);
  });

  it('throws nothing but the two webhook errors, whatever arrives', async () => {
    const signedAdapter: EmailProviderAdapter = adapter;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json(),
          fc
            .record({
              event: fc.oneof(
                fc.string(),
                fc.constantFrom('delivered', 'opened', 'clicked', 'failed', 'complained'),
              ),
              id: fc.option(fc.oneof(fc.string(), fc.constant('Xk2pQe7uTBu0sJm8yV1Lrw'))),
              recipient: fc.option(fc.oneof(fc.string(), fc.emailAddress())),
              timestamp: fc.option(fc.oneof(fc.double(), fc.integer(), fc.string())),
              url: fc.option(fc.string()),
              severity: fc.option(fc.oneof(fc.string(), fc.constantFrom('permanent', 'temporary'))),
              message: fc.option(fc.record({ headers: fc.record({ 'message-id': fc.string() }) })),
            })
            .map((data) => signedEvent(data)),
          fc.uint8Array().map((bytes) => Buffer.from(bytes).toString('latin1')),
        ),
        fc.constantFrom('application/json', URLENCODED, MULTIPART, 'text/plain', ''),
        async (body, contentType) => {
          try {
            await signedAdapter.handle(request(body, contentType), contextAt(ts));
          } catch (error) {
            expect(error instanceof WebhookAuthError || error instanceof WebhookFormatError).toBe(
              true,
            );
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
