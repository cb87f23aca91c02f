import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { addressList, bareAddress, messageIds, replyTokenFrom } from '../addresses.ts';
import { isAutomaticMail } from '../automatic-mail.ts';
import { stripQuotedText } from '../reply-text.ts';
import {
  type EmailProviderAdapter,
  type EmailSignal,
  type MailEventSignal,
  type ProviderContext,
  type ProviderOutcome,
  type RawWebhookRequest,
  type ReplySignal,
  WebhookAuthError,
  WebhookFormatError,
} from '../types.ts';

/**
 * Mailgun: the event webhooks (JSON `{"signature": {...}, "event-data": {...}}`, see
 * https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhooks) and inbound
 * route forwards (`forward()`/`store(notify=...)`: `multipart/form-data` or
 * `application/x-www-form-urlencoded` fields with `timestamp`, `token` and `signature` at the
 * top level). Both are signed the same way
 * (https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks):
 * hex(HMAC-SHA256(webhook signing key, timestamp + token)). The signature covers only the
 * timestamp and the token, not the payload, which is why the timestamp window and the
 * one-use token matter.
 */

/**
 * Why 9 hours and not 15 minutes: Mailgun's docs call the timestamp check optional and warn
 * that "there can be delays in webhook processing that are outside of Mailgun's control so
 * you don't want to be too aggressive with this check". Mailgun retries a failed POST for
 * 8 hours (event webhooks after 5 min, 10 min, 15 min, 1 h, 2 h and 4 h; route forwards after
 * 10 min, 15 min, 30 min, 1 h, 2 h and 4 h), and a retry is reported to carry the original
 * signature block (Mailgun's docs do not say either way). With a 15-minute window an outage
 * longer than 15 minutes would lose bounces, unsubscribes and replies for good. 9 hours
 * covers the whole retry schedule with an hour to spare.
 * The price: a leaked signature block stays usable longer. The signature does not cover the
 * payload, so within the window it could carry other event-data; the one-use token refuses
 * that on every instance that saw the token (the replay guard is per instance). A deployment
 * that prefers the tighter window sets `timestampToleranceSeconds` (e.g. 900).
 */
export const MAILGUN_DEFAULT_TOLERANCE_SECONDS = 9 * 60 * 60;

export const mailgunConfigSchema = z.strictObject({
  /** The "HTTP webhook signing key" (not the API key). */
  signingKey: z.string().min(1).max(500),
  /** How far the signed timestamp may be from now, either way. */
  timestampToleranceSeconds: z
    .number()
    .int()
    .positive()
    .max(7 * 24 * 60 * 60)
    .default(MAILGUN_DEFAULT_TOLERANCE_SECONDS),
});
export type MailgunConfig = z.input<typeof mailgunConfigSchema>;

interface SignatureBlock {
  timestamp: string;
  token: string;
  signature: string;
  /** Present when the event happened on a subaccount: the same HMAC with the parent's key. */
  parentSignature?: string;
}

// ---------------------------------------------------------------------------------------
// Helpers

function escapePointer(segment: PropertyKey): string {
  return String(segment).replaceAll('~', '~0').replaceAll('/', '~1');
}

function pointerOf(path: readonly PropertyKey[]): string {
  return path.map((segment) => `/${escapePointer(segment)}`).join('');
}

function formatError(message: string, pointer: string, detail: string): WebhookFormatError {
  return new WebhookFormatError(message, [{ pointer, detail }]);
}

function validate<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new WebhookFormatError(
    `Not a Mailgun ${what}.`,
    result.error.issues.map((issue) => ({ pointer: pointerOf(issue.path), detail: issue.message })),
  );
}

function isoTime(value: string): string | undefined {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function requiredAddress(value: string | undefined, pointer: string, what: string): string {
  const address = value === undefined ? undefined : bareAddress(value);
  if (address === undefined || !z.email().safeParse(address).success) {
    throw formatError(
      `Not a Mailgun ${what}: an email address is missing.`,
      pointer,
      'not an email address',
    );
  }
  return address;
}

/** A Message-ID without angle brackets, lower-cased like `messageIds` does for replies. */
function bareMessageId(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  const id = messageIds(value)[0] ?? value.trim().replace(/^<|>$/g, '').toLowerCase();
  return id === '' ? undefined : id;
}

/** A 64-digit hex HMAC, compared in constant time (lengths are fixed before comparing). */
function hexMatches(expected: Buffer, candidate: string | undefined): boolean {
  if (candidate === undefined || !/^[0-9a-fA-F]{64}$/.test(candidate)) return false;
  return timingSafeEqual(expected, Buffer.from(candidate, 'hex'));
}

// ---------------------------------------------------------------------------------------
// Body

type Body = { kind: 'json'; value: Record<string, unknown> } | { kind: 'form'; fields: FormFields };

/** Form fields by exact name, and by lower-cased name for header-like fields (`Message-Id`). */
class FormFields {
  readonly #exact = new Map<string, string>();
  readonly #folded = new Map<string, string>();

  add(name: string, value: string): void {
    if (!this.#exact.has(name)) this.#exact.set(name, value);
    const folded = name.toLowerCase();
    if (!this.#folded.has(folded)) this.#folded.set(folded, value);
  }

  get(name: string): string | undefined {
    return this.#exact.get(name) ?? this.#folded.get(name.toLowerCase());
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}

function decodeUtf8(body: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw formatError('The body is not UTF-8 text.', '', 'not UTF-8');
  }
}

async function readBody(request: RawWebhookRequest): Promise<Body> {
  const contentType = request.headers['content-type'] ?? '';
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  const isJson =
    mediaType === 'application/json' ||
    mediaType.endsWith('+json') ||
    (mediaType === '' && /^\s*\{/.test(decodeUtf8(request.body)));

  if (isJson) {
    let value: unknown;
    try {
      value = JSON.parse(decodeUtf8(request.body));
    } catch {
      throw formatError('The body is not JSON.', '', 'not JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw formatError('The body is not a JSON object.', '', 'expected an object');
    }
    return { kind: 'json', value: value as Record<string, unknown> };
  }

  if (mediaType === 'multipart/form-data' || mediaType === 'application/x-www-form-urlencoded') {
    let form: FormData;
    try {
      form = await new Request('http://mailgun.invalid/', {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: new Uint8Array(request.body),
      }).formData();
    } catch {
      throw formatError('The form body cannot be parsed.', '', `not ${mediaType}`);
    }
    const fields = new FormFields();
    for (const [name, value] of form) {
      if (typeof value === 'string') fields.add(name, value);
    }
    return { kind: 'form', fields };
  }

  throw formatError(
    'Mailgun posts JSON (event webhooks) or form data (routes).',
    '',
    `unsupported content type "${mediaType || '(none)'}"`,
  );
}

// ---------------------------------------------------------------------------------------
// Verification

function nonEmptyString(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function signatureBlock(
  timestamp: unknown,
  token: unknown,
  signature: unknown,
  parentSignature: unknown,
): SignatureBlock {
  const block = {
    timestamp: nonEmptyString(timestamp),
    token: nonEmptyString(token),
    signature: nonEmptyString(signature),
  };
  if (block.timestamp === undefined || block.token === undefined || block.signature === undefined) {
    throw new WebhookAuthError('Mailgun request without timestamp, token and signature.');
  }
  const parent = nonEmptyString(parentSignature);
  return {
    timestamp: block.timestamp,
    token: block.token,
    signature: block.signature,
    ...(parent === undefined ? {} : { parentSignature: parent }),
  };
}

/** Proves the block was made with the signing key within the window; returns its time in ms. */
function verify(
  block: SignatureBlock,
  signingKey: string,
  toleranceSeconds: number,
  now: Date,
): number {
  const expected = createHmac('sha256', signingKey)
    .update(block.timestamp + block.token, 'utf8')
    .digest();
  const signed = hexMatches(expected, block.signature);
  const parentSigned = hexMatches(expected, block.parentSignature);
  if (!signed && !parentSigned) {
    throw new WebhookAuthError('Mailgun signature does not match the signing key.');
  }
  if (!/^\d{1,12}$/.test(block.timestamp)) {
    throw new WebhookAuthError('Mailgun signature timestamp is not a Unix time.');
  }
  const signedAtMs = Number(block.timestamp) * 1000;
  if (Math.abs(now.getTime() - signedAtMs) > toleranceSeconds * 1000) {
    throw new WebhookAuthError('Mailgun signature timestamp is outside the accepted window.');
  }
  return signedAtMs;
}

/**
 * Each token is good once. It is remembered until its timestamp leaves the window (after
 * that the timestamp check refuses it anyway). Called only after the signature, the window
 * and the payload were accepted, so neither a forgery nor a malformed request uses it up.
 */
function consumeToken(
  block: SignatureBlock,
  signedAtMs: number,
  toleranceSeconds: number,
  context: ProviderContext,
): void {
  const ttlMs = Math.max(1000, signedAtMs + toleranceSeconds * 1000 - context.now().getTime());
  if (!context.replayGuard.firstUse(`mailgun:${block.token}`, ttlMs)) {
    throw new WebhookAuthError('Mailgun signature token was already used.');
  }
}

// ---------------------------------------------------------------------------------------
// Event webhooks

/**
 * Mailgun `event` -> signal:
 * - delivered -> delivered; opened -> opened; clicked -> clicked (`url`);
 * - failed + severity "permanent" -> bounced hard, except that Mailgun's refusals to send to
 *   a suppressed address say why: reason "suppress-unsubscribe" -> unsubscribed,
 *   "suppress-complaint" -> complained (not a bounce the address never had);
 * - failed + severity "temporary" -> bounced soft;
 * - unsubscribed -> unsubscribed; complained -> complained;
 * - anything else (accepted, rejected, stored, list_member_uploaded, ...) -> no signal.
 */
const MAPPED_EVENTS = new Set([
  'delivered',
  'opened',
  'clicked',
  'failed',
  'unsubscribed',
  'complained',
]);

/** Seconds since 1970 (with a fraction), before the year 10000 so that it stays a date. */
const MAX_UNIX_SECONDS = 253_402_300_799;
const eventTimestamp = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^\d+(\.\d+)?$/, 'not a Unix time')
      .transform(Number),
  ])
  .refine((seconds) => seconds > 0 && seconds <= MAX_UNIX_SECONDS, 'not a Unix time');

const mappedEventSchema = z.looseObject({
  'event-data': z.looseObject({
    event: z.string(),
    id: z.string().trim().min(1),
    timestamp: eventTimestamp,
    recipient: z.string().trim().min(1),
    message: z
      .looseObject({
        headers: z.looseObject({ 'message-id': z.string().nullish() }).nullish(),
      })
      .nullish(),
    severity: z.string().nullish(),
    reason: z.string().nullish(),
    url: z.string().nullish(),
  }),
});

function eventSignals(body: Record<string, unknown>): EmailSignal[] {
  const envelope = validate(
    z.looseObject({ 'event-data': z.looseObject({ event: z.string().min(1) }) }),
    body,
    'event webhook',
  );
  const event = envelope['event-data'].event;
  if (!MAPPED_EVENTS.has(event)) return [];

  const data = validate(mappedEventSchema, body, `"${event}" event`)['event-data'];
  const recipient = requiredAddress(data.recipient, '/event-data/recipient', `"${event}" event`);
  const seconds = data.timestamp;
  // Mailgun promises event ids unique within a day only; with the event's own second they
  // stay unique beyond it, and both are the same on every retry.
  const providerEventId = `${data.id}:${Math.floor(seconds)}`;
  const messageId = bareMessageId(data.message?.headers?.['message-id']);
  const signal = (
    type: MailEventSignal['type'],
    extra: Partial<Pick<MailEventSignal, 'bounceType' | 'url'>> = {},
  ): MailEventSignal => ({
    type,
    providerEventId,
    occurredAt: new Date(Math.floor(seconds * 1000)).toISOString(),
    recipient,
    ...(messageId === undefined ? {} : { messageId }),
    ...extra,
  });

  switch (event) {
    case 'delivered':
      return [signal('delivered')];
    case 'opened':
      return [signal('opened')];
    case 'clicked': {
      const url = data.url?.trim();
      if (url === undefined || url === '') {
        throw formatError('Not a Mailgun "clicked" event.', '/event-data/url', 'missing');
      }
      return [signal('clicked', { url })];
    }
    case 'failed': {
      if (data.severity === 'temporary') return [signal('bounced', { bounceType: 'soft' })];
      if (data.severity !== 'permanent') {
        throw formatError(
          'Not a Mailgun "failed" event.',
          '/event-data/severity',
          'expected "permanent" or "temporary"',
        );
      }
      if (data.reason === 'suppress-unsubscribe') return [signal('unsubscribed')];
      if (data.reason === 'suppress-complaint') return [signal('complained')];
      return [signal('bounced', { bounceType: 'hard' })];
    }
    case 'unsubscribed':
      return [signal('unsubscribed')];
    case 'complained':
      return [signal('complained')];
    default:
      return [];
  }
}

// ---------------------------------------------------------------------------------------
// Route forwards (inbound mail)

/**
 * Only the start of a reply is kept (an excerpt of a few hundred characters), and the quote
 * stripper is quadratic on some inputs (100k characters of " \n" after "On" take ~30 s), while
 * anyone can mail the inbound address. So at most this much of the text is stripped.
 */
const MAX_STRIPPED_INPUT_CHARS = 4_000;

function strippedReply(text: string | null | undefined): string | undefined {
  if (text === null || text === undefined) return undefined;
  return stripQuotedText(text.slice(0, MAX_STRIPPED_INPUT_CHARS)) || undefined;
}

const headerPairsSchema = z.array(z.array(z.unknown()));

function parseMessageHeaders(raw: string | undefined): Map<string, string> {
  const headers = new Map<string, string>();
  if (raw === undefined || raw.trim() === '') return headers;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw formatError('Not a Mailgun route forward.', '/message-headers', 'not JSON');
  }
  const pairs = headerPairsSchema.safeParse(parsed);
  if (!pairs.success) {
    throw formatError(
      'Not a Mailgun route forward.',
      '/message-headers',
      'expected a list of [name, value] pairs',
    );
  }
  for (const pair of pairs.data) {
    const [name, value] = pair;
    if (typeof name !== 'string' || typeof value !== 'string') continue;
    const folded = name.toLowerCase();
    if (!headers.has(folded)) headers.set(folded, value);
  }
  return headers;
}

function routeSignals(fields: FormFields, signedAtMs: number): EmailSignal[] {
  const headers = parseMessageHeaders(fields.get('message-headers'));
  const header = (name: string): string | undefined =>
    headers.get(name.toLowerCase()) ?? fields.get(name);
  const reply = routeReply(fields, header, signedAtMs);
  return isAutomaticMail(header) ? [] : [reply];
}

function routeReply(
  fields: FormFields,
  header: (name: string) => string | undefined,
  signedAtMs: number,
): ReplySignal {
  const fromHeader = fields.get('from') ?? header('From');
  const from =
    fromHeader !== undefined && bareAddress(fromHeader) !== undefined
      ? requiredAddress(fromHeader, '/from', 'route forward')
      : requiredAddress(fields.get('sender'), '/sender', 'route forward');

  // `recipient` is the envelope address the route matched: where the reply token lives.
  const envelopeRecipients = addressList(fields.get('recipient'));
  const headerRecipients = addressList(header('To'));
  const to = [
    ...new Set([...envelopeRecipients, ...headerRecipients, ...addressList(header('Cc'))]),
  ];
  const replyToken = replyTokenFrom(envelopeRecipients) ?? replyTokenFrom(headerRecipients);

  const date = header('Date');
  const occurredAt =
    (date === undefined ? undefined : isoTime(date)) ?? new Date(signedAtMs).toISOString();

  const bodyPlain = fields.get('body-plain');
  const messageId = bareMessageId(header('Message-Id'));
  // A mail without a Message-ID still needs an id that is the same on every retry.
  const providerEventId =
    messageId ??
    `sha256:${createHash('sha256')
      .update([from, date ?? '', header('Subject') ?? '', bodyPlain ?? ''].join('\n'))
      .digest('hex')
      .slice(0, 32)}`;

  const providerStripped = fields.get('stripped-text')?.trim();
  const source =
    providerStripped !== undefined && providerStripped !== '' ? providerStripped : bodyPlain;
  const strippedText = strippedReply(source);

  const inReplyTo = messageIds(header('In-Reply-To'))[0];
  return {
    type: 'reply',
    providerEventId,
    occurredAt,
    from,
    to,
    ...(replyToken === undefined ? {} : { replyToken }),
    ...(inReplyTo === undefined ? {} : { inReplyTo }),
    references: messageIds(header('References')),
    ...(strippedText === undefined ? {} : { strippedText }),
  };
}

/** Creates the Mailgun adapter for one webhook signing key. */
export function createMailgunAdapter(config: MailgunConfig): EmailProviderAdapter {
  const { signingKey, timestampToleranceSeconds } = mailgunConfigSchema.parse(config);
  return {
    name: 'mailgun',
    async handle(request: RawWebhookRequest, context: ProviderContext): Promise<ProviderOutcome> {
      const body = await readBody(request);

      if (body.kind === 'json') {
        const raw = body.value.signature;
        const fields =
          typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
        const block = signatureBlock(
          fields.timestamp,
          fields.token,
          fields.signature,
          fields['parent-signature'],
        );
        const signedAtMs = verify(block, signingKey, timestampToleranceSeconds, context.now());
        const signals = eventSignals(body.value);
        consumeToken(block, signedAtMs, timestampToleranceSeconds, context);
        return { kind: 'signals', signals };
      }

      const { fields } = body;
      const block = signatureBlock(
        fields.get('timestamp'),
        fields.get('token'),
        fields.get('signature'),
        undefined,
      );
      const signedAtMs = verify(block, signingKey, timestampToleranceSeconds, context.now());
      if (fields.has('event') && !fields.has('body-plain') && !fields.has('stripped-text')) {
        throw formatError(
          'Legacy (form-encoded) Mailgun event webhooks are not supported; use the JSON webhooks.',
          '/event',
          'legacy webhook',
        );
      }
      const signals = routeSignals(fields, signedAtMs);
      consumeToken(block, signedAtMs, timestampToleranceSeconds, context);
      return { kind: 'signals', signals };
    },
  };
}
