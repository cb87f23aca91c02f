import { createSign, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  createSesAdapter,
  type SesConfig,
  sesConfigSchema,
} from '../../../../lib/ingest/email/providers/ses.ts';
import { MemoryReplayGuard } from '../../../../lib/ingest/email/replay-guard.ts';
import {
  type EmailSignal,
  type ProviderContext,
  type ProviderOutcome,
  type RawWebhookRequest,
  WebhookAuthError,
  WebhookFormatError,
} from '../../../../lib/ingest/email/types.ts';

const fixtures = new URL('../../../fixtures/providers/ses/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, fixtures), 'utf8');
const json = (name: string) => JSON.parse(fixture(name)) as Record<string, unknown>;

// TEST-ONLY key material (see test-only-sns-signing-key.source.txt).
const SIGNING_KEY = fixture('test-only-sns-signing-key.pem');
const SIGNING_CERT = fixture('test-only-sns-signing-cert.pem');
const EXPIRED_CERT = fixture('test-only-sns-expired-cert.pem');

const EVENTS_TOPIC = 'arn:aws:sns:eu-central-1:123456789012:leadstage-ses-events';
const INBOUND_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:leadstage-inbound';
const CERT_URL =
  'https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-3b7f1e0c9a2d4e6f8a0b1c2d3e4f5a6b.pem';
const INBOUND_CERT_URL =
  'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-9f8e7d6c5b4a39281706f5e4d3c2b1a0.pem';

const config: SesConfig = { topicArns: [EVENTS_TOPIC, INBOUND_TOPIC] };

type Envelope = Record<string, string | null | undefined>;

/** The canonical string of the SNS docs, written out independently of the adapter. */
function stringToSign(message: Envelope): string {
  const keys =
    message.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return keys
    .filter((key) => typeof message[key] === 'string')
    .map((key) => `${key}\n${message[key]}\n`)
    .join('');
}

function signEnvelope(message: Envelope, key: string | KeyObject = SIGNING_KEY): Envelope {
  const algorithm = message.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1';
  const signature = createSign(algorithm).update(stringToSign(message), 'utf8').sign(key, 'base64');
  return { ...message, Signature: signature };
}

/** 30 s after the envelope fixture's Timestamp. */
const NOW = new Date('2025-06-03T09:14:53.045Z');

function notification(
  sesMessage: unknown,
  overrides: Envelope = {},
  key?: string | KeyObject,
): Envelope {
  const template = json('sns-notification.json') as Envelope;
  const inbound =
    typeof sesMessage === 'object' &&
    sesMessage !== null &&
    (sesMessage as { notificationType?: string }).notificationType === 'Received';
  return signEnvelope(
    {
      ...template,
      ...(inbound ? { TopicArn: INBOUND_TOPIC, SigningCertURL: INBOUND_CERT_URL } : {}),
      Message: typeof sesMessage === 'string' ? sesMessage : JSON.stringify(sesMessage),
      ...overrides,
    },
    key,
  );
}

function request(body: unknown): RawWebhookRequest {
  const bytes =
    body instanceof Uint8Array
      ? body
      : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body, null, 2), 'utf8');
  const envelope = (
    typeof body === 'object' && body !== null && !(body instanceof Uint8Array) ? body : {}
  ) as Envelope;
  return {
    method: 'POST',
    url: 'https://leadstage.example/v1/webhooks/email/ses',
    headers: {
      'content-type': 'text/plain; charset=UTF-8',
      'x-amz-sns-message-type': envelope.Type ?? 'Notification',
      'x-amz-sns-message-id': envelope.MessageId ?? '',
      'x-amz-sns-topic-arn': envelope.TopicArn ?? '',
      'user-agent': 'Amazon Simple Notification Service Agent',
    },
    body: bytes,
  };
}

interface TestContext extends ProviderContext {
  fetched: string[];
}

function context(
  now = NOW,
  responses: Record<string, string | Error> = {
    [CERT_URL]: SIGNING_CERT,
    [INBOUND_CERT_URL]: SIGNING_CERT,
  },
): TestContext {
  const fetched: string[] = [];
  return {
    fetched,
    now: () => now,
    replayGuard: new MemoryReplayGuard(),
    fetchText: async (url) => {
      fetched.push(url);
      const response = responses[url];
      if (response === undefined) throw new Error(`404 ${url}`);
      if (response instanceof Error) throw response;
      return response;
    },
  };
}

async function signalsOf(
  body: unknown,
  ctx: ProviderContext = context(),
  adapter = createSesAdapter(config),
): Promise<EmailSignal[]> {
  const outcome: ProviderOutcome = await adapter.handle(request(body), ctx);
  if (outcome.kind !== 'signals') throw new Error(`unexpected ${outcome.kind}`);
  return outcome.signals;
}

async function failure(
  body: unknown,
  ctx: ProviderContext = context(),
  adapter = createSesAdapter(config),
) {
  return adapter.handle(request(body), ctx).then(
    (outcome) => outcome,
    (error: unknown) => error,
  );
}

describe('ses: one fixture notification of each kind', () => {
  it('Bounce, Permanent: one hard bounce per bounced recipient', async () => {
    expect(await signalsOf(notification(json('bounce-permanent.json')))).toEqual([
      {
        type: 'bounced',
        bounceType: 'hard',
        providerEventId:
          'bounce:0102019735a1b2c3-4d5e6f70-8192-4a3b-9c8d-7e6f5a4b3c2d-000000:be88dd2b319d789b',
        occurredAt: '2025-06-03T09:14:21.512Z',
        recipient: 'alt.kontakt@verzogen.example',
        messageId: 'seq-1-step-2.q7x9@leadstage-demo.example',
      },
      {
        type: 'bounced',
        bounceType: 'hard',
        providerEventId: expect.stringMatching(
          /^bounce:0102019735a1b2c3-4d5e6f70-8192-4a3b-9c8d-7e6f5a4b3c2d-000000:[0-9a-f]{16}$/,
        ),
        occurredAt: '2025-06-03T09:14:21.512Z',
        recipient: 'ex.mitarbeiter@verzogen.example',
        messageId: 'seq-1-step-2.q7x9@leadstage-demo.example',
      },
    ]);
  });

  it('Bounce, Transient (event publishing): soft, no guessed Message-ID', async () => {
    expect(await signalsOf(notification(json('bounce-transient.json')))).toEqual([
      {
        type: 'bounced',
        bounceType: 'soft',
        providerEventId: expect.stringMatching(
          /^bounce:0102019735a7f0e1-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d-000000:[0-9a-f]{16}$/,
        ),
        occurredAt: '2025-06-03T09:20:02.007Z',
        recipient: 'voll@postfach.example',
      },
    ]);
  });

  it('Bounce, Undetermined: soft', async () => {
    const message = json('bounce-permanent.json');
    const bounce = { ...(message.bounce as object), bounceType: 'Undetermined' };
    const signals = await signalsOf(notification({ ...message, bounce }));
    expect(signals.map((s) => (s.type === 'bounced' ? s.bounceType : undefined))).toEqual([
      'soft',
      'soft',
    ]);
  });

  it('Complaint -> complained', async () => {
    expect(await signalsOf(notification(json('complaint.json')))).toEqual([
      {
        type: 'complained',
        providerEventId: expect.stringMatching(
          /^complaint:0102019735c4d5e6-0f1e2d3c-4b5a-4968-8776-655443322110-000000:[0-9a-f]{16}$/,
        ),
        occurredAt: '2025-06-03T15:02:44.000Z',
        recipient: 'genervt@kunde.example',
        messageId: 'nl-2025-06.a1b2@leadstage-demo.example',
      },
    ]);
  });

  it('a "not-spam" feedback report is no complaint', async () => {
    const message = json('complaint.json');
    const complaint = { ...(message.complaint as object), complaintFeedbackType: 'not-spam' };
    expect(await signalsOf(notification({ ...message, complaint }))).toEqual([]);
  });

  it('Delivery -> delivered', async () => {
    expect(await signalsOf(notification(json('delivery.json')))).toEqual([
      {
        type: 'delivered',
        providerEventId: expect.stringMatching(
          /^delivery:0102019735a1b2c3-aa11bb22-cc33-dd44-ee55-ff6600771188-000000:[0-9a-f]{16}$/,
        ),
        occurredAt: '2025-06-03T09:14:22.815Z',
        recipient: 'anna.schmidt@kunde.example',
        messageId: 'seq-1-step-1.k2m4@leadstage-demo.example',
      },
    ]);
  });

  it('Open -> opened', async () => {
    expect(await signalsOf(notification(json('open.json')))).toEqual([
      {
        type: 'opened',
        providerEventId: expect.stringMatching(
          /^open:0102019735a1b2c3-aa11bb22-cc33-dd44-ee55-ff6600771188-000000:2025-06-03T10:05:41.220Z:[0-9a-f]{16}$/,
        ),
        occurredAt: '2025-06-03T10:05:41.220Z',
        recipient: 'anna.schmidt@kunde.example',
        messageId: 'seq-1-step-1.k2m4@leadstage-demo.example',
      },
    ]);
  });

  it('Click -> clicked with the link', async () => {
    expect(await signalsOf(notification(json('click.json')))).toEqual([
      {
        type: 'clicked',
        providerEventId: expect.stringMatching(
          /^click:0102019735a1b2c3-[^:]+:2025-06-03T10:06:03.918Z:[0-9a-f]{16}:[0-9a-f]{16}$/,
        ),
        occurredAt: '2025-06-03T10:06:03.918Z',
        recipient: 'anna.schmidt@kunde.example',
        messageId: 'seq-1-step-1.k2m4@leadstage-demo.example',
        url: 'https://www.leadstage-demo.example/preise',
      },
    ]);
  });

  it('Subscription with unsubscribeAll -> unsubscribed; other preference changes are not used', async () => {
    const open = json('open.json');
    const subscription = {
      eventType: 'Subscription',
      mail: open.mail,
      subscription: {
        contactList: 'leadstage-newsletter',
        timestamp: '2025-06-03T11:00:00.000Z',
        source: 'UnsubscribeHeader',
        newTopicPreferences: { unsubscribeAll: true, topicSubscriptionStatus: [] },
        oldTopicPreferences: { unsubscribeAll: false, topicSubscriptionStatus: [] },
      },
    };
    expect(await signalsOf(notification(subscription))).toEqual([
      {
        type: 'unsubscribed',
        providerEventId: expect.stringMatching(/^unsubscribe:/),
        occurredAt: '2025-06-03T11:00:00.000Z',
        recipient: 'anna.schmidt@kunde.example',
        messageId: 'seq-1-step-1.k2m4@leadstage-demo.example',
      },
    ]);
    const partial = {
      ...subscription,
      subscription: {
        ...subscription.subscription,
        newTopicPreferences: { unsubscribeAll: false },
      },
    };
    expect(await signalsOf(notification(partial))).toEqual([]);
  });

  it('Received with content -> reply with the stripped text/plain part', async () => {
    expect(await signalsOf(notification(json('received.json')))).toEqual([
      {
        type: 'reply',
        providerEventId: 'received:m5t2q8k1v7c3n9b4x6z0a1s2d3f4g5h6j7k8l9p0',
        occurredAt: '2025-06-03T13:27:45.118Z',
        from: 'lena.fischer@kunde.example',
        to: ['reply+ct_m4n5b6@in.leadstage-demo.example', 'tobias.berger@leadstage-demo.example'],
        replyToken: 'ct_m4n5b6',
        inReplyTo: 'seq-1-step-1.k2m4@leadstage-demo.example',
        references: [
          'seq-1-step-0.h1j3@leadstage-demo.example',
          'seq-1-step-1.k2m4@leadstage-demo.example',
        ],
        strippedText:
          'Hallo Herr Berger,\n\nwir haben Budget für Q3 eingeplant. Können wir nächste Woche telefonieren?\n\nBeste Grüße\nLena Fischer',
      },
    ]);
  });

  it('Received without content (S3 action) -> reply without text', async () => {
    expect(await signalsOf(notification(json('received-s3.json')))).toEqual([
      {
        type: 'reply',
        providerEventId: 'received:r8w3e5t1y7u9i2o4p6a8s0d1f3g5h7j9k2l4z6x8',
        occurredAt: '2025-06-04T08:01:12.540Z',
        from: 'max.mueller@firma.example',
        to: ['vertrieb@in.leadstage-demo.example'],
        inReplyTo: 'seq-2-step-1.p0o9@leadstage-demo.example',
        references: [],
      },
    ]);
  });

  it('Received that SES judged spam or a virus is not an answer', async () => {
    const message = json('received.json');
    for (const verdict of ['spamVerdict', 'virusVerdict']) {
      const receipt = { ...(message.receipt as object), [verdict]: { status: 'FAIL' } };
      expect(await signalsOf(notification({ ...message, receipt }))).toEqual([]);
    }
  });

  it('Received out-of-office (Auto-Submitted) is not an answer', async () => {
    const message = json('received-s3.json');
    const mail = message.mail as { headers: { name: string; value: string }[] };
    const headers = [...mail.headers, { name: 'Auto-Submitted', value: 'auto-replied' }];
    expect(await signalsOf(notification({ ...message, mail: { ...mail, headers } }))).toEqual([]);
  });

  it.each([
    ['Send', { eventType: 'Send', mail: json('open.json').mail, send: {} }],
    [
      'Reject',
      { eventType: 'Reject', mail: json('open.json').mail, reject: { reason: 'Bad content' } },
    ],
    [
      'DeliveryDelay',
      { eventType: 'DeliveryDelay', mail: json('open.json').mail, deliveryDelay: {} },
    ],
    [
      'AmazonSnsSubscriptionSucceeded',
      {
        notificationType: 'AmazonSnsSubscriptionSucceeded',
        message: 'You have successfully subscribed',
      },
    ],
  ])('%s is not used', async (_name, message) => {
    expect(await signalsOf(notification(message))).toEqual([]);
  });

  it('gives the same ids when SNS delivers the same message again', async () => {
    const body = notification(json('bounce-permanent.json'));
    const adapter = createSesAdapter(config);
    const first = await signalsOf(body, context(), adapter);
    const again = await signalsOf(body, context(new Date(NOW.getTime() + 600_000)), adapter);
    expect(again).toEqual(first);
  });
});

describe('ses: SNS signature', () => {
  it('verifies SignatureVersion 1 (SHA1withRSA) and 2 (SHA256withRSA)', async () => {
    for (const version of ['1', '2']) {
      const body = notification(json('delivery.json'), { SignatureVersion: version });
      await expect(signalsOf(body)).resolves.toHaveLength(1);
    }
  });

  it('signs the Subject when there is one', async () => {
    const body = notification(json('delivery.json'), {
      Subject: 'Amazon SES Email Event Notification',
    });
    await expect(signalsOf(body)).resolves.toHaveLength(1);
    await expect(failure({ ...body, Subject: 'changed' })).resolves.toBeInstanceOf(
      WebhookAuthError,
    );
    const { Subject: _removed, ...withoutSubject } = body;
    await expect(failure(withoutSubject)).resolves.toBeInstanceOf(WebhookAuthError);
  });

  it('refuses a forged message (any signed field changed)', async () => {
    const body = notification(json('delivery.json'));
    const forgedMessage = JSON.stringify({
      ...json('complaint.json'),
    });
    for (const forged of [
      { ...body, Message: forgedMessage },
      { ...body, MessageId: 'another-id' },
      { ...body, Timestamp: '2025-06-03T09:14:24.045Z' },
      { ...body, Signature: `${body.Signature?.slice(0, -8)}AAAAAAA=` },
      { ...body, Signature: 'not base64 at all' },
    ]) {
      await expect(failure(forged)).resolves.toBeInstanceOf(WebhookAuthError);
    }
  });

  it('refuses a message signed with another key', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    for (const version of ['1', '2']) {
      const body = notification(json('delivery.json'), { SignatureVersion: version }, privateKey);
      await expect(failure(body)).resolves.toBeInstanceOf(WebhookAuthError);
    }
  });

  it('refuses v1 and v2 when the version does not match the algorithm used', async () => {
    const v1 = notification(json('delivery.json'), { SignatureVersion: '1' });
    await expect(failure({ ...v1, SignatureVersion: '2' })).resolves.toBeInstanceOf(
      WebhookAuthError,
    );
    const v2 = notification(json('delivery.json'), { SignatureVersion: '2' });
    await expect(failure({ ...v2, SignatureVersion: '1' })).resolves.toBeInstanceOf(
      WebhookAuthError,
    );
    const v3 = notification(json('delivery.json'), { SignatureVersion: '3' });
    await expect(failure(v3)).resolves.toBeInstanceOf(WebhookAuthError);
  });

  it('refuses an expired (or future) Timestamp before fetching anything', async () => {
    const body = notification(json('delivery.json'));
    // NOW is 30 s after the message's Timestamp; the default window is 7,200 s either way.
    const late = context(new Date(NOW.getTime() + 7_171_000));
    await expect(failure(body, late)).resolves.toBeInstanceOf(WebhookAuthError);
    const early = context(new Date(NOW.getTime() - 7_231_000));
    await expect(failure(body, early)).resolves.toBeInstanceOf(WebhookAuthError);
    expect([...late.fetched, ...early.fetched]).toEqual([]);
    const lenient = createSesAdapter({ ...config, timestampToleranceSeconds: 86_400 });
    await expect(signalsOf(body, late, lenient)).resolves.toHaveLength(1);
    const justInTime = context(new Date(NOW.getTime() + 7_169_000));
    await expect(signalsOf(body, justInTime)).resolves.toHaveLength(1);
  });

  it.each([
    ['http instead of https', CERT_URL.replace('https:', 'http:')],
    ['a foreign host', 'https://evil.example/SimpleNotificationService-1.pem'],
    [
      'a suffix trick',
      'https://sns.eu-central-1.amazonaws.com.evil.example/SimpleNotificationService-1.pem',
    ],
    [
      'a prefix trick',
      'https://evilsns.eu-central-1.amazonaws.com/SimpleNotificationService-1.pem',
    ],
    ['an S3 bucket named sns', 'https://sns.s3.amazonaws.com/SimpleNotificationService-1.pem'],
    [
      'another region than the topic',
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem',
    ],
    ['userinfo', 'https://attacker@sns.eu-central-1.amazonaws.com/SimpleNotificationService-1.pem'],
    ['a port', 'https://sns.eu-central-1.amazonaws.com:8443/SimpleNotificationService-1.pem'],
    ['a path that is no .pem', 'https://sns.eu-central-1.amazonaws.com/?Action=Unsubscribe'],
    ['no URL', 'SimpleNotificationService-1.pem'],
  ])('never fetches a SigningCertURL with %s', async (_name, url) => {
    const ctx = context(NOW, { [url]: SIGNING_CERT, [CERT_URL]: SIGNING_CERT });
    const body = notification(json('delivery.json'), { SigningCertURL: url });
    await expect(failure(body, ctx)).resolves.toBeInstanceOf(WebhookAuthError);
    expect(ctx.fetched).toEqual([]);
  });

  it('accepts the China partition host for a China topic', async () => {
    const topic = 'arn:aws-cn:sns:cn-north-1:123456789012:leadstage-ses-events';
    const url = 'https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem';
    const ctx = context(NOW, { [url]: SIGNING_CERT });
    const body = notification(json('delivery.json'), { TopicArn: topic, SigningCertURL: url });
    await expect(
      signalsOf(body, ctx, createSesAdapter({ topicArns: [topic] })),
    ).resolves.toHaveLength(1);
  });

  it('refuses a topic that is not on the allow-list, without fetching', async () => {
    const ctx = context();
    const body = notification(json('delivery.json'), {
      TopicArn: 'arn:aws:sns:eu-central-1:123456789012:someone-elses-topic',
    });
    await expect(failure(body, ctx)).resolves.toBeInstanceOf(WebhookAuthError);
    expect(ctx.fetched).toEqual([]);
  });

  it('fetches each signing certificate once per adapter instance', async () => {
    const adapter = createSesAdapter(config);
    const ctx = context();
    await signalsOf(notification(json('delivery.json')), ctx, adapter);
    await signalsOf(notification(json('open.json')), ctx, adapter);
    await Promise.all([
      signalsOf(notification(json('click.json')), ctx, adapter),
      signalsOf(notification(json('received.json')), ctx, adapter),
      signalsOf(notification(json('received-s3.json')), ctx, adapter),
    ]);
    expect(ctx.fetched).toEqual([CERT_URL, INBOUND_CERT_URL]);
  });

  it('does not cache a failed fetch, and answers it with a plain error (5xx: SNS retries)', async () => {
    const adapter = createSesAdapter(config);
    const down = context(NOW, { [CERT_URL]: new Error('ECONNRESET') });
    const error = await failure(notification(json('delivery.json')), down, adapter);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(WebhookAuthError);
    expect(error).not.toBeInstanceOf(WebhookFormatError);
    const up = context();
    await expect(signalsOf(notification(json('delivery.json')), up, adapter)).resolves.toHaveLength(
      1,
    );
    expect(up.fetched).toEqual([CERT_URL]);
  });

  it('refuses a certificate URL that serves no certificate, or an expired one', async () => {
    const junk = context(NOW, { [CERT_URL]: '<html>not a certificate</html>' });
    await expect(failure(notification(json('delivery.json')), junk)).resolves.toBeInstanceOf(
      WebhookAuthError,
    );
    const expired = context(NOW, { [CERT_URL]: EXPIRED_CERT });
    await expect(failure(notification(json('delivery.json')), expired)).resolves.toBeInstanceOf(
      WebhookAuthError,
    );
  });

  it('refuses an unsigned SES notification (SNS raw message delivery)', async () => {
    await expect(failure(json('delivery.json'))).resolves.toBeInstanceOf(WebhookAuthError);
  });
});

describe('ses: subscription handshakes', () => {
  const confirmation = () => signEnvelope(json('sns-subscription-confirmation.json') as Envelope);
  const subscribeUrl = String(json('sns-subscription-confirmation.json').SubscribeURL);
  const at = new Date('2025-06-01T08:00:30.000Z');

  it('confirms a verified SubscriptionConfirmation by fetching SubscribeURL once', async () => {
    const ctx = context(at, {
      [CERT_URL]: SIGNING_CERT,
      [subscribeUrl]:
        '<ConfirmSubscriptionResponse><ConfirmSubscriptionResult/></ConfirmSubscriptionResponse>',
    });
    const outcome = await createSesAdapter(config).handle(request(confirmation()), ctx);
    expect(outcome).toEqual({ kind: 'handshake', message: expect.stringContaining(EVENTS_TOPIC) });
    expect(ctx.fetched.filter((url) => url === subscribeUrl)).toHaveLength(1);
    expect(ctx.fetched).toEqual([CERT_URL, subscribeUrl]);
  });

  it('verifies with SignatureVersion 2 as well', async () => {
    const body = signEnvelope({
      ...(json('sns-subscription-confirmation.json') as Envelope),
      SignatureVersion: '2',
    });
    const ctx = context(at, { [CERT_URL]: SIGNING_CERT, [subscribeUrl]: 'ok' });
    await expect(createSesAdapter(config).handle(request(body), ctx)).resolves.toMatchObject({
      kind: 'handshake',
    });
  });

  it('never confirms an unverified one (forged token, wrong topic)', async () => {
    const ctx = context(at, { [CERT_URL]: SIGNING_CERT, [subscribeUrl]: 'ok' });
    const forged = { ...confirmation(), Token: 'forged' };
    await expect(failure(forged, ctx)).resolves.toBeInstanceOf(WebhookAuthError);
    const otherTopic = signEnvelope({
      ...(json('sns-subscription-confirmation.json') as Envelope),
      TopicArn: 'arn:aws:sns:eu-central-1:123456789012:someone-elses-topic',
    });
    await expect(failure(otherTopic, ctx)).resolves.toBeInstanceOf(WebhookAuthError);
    expect(ctx.fetched.filter((url) => url === subscribeUrl)).toEqual([]);
  });

  it('never fetches a SubscribeURL on a foreign host, even when signed', async () => {
    const evil = 'https://evil.example/?Action=ConfirmSubscription&Token=x';
    const body = signEnvelope({
      ...(json('sns-subscription-confirmation.json') as Envelope),
      SubscribeURL: evil,
    });
    const ctx = context(at, { [CERT_URL]: SIGNING_CERT, [evil]: 'ok' });
    await expect(failure(body, ctx)).resolves.toBeInstanceOf(WebhookAuthError);
    expect(ctx.fetched).toEqual([CERT_URL]);
  });

  it('answers a failed confirmation with a plain error so that SNS retries', async () => {
    const ctx = context(at, { [CERT_URL]: SIGNING_CERT, [subscribeUrl]: new Error('timeout') });
    const error = await failure(confirmation(), ctx);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(WebhookAuthError);
    expect(error).not.toBeInstanceOf(WebhookFormatError);
  });

  it('acknowledges a verified UnsubscribeConfirmation without fetching SubscribeURL', async () => {
    const body = signEnvelope(json('sns-unsubscribe-confirmation.json') as Envelope);
    const ctx = context(new Date('2025-06-20T17:45:30.000Z'));
    await expect(createSesAdapter(config).handle(request(body), ctx)).resolves.toEqual({
      kind: 'handshake',
      message: expect.any(String),
    });
    expect(ctx.fetched).toEqual([CERT_URL]);
    await expect(
      failure({ ...body, Message: 'changed' }, context(new Date('2025-06-20T17:45:30.000Z'))),
    ).resolves.toBeInstanceOf(WebhookAuthError);
  });
});

describe('ses: garbage is a WebhookFormatError', () => {
  it.each([
    ['not JSON', 'hello'],
    ['invalid UTF-8', Uint8Array.from([0x7b, 0xff, 0x7d])],
    ['a JSON array', '[]'],
    ['null', 'null'],
    ['an envelope without fields', '{"Type":"Notification"}'],
    [
      'fields of the wrong type',
      JSON.stringify({ ...notification(json('delivery.json')), MessageId: 7 }),
    ],
    [
      'an unknown message type',
      JSON.stringify({ ...notification(json('delivery.json')), Type: 'Other' }),
    ],
    [
      'a confirmation without SubscribeURL',
      JSON.stringify({ ...json('sns-subscription-confirmation.json'), SubscribeURL: undefined }),
    ],
  ])('%s', async (_name, body) => {
    const error = await failure(body);
    expect(error).toBeInstanceOf(WebhookFormatError);
  });

  it.each([
    ['a Message that is not JSON', 'Hello world!'],
    ['a Message that is a JSON array', '[1,2,3]'],
    ['a Message without notificationType', '{"hello":"world"}'],
    [
      'a Bounce without bounce',
      JSON.stringify({ notificationType: 'Bounce', mail: json('delivery.json').mail }),
    ],
    [
      'a Bounce with a bad timestamp',
      JSON.stringify({
        ...json('bounce-permanent.json'),
        bounce: { ...(json('bounce-permanent.json').bounce as object), timestamp: 'yesterday' },
      }),
    ],
    [
      'a Complaint recipient that is no address',
      JSON.stringify({
        ...json('complaint.json'),
        complaint: {
          ...(json('complaint.json').complaint as object),
          complainedRecipients: [{ emailAddress: 'nobody' }],
        },
      }),
    ],
    [
      'a Received without sender',
      JSON.stringify({ notificationType: 'Received', mail: { messageId: 'x' } }),
    ],
  ])('a signed, authentic notification with %s', async (_name, message) => {
    const error = await failure(notification(message));
    expect(error).toBeInstanceOf(WebhookFormatError);
    expect((error as WebhookFormatError).issues[0]?.pointer).toBe('/Message');
  });

  it('never throws anything else for random bytes or mangled signed notifications', async () => {
    const bodies: unknown[] = [];
    for (let i = 0; i < 60; i++) bodies.push(randomBytes(1 + i * 5));
    const messages = [
      'bounce-permanent.json',
      'complaint.json',
      'delivery.json',
      'open.json',
      'click.json',
      'received.json',
    ].map(json);
    for (const message of messages) {
      for (const key of Object.keys(message)) {
        const { [key]: _dropped, ...rest } = message;
        bodies.push(notification(rest));
        bodies.push(notification({ ...message, [key]: null }));
        bodies.push(notification({ ...message, [key]: [42] }));
      }
    }
    const adapter = createSesAdapter(config);
    for (const body of bodies) {
      const result = await failure(body, context(), adapter);
      if (result instanceof Error) expect(result).toBeInstanceOf(WebhookFormatError);
      else expect(result).toMatchObject({ kind: 'signals' });
    }
  });
});

describe('sesConfigSchema', () => {
  it('needs at least one topic ARN and nothing unknown', () => {
    expect(sesConfigSchema.parse(config)).toEqual(config);
    for (const bad of [
      { topicArns: [] },
      { topicArns: ['not-an-arn'] },
      { topicArns: [EVENTS_TOPIC], extra: 1 },
      { topicArns: [EVENTS_TOPIC], timestampToleranceSeconds: 0 },
      {},
    ]) {
      expect(sesConfigSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
