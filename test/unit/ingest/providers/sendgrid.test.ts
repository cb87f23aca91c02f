import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  createSendgridAdapter,
  type SendgridConfig,
  sendgridConfigSchema,
} from '../../../../lib/ingest/email/providers/sendgrid.ts';
import { MemoryReplayGuard } from '../../../../lib/ingest/email/replay-guard.ts';
import {
  type EmailSignal,
  type ProviderContext,
  type RawWebhookRequest,
  WebhookAuthError,
  WebhookFormatError,
} from '../../../../lib/ingest/email/types.ts';

const fixtures = new URL('../../../fixtures/providers/sendgrid/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, fixtures), 'utf8');
const events = JSON.parse(fixture('events.json')) as Record<string, unknown>[];

/** 2025-06-03T13:20:00Z, after every fixture event. */
const NOW_SECONDS = 1_748_956_800;

function keyPair(): { privateKey: KeyObject; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey,
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}
const sendgridKey = keyPair();
const parseKey = keyPair();

function context(nowSeconds = NOW_SECONDS): ProviderContext {
  return {
    now: () => new Date(nowSeconds * 1000),
    replayGuard: new MemoryReplayGuard(),
    fetchText: async (url) => {
      throw new Error(`unexpected fetch of ${url}`);
    },
  };
}

function signed(
  body: string | Uint8Array,
  options: { privateKey?: KeyObject; timestamp?: string; headers?: Record<string, string> } = {},
): RawWebhookRequest {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  const timestamp = options.timestamp ?? String(NOW_SECONDS - 5);
  const signature = sign(
    'sha256',
    Buffer.concat([Buffer.from(timestamp, 'utf8'), bytes]),
    options.privateKey ?? sendgridKey.privateKey,
  ).toString('base64');
  return {
    method: 'POST',
    url: 'https://leadstage.example/v1/webhooks/email/sendgrid',
    headers: {
      'content-type': 'application/json',
      'x-twilio-email-event-webhook-signature': signature,
      'x-twilio-email-event-webhook-timestamp': timestamp,
      ...options.headers,
    },
    body: bytes,
  };
}

const adapter = createSendgridAdapter({ eventWebhookPublicKey: sendgridKey.publicKey });

async function signalsOf(
  request: RawWebhookRequest,
  ctx = context(),
  sendgrid = adapter,
): Promise<EmailSignal[]> {
  const outcome = await sendgrid.handle(request, ctx);
  if (outcome.kind !== 'signals') throw new Error(`unexpected ${outcome.kind}`);
  return outcome.signals;
}

function eventById(id: string): Record<string, unknown> {
  const event = events.find((candidate) => candidate.sg_event_id === id);
  if (event === undefined) throw new Error(`no fixture event ${id}`);
  return event;
}

const ANNA_MSG = 'lsq2vt9kr0e7ywb3nxc1aa@geopod-ismtpd-7-0';

describe('sendgrid Event Webhook: one fixture event of each kind', () => {
  const cases: [string, string, EmailSignal[]][] = [
    ['processed is not used', 'cHJvY2Vzc2VkLWxzLTAwMDE', []],
    ['deferred is not used', 'ZGVmZXJyZWQtbHMtMDAwMg', []],
    [
      'delivered',
      'ZGVsaXZlcmVkLWxzLTAwMDM',
      [
        {
          type: 'delivered',
          providerEventId: 'ZGVsaXZlcmVkLWxzLTAwMDM',
          occurredAt: '2025-06-03T09:01:00.000Z',
          recipient: 'anna.schmidt@kunde.example',
          messageId: ANNA_MSG,
        },
      ],
    ],
    [
      'open -> opened',
      'b3Blbi1scy0wMDA0',
      [
        {
          type: 'opened',
          providerEventId: 'b3Blbi1scy0wMDA0',
          occurredAt: '2025-06-03T10:00:00.000Z',
          recipient: 'anna.schmidt@kunde.example',
          messageId: ANNA_MSG,
        },
      ],
    ],
    ['machine open (Apple MPP) is not used', 'b3Blbi1tcHAtbHMtMDAwNQ', []],
    [
      'click -> clicked with url',
      'Y2xpY2stbHMtMDAwNg',
      [
        {
          type: 'clicked',
          providerEventId: 'Y2xpY2stbHMtMDAwNg',
          occurredAt: '2025-06-03T10:00:30.000Z',
          recipient: 'anna.schmidt@kunde.example',
          messageId: ANNA_MSG,
          url: 'https://www.leadstage-demo.example/preise?utm_source=sendgrid',
        },
      ],
    ],
    [
      'bounce of type bounce -> hard',
      'Ym91bmNlLWxzLTAwMDc',
      [
        {
          type: 'bounced',
          bounceType: 'hard',
          providerEventId: 'Ym91bmNlLWxzLTAwMDc',
          occurredAt: '2025-06-03T09:01:02.000Z',
          recipient: 'alt.kontakt@verzogen.example',
          messageId: 'rt5wy1cv8ho3kme9plf4nz@geopod-ismtpd-2-0',
        },
      ],
    ],
    [
      'bounce of type blocked -> soft',
      'YmxvY2tlZC1scy0wMDA4',
      [
        {
          type: 'bounced',
          bounceType: 'soft',
          providerEventId: 'YmxvY2tlZC1scy0wMDA4',
          occurredAt: '2025-06-03T09:01:03.000Z',
          recipient: 'einkauf@strenger-filter.example',
          messageId: 'pv2qn6sj9xt1gbr5hwy8mc@geopod-ismtpd-4-2',
        },
      ],
    ],
    [
      'dropped "Bounced Address" -> hard bounce',
      'ZHJvcC1sczAwMDk',
      [
        {
          type: 'bounced',
          bounceType: 'hard',
          providerEventId: 'ZHJvcC1sczAwMDk',
          occurredAt: '2025-06-03T13:00:00.000Z',
          recipient: 'alt.kontakt@verzogen.example',
          messageId: 'ku9df2gh5jm8npq1rst4vw@geopod-ismtpd-1-0',
        },
      ],
    ],
    ['dropped for quota says nothing about the contact', 'ZHJvcC1xdW90YS1sczAwMTA', []],
    [
      'spamreport -> complained',
      'c3BhbXJlcG9ydC1sczAwMTE',
      [
        {
          type: 'complained',
          providerEventId: 'c3BhbXJlcG9ydC1sczAwMTE',
          occurredAt: '2025-06-03T11:00:00.000Z',
          recipient: 'genervt@kunde.example',
          messageId: 'zy8xw5vu2ts9rq6po3nm0l@geopod-ismtpd-5-0',
        },
      ],
    ],
    [
      'unsubscribe -> unsubscribed (address lower-cased)',
      'dW5zdWJzY3JpYmUtbHMwMDEy',
      [
        {
          type: 'unsubscribed',
          providerEventId: 'dW5zdWJzY3JpYmUtbHMwMDEy',
          occurredAt: '2025-06-03T12:00:00.000Z',
          recipient: 'lena.fischer@kunde.example',
          messageId: 'wb4cx7yz0ab3cd6ef9gh2i@geopod-ismtpd-6-0',
        },
      ],
    ],
    [
      'group_unsubscribe -> unsubscribed',
      'Z3JvdXBfdW5zdWItbHMwMDEz',
      [
        {
          type: 'unsubscribed',
          providerEventId: 'Z3JvdXBfdW5zdWItbHMwMDEz',
          occurredAt: '2025-06-03T12:10:00.000Z',
          recipient: 'max.mueller@firma.example',
          messageId: 'vc5dy8za1bc4de7fg0hi3j@geopod-ismtpd-6-1',
        },
      ],
    ],
    [
      'group_resubscribe -> resubscribed',
      'Z3JvdXBfcmVzdWItbHMwMDE0',
      [
        {
          type: 'resubscribed',
          providerEventId: 'Z3JvdXBfcmVzdWItbHMwMDE0',
          occurredAt: '2025-06-03T13:10:00.000Z',
          recipient: 'max.mueller@firma.example',
          messageId: 'vc5dy8za1bc4de7fg0hi3j@geopod-ismtpd-6-1',
        },
      ],
    ],
  ];

  it.each(cases)('%s', async (_name, id, expected) => {
    expect(await signalsOf(signed(JSON.stringify([eventById(id)])))).toEqual(expected);
  });

  it('covers every fixture event', () => {
    expect(new Set(cases.map(([, id]) => id))).toEqual(new Set(events.map((e) => e.sg_event_id)));
  });

  it('maps the whole batch in order, as SendGrid posts it', async () => {
    const signals = await signalsOf(signed(fixture('events.json')));
    const expected = cases.flatMap(([, , signal]) => signal);
    expect(signals).toEqual(expected);
  });

  it('maps the other suppression drops and skips unknown or new event names', async () => {
    const base = eventById('ZHJvcC1sczAwMDk');
    const body = JSON.stringify([
      { ...base, sg_event_id: 'd1', reason: 'Unsubscribed Address' },
      { ...base, sg_event_id: 'd2', reason: 'Spam Reporting Address' },
      { ...base, sg_event_id: 'd3', reason: 'Invalid' },
      { event: 'some_future_event', whatever: [1, 2, 3] },
      { ...base, sg_event_id: 'b1', event: 'bounce', reason: '550', type: undefined },
    ]);
    const signals = await signalsOf(signed(body));
    expect(
      signals.map((s) => [s.providerEventId, s.type, 'bounceType' in s ? s.bounceType : undefined]),
    ).toEqual([
      ['d1', 'unsubscribed', undefined],
      ['d2', 'complained', undefined],
      ['d3', 'bounced', 'hard'],
      ['b1', 'bounced', 'hard'],
    ]);
  });
});

describe('sendgrid Event Webhook signature', () => {
  // The signed example from SendGrid's own SDK tests (sendgrid/sendgrid-nodejs
  // packages/eventwebhook/src/eventwebhook.spec.js, MIT): a public fact about the scheme. The
  // payload's trailing CRLF is part of the signed bytes.
  const vector = {
    publicKey:
      'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==',
    timestamp: '1600112502',
    signature:
      'MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=',
    payload:
      '[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]\r\n',
  };
  const vectorRequest = (overrides: Partial<typeof vector> = {}): RawWebhookRequest => {
    const v = { ...vector, ...overrides };
    return {
      method: 'POST',
      url: 'https://leadstage.example/v1/webhooks/email/sendgrid',
      headers: {
        'content-type': 'application/json',
        'x-twilio-email-event-webhook-signature': v.signature,
        'x-twilio-email-event-webhook-timestamp': v.timestamp,
      },
      body: Buffer.from(v.payload, 'utf8'),
    };
  };
  const vectorAdapter = createSendgridAdapter({ eventWebhookPublicKey: vector.publicKey });
  const atVectorTime = () => context(1_600_112_502 + 10);

  it("verifies SendGrid's published signature vector", async () => {
    expect(await signalsOf(vectorRequest(), atVectorTime(), vectorAdapter)).toEqual([
      {
        type: 'bounced',
        bounceType: 'hard',
        providerEventId: 'ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA',
        occurredAt: '2020-09-14T19:41:32.000Z',
        recipient: 'hello@world.com',
        messageId: 'lrzxl_nhstoghq4kofsm_a@ismtpd0039p1iad1.sendgrid.net',
      },
    ]);
  });

  it('refuses the vector when the body lost its trailing CRLF (signature is over raw bytes)', async () => {
    await expect(
      vectorAdapter.handle(vectorRequest({ payload: vector.payload.trimEnd() }), atVectorTime()),
    ).rejects.toBeInstanceOf(WebhookAuthError);
  });

  it('accepts a signature made with the configured key', async () => {
    const body = JSON.stringify([eventById('ZGVsaXZlcmVkLWxzLTAwMDM')]);
    await expect(signalsOf(signed(body))).resolves.toHaveLength(1);
  });

  it('refuses a forged body (signed bytes changed afterwards)', async () => {
    const request = signed(JSON.stringify([eventById('ZGVsaXZlcmVkLWxzLTAwMDM')]));
    const forged = Buffer.from(
      Buffer.from(request.body).toString('utf8').replace('delivered', 'spamreport'),
    );
    await expect(adapter.handle({ ...request, body: forged }, context())).rejects.toBeInstanceOf(
      WebhookAuthError,
    );
  });

  it('refuses a signature made with another key', async () => {
    const other = keyPair();
    const request = signed(JSON.stringify([eventById('ZGVsaXZlcmVkLWxzLTAwMDM')]), {
      privateKey: other.privateKey,
    });
    await expect(adapter.handle(request, context())).rejects.toBeInstanceOf(WebhookAuthError);
  });

  it('refuses an expired (or future) timestamp even with a valid signature', async () => {
    const body = JSON.stringify([eventById('ZGVsaXZlcmVkLWxzLTAwMDM')]);
    const old = signed(body, { timestamp: String(NOW_SECONDS - 301) });
    const future = signed(body, { timestamp: String(NOW_SECONDS + 301) });
    await expect(adapter.handle(old, context())).rejects.toBeInstanceOf(WebhookAuthError);
    await expect(adapter.handle(future, context())).rejects.toBeInstanceOf(WebhookAuthError);
    await expect(
      signalsOf(signed(body, { timestamp: String(NOW_SECONDS - 299) })),
    ).resolves.toHaveLength(1);
    const tolerant = createSendgridAdapter({
      eventWebhookPublicKey: sendgridKey.publicKey,
      timestampToleranceSeconds: 600,
    });
    await expect(signalsOf(old, context(), tolerant)).resolves.toHaveLength(1);
  });

  it('refuses the timestamp swapped after signing', async () => {
    const request = signed(JSON.stringify([eventById('ZGVsaXZlcmVkLWxzLTAwMDM')]));
    const swapped = {
      ...request,
      headers: {
        ...request.headers,
        'x-twilio-email-event-webhook-timestamp': String(NOW_SECONDS - 4),
      },
    };
    await expect(adapter.handle(swapped, context())).rejects.toBeInstanceOf(WebhookAuthError);
  });

  it('refuses missing or malformed signature headers', async () => {
    const request = signed(JSON.stringify([eventById('ZGVsaXZlcmVkLWxzLTAwMDM')]));
    const without = (name: string) => {
      const headers = { ...request.headers };
      delete headers[name];
      return { ...request, headers };
    };
    await expect(
      adapter.handle(without('x-twilio-email-event-webhook-signature'), context()),
    ).rejects.toBeInstanceOf(WebhookAuthError);
    await expect(
      adapter.handle(without('x-twilio-email-event-webhook-timestamp'), context()),
    ).rejects.toBeInstanceOf(WebhookAuthError);
    await expect(
      adapter.handle(
        {
          ...request,
          headers: { ...request.headers, 'x-twilio-email-event-webhook-timestamp': 'timestamp' },
        },
        context(),
      ),
    ).rejects.toBeInstanceOf(WebhookAuthError);
    await expect(
      adapter.handle(
        {
          ...request,
          headers: {
            ...request.headers,
            'x-twilio-email-event-webhook-signature': 'bm90IGEgc2lnbmF0dXJl',
          },
        },
        context(),
      ),
    ).rejects.toBeInstanceOf(WebhookAuthError);
  });

  it('refuses every Event Webhook request when no public key is configured', async () => {
    const unconfigured = createSendgridAdapter({});
    const request = signed(JSON.stringify([eventById('ZGVsaXZlcmVkLWxzLTAwMDM')]));
    await expect(unconfigured.handle(request, context())).rejects.toBeInstanceOf(WebhookAuthError);
  });
});

describe('sendgrid Event Webhook: garbage is a WebhookFormatError', () => {
  const garbage: [string, string | Uint8Array][] = [
    ['not JSON', 'hello'],
    ['an object, not an array', '{"event":"delivered"}'],
    ['an array of numbers', '[1,2]'],
    ['invalid UTF-8', Uint8Array.from([0x5b, 0xff, 0xfe, 0x5d])],
    ['empty body', ''],
    ['a used event without its fields', '[{"event":"delivered"}]'],
    ['a timestamp as string', JSON.stringify([{ ...events[2], timestamp: '1748941260' }])],
    ['an email that is no address', JSON.stringify([{ ...events[2], email: 'nobody' }])],
    ['a timestamp past year 9999', JSON.stringify([{ ...events[2], timestamp: 1e13 }])],
    ['a fractional timestamp', JSON.stringify([{ ...events[2], timestamp: 1748941260.5 }])],
  ];

  it.each(garbage)('%s', async (_name, body) => {
    const error = await adapter.handle(signed(body), context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebhookFormatError);
  });

  it('points at the offending event and field', async () => {
    const body = JSON.stringify([events[2], { ...events[3], email: 42 }]);
    const error = await adapter.handle(signed(body), context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebhookFormatError);
    expect((error as WebhookFormatError).issues).toEqual([
      { pointer: '/1/email', detail: expect.any(String) },
    ]);
  });

  it('never throws anything else for random signed bytes or mangled events', async () => {
    const bodies: Uint8Array[] = [];
    for (let i = 0; i < 100; i++) bodies.push(randomBytes(1 + (i % 64)));
    for (const event of events) {
      for (const key of Object.keys(event)) {
        const { [key]: _dropped, ...rest } = event;
        bodies.push(Buffer.from(JSON.stringify([rest])));
        bodies.push(Buffer.from(JSON.stringify([{ ...event, [key]: null }])));
        bodies.push(Buffer.from(JSON.stringify([{ ...event, [key]: { nested: [true] } }])));
      }
    }
    for (const body of bodies) {
      const result = await adapter.handle(signed(body), context()).catch((e: unknown) => e);
      if (result instanceof Error) expect(result).toBeInstanceOf(WebhookFormatError);
      else expect(result).toMatchObject({ kind: 'signals' });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Inbound Parse

const PARSED_BOUNDARY = 'LsBoundary9f3a7c';
const RAW_BOUNDARY = 'LsRawBoundary41d8';
const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function inbound(
  body: string | Uint8Array,
  boundary: string,
  headers: Record<string, string> = { authorization: basic('sendgrid', 'parse-secret-1') },
  url = 'https://leadstage.example/v1/webhooks/email/sendgrid',
): RawWebhookRequest {
  return {
    method: 'POST',
    url,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, ...headers },
    body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  };
}

const inboundAdapter = createSendgridAdapter({
  inboundParse: { basicAuth: { username: 'sendgrid', password: 'parse-secret-1' } },
});

const PARSED_REPLY: EmailSignal = {
  type: 'reply',
  providerEventId: 'cak7x3=q9vr2mj8pz+an4b@mail.kunde.example',
  occurredAt: '2025-06-03T10:42:05.000Z',
  from: 'anna.schmidt@kunde.example',
  to: ['reply+ct_7f3k2q@in.leadstage-demo.example', 'einkauf@kunde.example'],
  replyToken: 'ct_7f3k2q',
  inReplyTo: 'lsq2vt9kr0e7ywb3nxc1aa@geopod-ismtpd-7-0',
  references: [
    'kq1ab2cd3ef4gh5ij6kl7m@geopod-ismtpd-2-0',
    'lsq2vt9kr0e7ywb3nxc1aa@geopod-ismtpd-7-0',
  ],
  strippedText:
    'Hallo Herr Berger,\n\ndanke, das passt. Bitte schicken Sie uns ein Angebot für 25 Lizenzen.\n\nViele Grüße\nAnna Schmidt',
};

describe('sendgrid Inbound Parse', () => {
  it('turns a parsed-mode post into a reply signal', async () => {
    const request = inbound(crlf(fixture('inbound-parse.multipart.txt')), PARSED_BOUNDARY);
    expect(await signalsOf(request, context(), inboundAdapter)).toEqual([PARSED_REPLY]);
  });

  it('accepts LF line endings too', async () => {
    const request = inbound(fixture('inbound-parse.multipart.txt'), PARSED_BOUNDARY);
    expect(await signalsOf(request, context(), inboundAdapter)).toEqual([PARSED_REPLY]);
  });

  it('reads the MIME message of a raw-mode post (quoted-printable, Outlook quote block)', async () => {
    const request = inbound(crlf(fixture('inbound-parse-raw.multipart.txt')), RAW_BOUNDARY);
    expect(await signalsOf(request, context(), inboundAdapter)).toEqual([
      {
        type: 'reply',
        providerEventId: 'am0pr07mb6210c4e1b2a3d4f5@am0pr07mb6210.eurprd07.prod.example',
        occurredAt: '2025-06-04T07:14:58.000Z',
        from: 'jonas.weber@firma.example',
        to: ['reply+ct_q9w8e7@in.leadstage-demo.example'],
        replyToken: 'ct_q9w8e7',
        inReplyTo: 'mq7pz3xl4ui8vna2skd6bq@geopod-ismtpd-3-1',
        references: ['mq7pz3xl4ui8vna2skd6bq@geopod-ismtpd-3-1'],
        strippedText:
          'Hallo,\n\ngerne übermorgen um 14 Uhr. Unser Geschäftsführer ist auch dabei.\n\nGrüße\nJonas Weber',
      },
    ]);
  });

  it('reports no reply for an out-of-office (Auto-Submitted) mail', async () => {
    const part = (name: string, value: string) =>
      Buffer.from(`--b1\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
    const body = Buffer.concat([
      part(
        'headers',
        'From: Juergen <juergen@kunde.example>\r\nTo: reply+ct_x1@in.leadstage-demo.example\r\nAuto-Submitted: auto-replied\r\n',
      ),
      part('from', 'Juergen <juergen@kunde.example>'),
      part('to', 'reply+ct_x1@in.leadstage-demo.example'),
      part('text', 'Ich bin bis Montag nicht im Büro.'),
      Buffer.from('--b1--\r\n'),
    ]);
    expect(await signalsOf(inbound(body, 'b1'), context(), inboundAdapter)).toEqual([]);
  });

  it('decodes each field in the charset SendGrid names in `charsets`', async () => {
    const part = (name: string, value: Buffer | string) =>
      Buffer.concat([
        Buffer.from(`--b1\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`),
        typeof value === 'string' ? Buffer.from(value) : value,
        Buffer.from('\r\n'),
      ]);
    const body = Buffer.concat([
      part(
        'headers',
        'From: =?iso-8859-1?Q?J=FCrgen?= <juergen@kunde.example>\r\nTo: reply+ct_x1@in.leadstage-demo.example\r\n',
      ),
      part('from', Buffer.from('Jürgen Groß <juergen@kunde.example>', 'latin1')),
      part('to', 'reply+ct_x1@in.leadstage-demo.example'),
      part('text', Buffer.from('Grüß Gott, gerne ein Angebot.', 'latin1')),
      part('charsets', '{"from":"iso-8859-1","text":"iso-8859-1","to":"UTF-8"}'),
      part('attachment1', 'ignored'),
      Buffer.from(
        '--b1\r\nContent-Disposition: form-data; name="attachment2"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF\xff\xfe\r\n',
        'latin1',
      ),
      Buffer.from('--b1--\r\n'),
    ]);
    const [signal] = await signalsOf(inbound(body, 'b1'), context(), inboundAdapter);
    expect(signal).toMatchObject({
      type: 'reply',
      from: 'juergen@kunde.example',
      to: ['reply+ct_x1@in.leadstage-demo.example'],
      replyToken: 'ct_x1',
      strippedText: 'Grüß Gott, gerne ein Angebot.',
      references: [],
      // No Date header: the time of arrival.
      occurredAt: new Date(NOW_SECONDS * 1000).toISOString(),
    });
    // No Message-ID: a digest of the content, the same on a retry.
    expect(signal?.providerEventId).toMatch(/^sha256:[0-9a-f]{32}$/);
    const [again] = await signalsOf(
      inbound(body, 'b1'),
      context(NOW_SECONDS + 3600),
      inboundAdapter,
    );
    expect(again?.providerEventId).toBe(signal?.providerEventId);
  });

  it('takes the basic-auth credentials from the URL when the request kept them there', async () => {
    const request = inbound(
      crlf(fixture('inbound-parse.multipart.txt')),
      PARSED_BOUNDARY,
      {},
      'https://sendgrid:parse-secret-1@leadstage.example/v1/webhooks/email/sendgrid',
    );
    await expect(signalsOf(request, context(), inboundAdapter)).resolves.toEqual([PARSED_REPLY]);
  });

  it('refuses missing or wrong basic-auth credentials', async () => {
    const body = crlf(fixture('inbound-parse.multipart.txt'));
    const attempts: Record<string, string>[] = [
      {},
      { authorization: basic('sendgrid', 'parse-secret-2') },
      { authorization: basic('other', 'parse-secret-1') },
      { authorization: 'Bearer parse-secret-1' },
      { authorization: 'Basic !!!' },
    ];
    for (const headers of attempts) {
      await expect(
        inboundAdapter.handle(inbound(body, PARSED_BOUNDARY, headers), context()),
      ).rejects.toBeInstanceOf(WebhookAuthError);
    }
  });

  it('refuses every Inbound Parse request when neither basic auth nor a signature key is configured', async () => {
    const request = inbound(crlf(fixture('inbound-parse.multipart.txt')), PARSED_BOUNDARY);
    await expect(adapter.handle(request, context())).rejects.toBeInstanceOf(WebhookAuthError);
  });

  it('verifies a Parse security-policy signature over the raw multipart body', async () => {
    const signedParse = createSendgridAdapter({
      inboundParse: { signaturePublicKey: parseKey.publicKey },
    });
    const body = crlf(fixture('inbound-parse.multipart.txt'));
    const request = signed(body, {
      privateKey: parseKey.privateKey,
      headers: { 'content-type': `multipart/form-data; boundary=${PARSED_BOUNDARY}` },
    });
    await expect(signalsOf(request, context(), signedParse)).resolves.toEqual([PARSED_REPLY]);
    // The Event Webhook key does not sign Inbound Parse.
    const wrongKey = signed(body, {
      headers: { 'content-type': `multipart/form-data; boundary=${PARSED_BOUNDARY}` },
    });
    await expect(signedParse.handle(wrongKey, context())).rejects.toBeInstanceOf(WebhookAuthError);
    const unsigned = inbound(body, PARSED_BOUNDARY, {});
    await expect(signedParse.handle(unsigned, context())).rejects.toBeInstanceOf(WebhookAuthError);
  });

  it('requires both when basic auth and a signature key are configured', async () => {
    const both = createSendgridAdapter({
      inboundParse: {
        basicAuth: { username: 'sendgrid', password: 'parse-secret-1' },
        signaturePublicKey: parseKey.publicKey,
      },
    });
    const body = crlf(fixture('inbound-parse.multipart.txt'));
    const headers = { 'content-type': `multipart/form-data; boundary=${PARSED_BOUNDARY}` };
    const signedOnly = signed(body, { privateKey: parseKey.privateKey, headers });
    await expect(both.handle(signedOnly, context())).rejects.toBeInstanceOf(WebhookAuthError);
    const signedAndAuthed = signed(body, {
      privateKey: parseKey.privateKey,
      headers: { ...headers, authorization: basic('sendgrid', 'parse-secret-1') },
    });
    await expect(signalsOf(signedAndAuthed, context(), both)).resolves.toHaveLength(1);
  });

  it.each([
    ['no boundary', inbound('whatever', '')],
    ['no parts', inbound('just text, no parts', 'b1')],
    [
      'an envelope that is not JSON',
      inbound(
        '--b1\r\nContent-Disposition: form-data; name="from"\r\n\r\na@b.example\r\n--b1\r\nContent-Disposition: form-data; name="envelope"\r\n\r\n{to:\r\n--b1--',
        'b1',
      ),
    ],
    [
      'an envelope with the wrong shape',
      inbound(
        '--b1\r\nContent-Disposition: form-data; name="from"\r\n\r\na@b.example\r\n--b1\r\nContent-Disposition: form-data; name="envelope"\r\n\r\n{"to":"x@y.example"}\r\n--b1--',
        'b1',
      ),
    ],
    [
      'no sender anywhere',
      inbound(
        '--b1\r\nContent-Disposition: form-data; name="headers"\r\n\r\nSubject: hi\r\n--b1\r\nContent-Disposition: form-data; name="text"\r\n\r\nhello\r\n--b1--',
        'b1',
      ),
    ],
    [
      'fields of something else',
      inbound('--b1\r\nContent-Disposition: form-data; name="name"\r\n\r\nAnna\r\n--b1--', 'b1'),
    ],
  ])('answers %s with WebhookFormatError', async (_name, request) => {
    const error = await inboundAdapter.handle(request, context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebhookFormatError);
  });

  it('never throws anything else for random or truncated multipart bodies', async () => {
    const body = Buffer.from(crlf(fixture('inbound-parse-raw.multipart.txt')));
    const candidates: Uint8Array[] = [];
    for (let i = 0; i < 60; i++) candidates.push(randomBytes(1 + i * 7));
    for (let cut = 0; cut < body.length; cut += 97) candidates.push(body.subarray(0, cut));
    for (const candidate of candidates) {
      const result = await inboundAdapter
        .handle(inbound(candidate, RAW_BOUNDARY), context())
        .catch((e: unknown) => e);
      if (result instanceof Error) expect(result).toBeInstanceOf(WebhookFormatError);
      else expect(result).toMatchObject({ kind: 'signals' });
    }
  });
});

describe('sendgridConfigSchema', () => {
  it('accepts the documented shape', () => {
    const config: SendgridConfig = {
      eventWebhookPublicKey: sendgridKey.publicKey,
      timestampToleranceSeconds: 600,
      inboundParse: {
        basicAuth: { username: 'sendgrid', password: 'secret' },
        signaturePublicKey: parseKey.publicKey,
      },
    };
    expect(sendgridConfigSchema.parse(config)).toEqual(config);
  });

  it('refuses unknown keys, keys that are no P-256 public key, and ":" in the user name', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'der' })
      .toString('base64');
    for (const config of [
      { eventWebhookPublicKey: sendgridKey.publicKey, extra: true },
      { eventWebhookPublicKey: 'not a key' },
      { eventWebhookPublicKey: rsa },
      { inboundParse: { basicAuth: { username: 'a:b', password: 'c' } } },
      { inboundParse: { basicAuth: { username: 'a', password: 'c' }, other: 1 } },
      { timestampToleranceSeconds: -1 },
    ]) {
      expect(sendgridConfigSchema.safeParse(config).success, JSON.stringify(config)).toBe(false);
    }
    expect(() => createSendgridAdapter({ eventWebhookPublicKey: 'nope' })).toThrow();
  });
});
