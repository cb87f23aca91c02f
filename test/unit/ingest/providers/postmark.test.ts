import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createPostmarkAdapter,
  postmarkBounceOutcome,
  postmarkConfigSchema,
} from '../../../../lib/ingest/email/providers/postmark.ts';
import { MemoryReplayGuard } from '../../../../lib/ingest/email/replay-guard.ts';
import {
  type EmailSignal,
  type ProviderContext,
  type ProviderOutcome,
  type RawWebhookRequest,
  WebhookAuthError,
  WebhookFormatError,
} from '../../../../lib/ingest/email/types.ts';

const FIXTURES = new URL('../../../fixtures/providers/postmark/', import.meta.url);
const fixtureText = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const CREDENTIALS = { username: 'postmark-hooks', password: 'c0rrect-h0rse:battery' };
const NOW = new Date('2025-03-10T12:00:00.000Z');

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

function context(): ProviderContext {
  return {
    now: () => NOW,
    replayGuard: new MemoryReplayGuard(),
    fetchText: async () => {
      throw new Error('Postmark needs no fetch');
    },
  };
}

function request(
  body: string | Uint8Array,
  authorization: string | undefined = basic(CREDENTIALS.username, CREDENTIALS.password),
): RawWebhookRequest {
  return {
    method: 'POST',
    url: 'https://leadstage.example/v1/webhooks/email/postmark',
    headers: {
      'content-type': 'application/json',
      ...(authorization === undefined ? {} : { authorization }),
    },
    body: typeof body === 'string' ? new TextEncoder().encode(body) : body,
  };
}

const adapter = createPostmarkAdapter({ basicAuth: CREDENTIALS });

async function handle(body: string | Uint8Array, authorization?: string): Promise<ProviderOutcome> {
  return adapter.handle(
    authorization === undefined ? request(body) : request(body, authorization),
    context(),
  );
}

async function signalsOf(body: string): Promise<EmailSignal[]> {
  const outcome = await handle(body);
  if (outcome.kind !== 'signals') throw new Error(`expected signals, got ${outcome.kind}`);
  return outcome.signals;
}

async function formatError(body: string | Uint8Array): Promise<WebhookFormatError> {
  const error = await handle(body).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(WebhookFormatError);
  return error as WebhookFormatError;
}

describe('postmark config', () => {
  it('needs both parts of the Basic credentials and refuses unknown keys', () => {
    expect(postmarkConfigSchema.safeParse({ basicAuth: CREDENTIALS }).success).toBe(true);
    expect(postmarkConfigSchema.safeParse({ basicAuth: { username: 'x' } }).success).toBe(false);
    expect(
      postmarkConfigSchema.safeParse({ basicAuth: { username: 'a:b', password: 'p' } }).success,
    ).toBe(false);
    expect(postmarkConfigSchema.safeParse({ basicAuth: CREDENTIALS, extra: 1 }).success).toBe(
      false,
    );
  });

  it('is named postmark', () => {
    expect(adapter.name).toBe('postmark');
  });
});

describe('postmark inbound', () => {
  it('turns a reply into a reply signal: token, thread headers, provider-stripped text', async () => {
    expect(await signalsOf(fixtureText('inbound-reply.json'))).toEqual([
      {
        type: 'reply',
        providerEventId: '5b0e3f7c-2d41-4c8e-9a57-1f3e6d2b8c90',
        occurredAt: '2025-03-03T08:14:27.000Z',
        from: 'anna.schmidt@schmidt-maschinenbau.example',
        to: [
          'reply+ct_0123456789abcdef01234567@inbound.leadstage.example',
          'jonas.weber+intern@schmidt-maschinenbau.example',
        ],
        replyToken: 'ct_0123456789abcdef01234567',
        inReplyTo: '7d1c2b3a-0000-4000-8000-abcdef012345@mtasv.net',
        references: [
          'first.mail.1@leadstage.example',
          '7d1c2b3a-0000-4000-8000-abcdef012345@mtasv.net',
        ],
        strippedText:
          'Guten Tag Herr Becker,\n\nvielen Dank, das klingt interessant. Können wir nächste Woche telefonieren?\n\nViele Grüße\nAnna Schmidt',
      },
    ]);
  });

  it('strips the quoted Outlook block itself when Postmark gives no StrippedTextReply', async () => {
    expect(await signalsOf(fixtureText('inbound-unstripped.json'))).toEqual([
      {
        type: 'reply',
        providerEventId: 'c2a1f0e4-8b7d-4f31-a6c2-0d9e8f7a6b51',
        occurredAt: '2025-03-04T14:40:02.000Z',
        from: 'jonas.weber@weber-logistik.example',
        to: ['vertrieb@inbound.leadstage.example'],
        inReplyTo: 'second.mail.2@leadstage.example',
        references: ['second.mail.2@leadstage.example'],
        strippedText:
          'Hallo,\n\nja, bitte schicken Sie mir ein Angebot für 40 Lizenzen.\n\nGruß\nJonas Weber',
      },
    ]);
  });

  it('takes the token from the original recipient when MailboxHash is empty, never from a Cc', async () => {
    const mail = JSON.parse(fixtureText('inbound-reply.json'));
    mail.MailboxHash = '';
    mail.OriginalRecipient = 'Reply+CT_fedcba9876543210fedcba98@inbound.leadstage.example';
    const [signal] = await signalsOf(JSON.stringify(mail));
    expect(signal).toMatchObject({ replyToken: 'ct_fedcba9876543210fedcba98' });

    mail.OriginalRecipient = 'vertrieb@inbound.leadstage.example';
    const [withoutToken] = await signalsOf(JSON.stringify(mail));
    expect(withoutToken).not.toHaveProperty('replyToken');
  });

  it('yields nothing for an out-of-office auto-reply (not an answer)', async () => {
    expect(await signalsOf(fixtureText('inbound-out-of-office.json'))).toEqual([]);
  });

  it.each([
    ['Auto-Submitted: auto-generated', 'Auto-Submitted', 'auto-generated'],
    ['X-Autoreply', 'X-Autoreply', 'yes'],
    ['Precedence: auto_reply', 'Precedence', 'auto_reply'],
    ['a delivery report', 'Content-Type', 'multipart/report; report-type=delivery-status'],
  ])('yields nothing for automatic mail (%s)', async (_label, name, value) => {
    const mail = JSON.parse(fixtureText('inbound-reply.json'));
    mail.Headers.push({ Name: name, Value: value });
    expect(await signalsOf(JSON.stringify(mail))).toEqual([]);
  });

  it('keeps a reply that says Auto-Submitted: no', async () => {
    const mail = JSON.parse(fixtureText('inbound-reply.json'));
    mail.Headers.push({ Name: 'auto-submitted', Value: 'no' });
    expect(await signalsOf(JSON.stringify(mail))).toHaveLength(1);
  });

  it('strips only the start of a huge hostile body, quickly', async () => {
    const mail = JSON.parse(fixtureText('inbound-unstripped.json'));
    mail.TextBody = `Danke!\nOn ${' \n'.repeat(500_000)}`;
    const started = performance.now();
    const [signal] = await signalsOf(JSON.stringify(mail));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(signal?.type).toBe('reply');
  });

  it('falls back to the receive time when the Date header cannot be read', async () => {
    const mail = JSON.parse(fixtureText('inbound-unstripped.json'));
    mail.Date = 'irgendwann';
    const [signal] = await signalsOf(JSON.stringify(mail));
    expect(signal?.occurredAt).toBe(NOW.toISOString());
  });

  it('answers Postmark\'s inbound "check" as a handshake and enqueues nothing', async () => {
    expect(await handle(fixtureText('inbound-check.json'))).toEqual({
      kind: 'handshake',
      message: 'Postmark test payload acknowledged; nothing was enqueued.',
    });
  });

  it('treats an outbound "Send test" payload (nil MessageID) as a handshake too', async () => {
    const event = JSON.parse(fixtureText('delivery.json'));
    event.MessageID = '00000000-0000-0000-0000-000000000000';
    expect((await handle(JSON.stringify(event))).kind).toBe('handshake');
  });
});

describe('postmark outbound webhooks', () => {
  it('Delivery -> delivered, with the outbound Message-ID as Postmark writes it', async () => {
    expect(await signalsOf(fixtureText('delivery.json'))).toEqual([
      {
        type: 'delivered',
        providerEventId: 'delivery:7d1c2b3a-0000-4000-8000-abcdef012345:efedb6e8f9c50260',
        occurredAt: '2025-02-28T15:02:41.331Z',
        recipient: 'anna.schmidt@schmidt-maschinenbau.example',
        messageId: '7d1c2b3a-0000-4000-8000-abcdef012345@mtasv.net',
      },
    ]);
  });

  it('Open -> opened', async () => {
    expect(await signalsOf(fixtureText('open.json'))).toEqual([
      {
        type: 'opened',
        providerEventId: 'open:7d1c2b3a-0000-4000-8000-abcdef012345:e3920f76956cdbaa',
        occurredAt: '2025-02-28T16:20:05.550Z',
        recipient: 'anna.schmidt@schmidt-maschinenbau.example',
        messageId: '7d1c2b3a-0000-4000-8000-abcdef012345@mtasv.net',
      },
    ]);
  });

  it('Click -> clicked with the original link', async () => {
    expect(await signalsOf(fixtureText('click.json'))).toEqual([
      {
        type: 'clicked',
        providerEventId: 'click:7d1c2b3a-0000-4000-8000-abcdef012345:d68f24a28e284b55',
        occurredAt: '2025-02-28T16:21:40.000Z',
        recipient: 'anna.schmidt@schmidt-maschinenbau.example',
        messageId: '7d1c2b3a-0000-4000-8000-abcdef012345@mtasv.net',
        url: 'https://www.leadstage.example/preise?utm_source=angebot',
      },
    ]);
  });

  it('Bounce HardBounce -> bounced hard, keeping an ID above 2^53 digit for digit', async () => {
    const text = fixtureText('bounce-hard.json');
    // The point of the test: a plain parse corrupts this id.
    expect(String(JSON.parse(text).ID)).not.toBe('5823372036854775123');
    expect(await signalsOf(text)).toEqual([
      {
        type: 'bounced',
        providerEventId: 'bounce:5823372036854775123',
        occurredAt: '2025-03-02T07:45:12.123Z',
        recipient: 'm.keller@keller-bau.example',
        messageId: '9e8d7c6b-5a49-4382-b1c0-ffeeddccbbaa@mtasv.net',
        bounceType: 'hard',
      },
    ]);
  });

  it('Bounce Transient -> bounced soft', async () => {
    expect(await signalsOf(fixtureText('bounce-transient.json'))).toEqual([
      {
        type: 'bounced',
        providerEventId: 'bounce:3921004455',
        occurredAt: '2025-03-02T08:10:00.000Z',
        recipient: 'lena.hoffmann@hoffmann-druck.example',
        messageId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d@mtasv.net',
        bounceType: 'soft',
      },
    ]);
  });

  it('Bounce AutoResponder (out of office) -> nothing', async () => {
    expect(await signalsOf(fixtureText('bounce-autoresponder.json'))).toEqual([]);
  });

  it('SpamComplaint -> complained', async () => {
    expect(await signalsOf(fixtureText('spam-complaint.json'))).toEqual([
      {
        type: 'complained',
        providerEventId: 'spam-complaint:3921009901',
        occurredAt: '2025-03-05T11:30:00.000Z',
        recipient: 't.wagner@wagner-elektro.example',
        messageId: '2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901@mtasv.net',
      },
    ]);
  });

  it('SubscriptionChange suppressing (ManualSuppression) -> unsubscribed', async () => {
    expect(await signalsOf(fixtureText('subscription-change-unsubscribe.json'))).toEqual([
      {
        type: 'unsubscribed',
        providerEventId: 'subscription-change:35a6c64ad06d2229',
        occurredAt: '2025-03-06T09:00:00.250Z',
        recipient: 'lena.hoffmann@hoffmann-druck.example',
        messageId: '2b3c4d5e-6f70-4182-93a4-b5c6d7e8f902@mtasv.net',
      },
    ]);
  });

  it('SubscriptionChange reactivating (MessageID null) -> resubscribed', async () => {
    expect(await signalsOf(fixtureText('subscription-change-reactivated.json'))).toEqual([
      {
        type: 'resubscribed',
        providerEventId: 'subscription-change:92a8995a1f671ce6',
        occurredAt: '2025-03-09T14:30:00.000Z',
        recipient: 'lena.hoffmann@hoffmann-druck.example',
      },
    ]);
  });

  it('SubscriptionChange after a hard bounce -> bounced hard, not a claimed opt-out', async () => {
    expect(await signalsOf(fixtureText('subscription-change-hard-bounce.json'))).toEqual([
      {
        type: 'bounced',
        providerEventId: 'subscription-change:33b348ce2f5b4ce7',
        occurredAt: '2025-03-02T07:45:13.000Z',
        recipient: 'm.keller@keller-bau.example',
        messageId: '9e8d7c6b-5a49-4382-b1c0-ffeeddccbbaa@mtasv.net',
        bounceType: 'hard',
      },
    ]);
  });

  it('SubscriptionChange after a spam complaint -> complained', async () => {
    const change = JSON.parse(fixtureText('subscription-change-hard-bounce.json'));
    change.SuppressionReason = 'SpamComplaint';
    const [signal] = await signalsOf(JSON.stringify(change));
    expect(signal?.type).toBe('complained');
  });

  it('an unknown RecordType -> nothing (2xx, nothing enqueued)', async () => {
    expect(await handle(fixtureText('unknown-record-type.json'))).toEqual({
      kind: 'signals',
      signals: [],
    });
  });

  it('gives the same event id to a retry and different ids to different opens', async () => {
    const text = fixtureText('open.json');
    const [first] = await signalsOf(text);
    const [retry] = await signalsOf(text);
    const later = JSON.parse(text);
    later.ReceivedAt = '2025-03-01T08:00:00Z';
    const [second] = await signalsOf(JSON.stringify(later));
    expect(retry?.providerEventId).toBe(first?.providerEventId);
    expect(second?.providerEventId).not.toBe(first?.providerEventId);
  });
});

describe('postmark bounce types', () => {
  it.each([
    ['HardBounce', 1, { signal: 'bounced', bounceType: 'hard' }],
    ['BadEmailAddress', 100000, { signal: 'bounced', bounceType: 'hard' }],
    ['ManuallyDeactivated', 100002, { signal: 'bounced', bounceType: 'hard' }],
    ['Transient', 2, { signal: 'bounced', bounceType: 'soft' }],
    ['AddressChange', 128, { signal: 'bounced', bounceType: 'soft' }],
    ['DnsError', 256, { signal: 'bounced', bounceType: 'soft' }],
    ['SpamNotification', 512, { signal: 'bounced', bounceType: 'soft' }],
    ['OpenRelayTest', 1024, { signal: 'bounced', bounceType: 'soft' }],
    ['Unknown', 2048, { signal: 'bounced', bounceType: 'soft' }],
    ['SoftBounce', 4096, { signal: 'bounced', bounceType: 'soft' }],
    ['VirusNotification', 8192, { signal: 'bounced', bounceType: 'soft' }],
    ['ChallengeVerification', 16384, { signal: 'bounced', bounceType: 'soft' }],
    ['Unconfirmed', 100003, { signal: 'bounced', bounceType: 'soft' }],
    ['Blocked', 100006, { signal: 'bounced', bounceType: 'soft' }],
    ['SMTPApiError', 100007, { signal: 'bounced', bounceType: 'soft' }],
    ['DMARCPolicy', 100009, { signal: 'bounced', bounceType: 'soft' }],
    ['SpamComplaint', 100001, { signal: 'complained' }],
    ['Unsubscribe', 16, { signal: 'unsubscribed' }],
    ['Subscribe', 32, { signal: 'ignored' }],
    ['AutoResponder', 64, { signal: 'ignored' }],
    ['InboundError', 100008, { signal: 'ignored' }],
    ['TemplateRenderingFailed', 100010, { signal: 'ignored' }],
    ['SomeFutureType', 999, { signal: 'bounced', bounceType: 'soft' }],
  ])('%s (%i) while the address stays active', (type, code, expected) => {
    expect(postmarkBounceOutcome(type, code, false)).toEqual(expected);
  });

  it('falls back to the TypeCode when the Type name is unknown', () => {
    expect(postmarkBounceOutcome('', 1, false)).toEqual({ signal: 'bounced', bounceType: 'hard' });
  });

  it('reports any bounce hard once Postmark deactivated the address', () => {
    expect(postmarkBounceOutcome('SpamNotification', 512, true)).toEqual({
      signal: 'bounced',
      bounceType: 'hard',
    });
    expect(postmarkBounceOutcome('AutoResponder', 64, true)).toEqual({ signal: 'ignored' });
  });

  it('maps a Bounce webhook of type Unsubscribe to unsubscribed', async () => {
    const bounce = JSON.parse(fixtureText('bounce-transient.json'));
    Object.assign(bounce, { Type: 'Unsubscribe', TypeCode: 16 });
    const [signal] = await signalsOf(JSON.stringify(bounce));
    expect(signal).toMatchObject({ type: 'unsubscribed', providerEventId: 'bounce:3921004455' });
    expect(signal).not.toHaveProperty('bounceType');
  });
});

describe('postmark authentication (Basic auth in the webhook URL)', () => {
  const body = fixtureText('delivery.json');

  it.each([
    ['no Authorization header', undefined],
    ['a wrong password', basic(CREDENTIALS.username, 'wrong')],
    ['a wrong user name', basic('someone', CREDENTIALS.password)],
    ['the password cut at its colon', basic(CREDENTIALS.username, 'c0rrect-h0rse')],
    ['no colon at all', `Basic ${Buffer.from('postmark-hooks').toString('base64')}`],
    ['another scheme', `Bearer ${CREDENTIALS.password}`],
    ['garbage', 'Basic ###'],
  ])('refuses %s', async (_label, authorization) => {
    const outcome = adapter.handle(
      {
        ...request(body),
        headers: authorization === undefined ? {} : { authorization },
      },
      context(),
    );
    await expect(outcome).rejects.toBeInstanceOf(WebhookAuthError);
  });

  it('accepts the right credentials with a lower-case scheme and a colon in the password', async () => {
    const authorization = `basic ${Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString('base64')}`;
    expect((await handle(body, authorization)).kind).toBe('signals');
  });

  it('checks the credentials before it looks at the body', async () => {
    await expect(handle('not json', basic('x', 'y'))).rejects.toBeInstanceOf(WebhookAuthError);
  });
});

describe('postmark bad bodies', () => {
  it.each([
    ['not JSON', 'this is not json'],
    ['a JSON array', '[1, 2]'],
    ['a JSON string', '"Delivery"'],
    ['empty', ''],
  ])('refuses %s with a format error', async (_label, body) => {
    const error = await formatError(body);
    expect(error.issues[0]?.pointer).toBe('');
  });

  it('refuses bytes that are not UTF-8', async () => {
    await formatError(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
  });

  it('points at the missing fields of an inbound mail', async () => {
    const error = await formatError('{}');
    expect(error.issues.map((issue) => issue.pointer)).toContain('/MessageID');
  });

  it('points at an inbound mail without a sender', async () => {
    const mail = JSON.parse(fixtureText('inbound-unstripped.json'));
    mail.FromFull = { Email: '', Name: '' };
    mail.From = 'nobody';
    const error = await formatError(JSON.stringify(mail));
    expect(error.issues).toEqual([{ pointer: '/From', detail: 'not an email address' }]);
  });

  it('points at a bad date and a bad recipient', async () => {
    const delivery = JSON.parse(fixtureText('delivery.json'));
    delivery.DeliveredAt = 'yesterday';
    expect((await formatError(JSON.stringify(delivery))).issues).toEqual([
      { pointer: '/DeliveredAt', detail: 'not a date-time' },
    ]);
    const open = JSON.parse(fixtureText('open.json'));
    open.Recipient = 'not-an-address';
    expect((await formatError(JSON.stringify(open))).issues).toEqual([
      { pointer: '/Recipient', detail: 'not an email address' },
    ]);
  });

  it('points at a Bounce without an ID or with a non-numeric one', async () => {
    const bounce = JSON.parse(fixtureText('bounce-transient.json'));
    bounce.ID = 'abc';
    const error = await formatError(JSON.stringify(bounce));
    expect(error.issues.map((issue) => issue.pointer)).toEqual(['/ID']);
  });

  it('points at a RecordType that is not a string', async () => {
    const error = await formatError('{"RecordType": 7}');
    expect(error.issues).toEqual([{ pointer: '/RecordType', detail: 'expected a string' }]);
  });

  it('throws nothing but the two webhook errors, whatever the JSON', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json(),
          fc.record({
            RecordType: fc.constantFrom(
              'Delivery',
              'Bounce',
              'SpamComplaint',
              'Open',
              'Click',
              'SubscriptionChange',
              'Inbound',
            ),
            MessageID: fc.option(fc.string()),
            Recipient: fc.option(fc.string()),
            Email: fc.option(fc.emailAddress()),
            ID: fc.option(fc.oneof(fc.string(), fc.integer())),
            BouncedAt: fc.option(fc.string()),
            Type: fc.option(fc.string()),
          }),
        ),
        async (value) => {
          const body = typeof value === 'string' ? value : JSON.stringify(value);
          try {
            await handle(body);
          } catch (error) {
            expect(error).toBeInstanceOf(WebhookFormatError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
