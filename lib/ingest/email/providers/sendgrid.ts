/**
 * Twilio SendGrid: two webhooks share `POST /v1/webhooks/email/sendgrid`, told apart by the
 * body.
 *
 * - Event Webhook (JSON array of events). Signed Event Webhook: ECDSA P-256 with SHA-256 over
 *   the UTF-8 timestamp followed by the raw body bytes, base64 DER signature in
 *   `X-Twilio-Email-Event-Webhook-Signature`, Unix-seconds timestamp in
 *   `X-Twilio-Email-Event-Webhook-Timestamp`, public key shown as base64 DER
 *   SubjectPublicKeyInfo. Without a configured key every request is refused.
 *   https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
 *   https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
 * - Inbound Parse (multipart/form-data; parsed fields, or the whole MIME message in `email`
 *   when "send raw" is on). Unsigned by default; a Parse webhook security policy adds the same
 *   ECDSA signature scheme and headers (its own public key). Protected here by that signature
 *   and/or basic auth in the webhook URL; with neither configured every request is refused.
 *   https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/setting-up-the-inbound-parse-webhook
 *   https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/securing-your-parse-webhooks
 */
import { createHash, createPublicKey, type KeyObject, timingSafeEqual, verify } from 'node:crypto';
import { z } from 'zod';
import { addressList, bareAddress, messageIds, replyTokenFrom } from '../addresses.ts';
import { isAutomaticMail } from '../automatic-mail.ts';
import {
  binaryString,
  decodeCharset,
  headerParams,
  headerValue,
  type MimeHeader,
  multipartParts,
  parseHeaderBlock,
  plainTextOf,
  splitMessage,
} from '../mime.ts';
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
 * How far the signed timestamp may lie from now. SendGrid documents no window; 5 minutes is
 * the common choice (Standard Webhooks, svix). Configurable.
 */
export const SENDGRID_DEFAULT_TIMESTAMP_TOLERANCE_SECONDS = 300;

export const SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
export const TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';

/** Imports a P-256 public key given as base64 DER SPKI (as SendGrid shows it) or as PEM. */
function importPublicKey(value: string): KeyObject | undefined {
  try {
    const key = value.includes('-----BEGIN')
      ? createPublicKey(value)
      : createPublicKey({
          key: Buffer.from(value.replace(/\s+/g, ''), 'base64'),
          format: 'der',
          type: 'spki',
        });
    if (key.asymmetricKeyType !== 'ec') return undefined;
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return undefined;
    return key;
  } catch {
    return undefined;
  }
}

const publicKeySchema = z
  .string()
  .trim()
  .min(1)
  .refine(
    (value) => importPublicKey(value) !== undefined,
    'a P-256 (ECDSA) public key, base64 DER as SendGrid shows it',
  );

export const sendgridConfigSchema = z
  .object({
    /** The Signed Event Webhook's verification key (Mail Settings > Event Webhook). */
    eventWebhookPublicKey: publicKeySchema.optional(),
    timestampToleranceSeconds: z.number().int().positive().optional(),
    inboundParse: z
      .object({
        /** Credentials expected in the Parse URL, `https://user:password@host/...`. */
        basicAuth: z
          .object({
            username: z
              .string()
              .min(1)
              .refine((value) => !value.includes(':'), 'must not contain ":"'),
            password: z.string().min(1),
          })
          .strict()
          .optional(),
        /** The public key of a Parse webhook security policy with signature verification. */
        signaturePublicKey: publicKeySchema.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type SendgridConfig = z.input<typeof sendgridConfigSchema>;

// ---------------------------------------------------------------------------------------------
// Authentication

function sha256(value: string | Uint8Array): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time string equality (digests have equal length whatever the inputs). */
function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

function verifySignature(
  request: RawWebhookRequest,
  key: KeyObject,
  toleranceMs: number,
  now: Date,
): void {
  const signature = request.headers[SIGNATURE_HEADER];
  const timestamp = request.headers[TIMESTAMP_HEADER];
  if (signature === undefined || signature === '' || timestamp === undefined) {
    throw new WebhookAuthError('missing SendGrid signature headers');
  }
  if (!/^\d{1,12}$/.test(timestamp.trim())) {
    throw new WebhookAuthError('SendGrid signature timestamp is not a Unix time');
  }
  const signedAt = Number(timestamp.trim()) * 1000;
  if (Math.abs(now.getTime() - signedAt) > toleranceMs) {
    throw new WebhookAuthError('SendGrid signature timestamp is outside the accepted window');
  }
  const payload = Buffer.concat([Buffer.from(timestamp, 'utf8'), request.body]);
  let valid = false;
  try {
    valid = verify(
      'sha256',
      payload,
      { key, dsaEncoding: 'der' },
      Buffer.from(signature.trim(), 'base64'),
    );
  } catch {
    valid = false;
  }
  if (!valid) throw new WebhookAuthError('SendGrid signature does not verify');
}

/** `user:password` from the Authorization header, or from the URL's userinfo if it kept one. */
function basicCredentials(request: RawWebhookRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^\s*Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match?.[1] !== undefined) return Buffer.from(match[1], 'base64').toString('utf8');
  try {
    const url = new URL(request.url);
    if (url.username !== '' || url.password !== '') {
      return `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    }
  } catch {
    // no usable URL: no credentials
  }
  return undefined;
}

/** A JSON Pointer for a zod issue path. */
function pointer(path: readonly PropertyKey[]): string {
  return path.map((key) => `/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

// ---------------------------------------------------------------------------------------------
// Event Webhook

const eventSchema = z.object({
  event: z.string(),
  email: z.string(),
  /** Unix seconds; at most 9999-12-31 (a Date beyond that has no ISO form). */
  timestamp: z.number().int().nonnegative().max(253_402_300_799),
  sg_event_id: z.string().min(1),
  'smtp-id': z.string().optional(),
  url: z.string().optional(),
  type: z.string().optional(),
  reason: z.string().optional(),
  sg_machine_open: z.boolean().optional(),
});
type SendgridEvent = z.infer<typeof eventSchema>;

/** The Event Webhook events `classify` may use (the others are not validated). */
const USED_EVENTS = new Set([
  'delivered',
  'open',
  'click',
  'bounce',
  'dropped',
  'spamreport',
  'unsubscribe',
  'group_unsubscribe',
  'group_resubscribe',
]);

/** What each Event Webhook event means here; `undefined` = not used. */
function classify(event: SendgridEvent): Pick<MailEventSignal, 'type' | 'bounceType'> | undefined {
  switch (event.event) {
    case 'delivered':
      return { type: 'delivered' };
    case 'open':
      // Apple Mail Privacy Protection pre-fetches: SendGrid flags those opens; nobody read them.
      return event.sg_machine_open === true ? undefined : { type: 'opened' };
    case 'click':
      return { type: 'clicked' };
    case 'bounce':
      // `type` "bounce" = the receiving server rejected the address (hard); "blocked" = it
      // refused this message for now (IP/content reputation: soft). Events from before `type`
      // existed were all address bounces.
      return {
        type: 'bounced',
        bounceType: event.type === undefined || event.type === 'bounce' ? 'hard' : 'soft',
      };
    case 'dropped':
      // Not sent because the address is on a SendGrid suppression list (perhaps from before
      // Leadstage): the list's reason is the fact. Other drop reasons say nothing about the
      // contact (quota, content, header errors) and are not used.
      switch (event.reason) {
        case 'Bounced Address':
        case 'Invalid':
          return { type: 'bounced', bounceType: 'hard' };
        case 'Unsubscribed Address':
          return { type: 'unsubscribed' };
        case 'Spam Reporting Address':
          return { type: 'complained' };
        default:
          return undefined;
      }
    case 'spamreport':
      return { type: 'complained' };
    case 'unsubscribe':
    case 'group_unsubscribe':
      return { type: 'unsubscribed' };
    case 'group_resubscribe':
      return { type: 'resubscribed' };
    default:
      // processed, deferred and anything new.
      return undefined;
  }
}

function eventSignals(body: Uint8Array): EmailSignal[] {
  let events: unknown;
  try {
    events = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as unknown;
  } catch (error) {
    throw new WebhookFormatError(
      'body is not a SendGrid Event Webhook JSON array',
      [{ pointer: '', detail: 'not UTF-8 JSON' }],
      { cause: error },
    );
  }
  if (!Array.isArray(events)) {
    throw new WebhookFormatError('body is not a SendGrid Event Webhook JSON array', [
      { pointer: '', detail: 'expected an array of events' },
    ]);
  }
  const signals: EmailSignal[] = [];
  const issues: { pointer: string; detail: string }[] = [];
  events.forEach((value: unknown, index) => {
    const kind = z.object({ event: z.string() }).safeParse(value);
    if (!kind.success) {
      issues.push({ pointer: `/${index}/event`, detail: 'expected the event name' });
      return;
    }
    const parsed = eventSchema.safeParse(value);
    if (!parsed.success) {
      // Events we do not use may look any way they like.
      if (!USED_EVENTS.has(kind.data.event)) return;
      for (const issue of parsed.error.issues) {
        issues.push({ pointer: `/${index}${pointer(issue.path)}`, detail: issue.message });
      }
      return;
    }
    const event = parsed.data;
    const meaning = classify(event);
    if (meaning === undefined) return;
    const recipient = bareAddress(event.email);
    if (recipient === undefined) {
      issues.push({ pointer: `/${index}/email`, detail: 'not an email address' });
      return;
    }
    const signal: MailEventSignal = {
      ...meaning,
      providerEventId: event.sg_event_id,
      occurredAt: new Date(event.timestamp * 1000).toISOString(),
      recipient,
    };
    const smtpId = event['smtp-id'];
    const messageId = smtpId === undefined ? undefined : messageIds(smtpId)[0];
    if (messageId !== undefined) signal.messageId = messageId;
    if (meaning.type === 'clicked' && event.url !== undefined) signal.url = event.url;
    signals.push(signal);
  });
  if (issues.length > 0) {
    throw new WebhookFormatError('SendGrid events are not in the documented format', issues);
  }
  return signals;
}

// ---------------------------------------------------------------------------------------------
// Inbound Parse

interface FormPart {
  /** The value's bytes as a binary string. */
  value: string;
  charset: string | undefined;
}

/** Parses multipart/form-data into its text fields (file parts, i.e. attachments, skipped). */
function formFields(body: Uint8Array, contentType: string): Map<string, FormPart> {
  const boundary = headerParams(contentType).params.get('boundary');
  if (boundary === undefined || boundary === '') {
    throw new WebhookFormatError('multipart body without boundary', [
      { pointer: '', detail: 'Content-Type has no boundary parameter' },
    ]);
  }
  const fields = new Map<string, FormPart>();
  for (const part of multipartParts(binaryString(body), boundary)) {
    const { headers, body: value } = splitMessage(part);
    const disposition = headerParams(headerValue(headers, 'Content-Disposition') ?? '');
    const name = disposition.params.get('name');
    if (disposition.type !== 'form-data' || name === undefined) continue;
    if (disposition.params.has('filename')) continue;
    if (fields.has(name)) continue;
    const charset = headerParams(headerValue(headers, 'Content-Type') ?? '').params.get('charset');
    fields.set(name, { value, charset });
  }
  if (fields.size === 0) {
    throw new WebhookFormatError('multipart body has no fields', [
      { pointer: '', detail: 'no form-data parts' },
    ]);
  }
  return fields;
}

function jsonField(value: string | undefined, name: string): unknown {
  if (value === undefined || value.trim() === '') return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new WebhookFormatError(
      `Inbound Parse field ${name} is not JSON`,
      [{ pointer: `/${name}`, detail: 'not JSON' }],
      { cause: error },
    );
  }
}

const envelopeSchema = z.object({
  to: z.array(z.string()).optional(),
  from: z.string().nullish(),
});
const charsetsSchema = z.record(z.string(), z.string());

function inboundSignals(request: RawWebhookRequest, contentType: string, now: Date): ReplySignal[] {
  const parts = formFields(request.body, contentType);
  // Only a decoding hint: a broken `charsets` field falls back to each part's own charset.
  let charsetsJson: unknown;
  try {
    charsetsJson = jsonField(parts.get('charsets')?.value, 'charsets');
  } catch {
    charsetsJson = undefined;
  }
  const charsets = charsetsSchema.safeParse(charsetsJson);
  const field = (name: string): string | undefined => {
    const part = parts.get(name);
    if (part === undefined) return undefined;
    const charset = (charsets.success ? charsets.data[name] : undefined) ?? part.charset;
    return decodeCharset(Buffer.from(part.value, 'latin1'), charset);
  };

  const envelope = envelopeSchema.safeParse(jsonField(field('envelope'), 'envelope') ?? {});
  if (!envelope.success) {
    throw new WebhookFormatError(
      'Inbound Parse envelope is not in the documented format',
      envelope.error.issues.map((issue) => ({
        pointer: `/envelope${pointer(issue.path)}`,
        detail: issue.message,
      })),
    );
  }

  // "Send raw": the whole message in `email`; else the parsed fields and the header block.
  const raw = parts.get('email')?.value;
  let headers: MimeHeader[];
  let text: string | undefined;
  if (raw !== undefined) {
    headers = splitMessage(raw).headers;
    text = plainTextOf(raw);
  } else {
    headers = parseHeaderBlock(field('headers') ?? '');
    text = field('text');
  }
  if (raw === undefined && parts.get('headers') === undefined && parts.get('from') === undefined) {
    throw new WebhookFormatError('not a SendGrid Inbound Parse request', [
      { pointer: '/headers', detail: 'neither headers, from nor email is present' },
    ]);
  }

  if (isAutomaticMail((name) => headerValue(headers, name))) return [];

  const from =
    addressList(field('from'))[0] ??
    addressList(headerValue(headers, 'From'))[0] ??
    (envelope.data.from ? bareAddress(envelope.data.from) : undefined);
  if (from === undefined) {
    throw new WebhookFormatError('Inbound Parse request has no sender', [
      { pointer: '/from', detail: 'no email address' },
    ]);
  }
  // Envelope recipients first: the address the mail was really delivered to.
  const to = [
    ...new Set([
      ...(envelope.data.to ?? []).flatMap((value) => addressList(value)),
      ...addressList(field('to') ?? headerValue(headers, 'To')),
      ...addressList(field('cc') ?? headerValue(headers, 'Cc')),
    ]),
  ];

  const messageId = messageIds(headerValue(headers, 'Message-ID'))[0];
  const date = Date.parse(headerValue(headers, 'Date') ?? '');
  const signal: ReplySignal = {
    type: 'reply',
    // Without a Message-ID, a digest of what a retry would repeat keeps the id deterministic.
    providerEventId:
      messageId ??
      `sha256:${sha256(
        [
          from,
          to.join(','),
          headerValue(headers, 'Date') ?? '',
          field('subject') ?? '',
          text ?? '',
        ].join('\n'),
      )
        .toString('hex')
        .slice(0, 32)}`,
    occurredAt: (Number.isNaN(date) ? now : new Date(date)).toISOString(),
    from,
    to,
    references: messageIds(headerValue(headers, 'References')),
  };
  const replyToken = replyTokenFrom(to);
  if (replyToken !== undefined) signal.replyToken = replyToken;
  const inReplyTo = messageIds(headerValue(headers, 'In-Reply-To'))[0];
  if (inReplyTo !== undefined) signal.inReplyTo = inReplyTo;
  if (text !== undefined) {
    const stripped = stripQuotedText(text);
    if (stripped !== '') signal.strippedText = stripped;
  }
  return [signal];
}

// ---------------------------------------------------------------------------------------------
// The adapter

/** Creates the `sendgrid` adapter. Throws a ZodError for an invalid config (at startup). */
export function createSendgridAdapter(config: SendgridConfig): EmailProviderAdapter {
  const parsed = sendgridConfigSchema.parse(config);
  const toleranceMs =
    (parsed.timestampToleranceSeconds ?? SENDGRID_DEFAULT_TIMESTAMP_TOLERANCE_SECONDS) * 1000;
  const eventKey =
    parsed.eventWebhookPublicKey === undefined
      ? undefined
      : importPublicKey(parsed.eventWebhookPublicKey);
  const parseKey =
    parsed.inboundParse?.signaturePublicKey === undefined
      ? undefined
      : importPublicKey(parsed.inboundParse.signaturePublicKey);
  const basicAuth = parsed.inboundParse?.basicAuth;
  const expectedCredentials =
    basicAuth === undefined ? undefined : `${basicAuth.username}:${basicAuth.password}`;

  function authenticateInbound(request: RawWebhookRequest, now: Date): void {
    if (parseKey === undefined && expectedCredentials === undefined) {
      throw new WebhookAuthError(
        'SendGrid Inbound Parse is not configured (no basic auth and no signature key)',
      );
    }
    if (parseKey !== undefined) verifySignature(request, parseKey, toleranceMs, now);
    if (expectedCredentials !== undefined) {
      const given = basicCredentials(request);
      if (given === undefined || !sameSecret(given, expectedCredentials)) {
        throw new WebhookAuthError('SendGrid Inbound Parse credentials do not match');
      }
    }
  }

  return {
    name: 'sendgrid',
    async handle(request: RawWebhookRequest, context: ProviderContext): Promise<ProviderOutcome> {
      const now = context.now();
      const contentType = request.headers['content-type'] ?? '';
      if (headerParams(contentType).type === 'multipart/form-data') {
        authenticateInbound(request, now);
        return { kind: 'signals', signals: inboundSignals(request, contentType, now) };
      }
      if (eventKey === undefined) {
        throw new WebhookAuthError(
          'SendGrid Event Webhook is not configured (no eventWebhookPublicKey): refused',
        );
      }
      verifySignature(request, eventKey, toleranceMs, now);
      return { kind: 'signals', signals: eventSignals(request.body) };
    },
  };
}
