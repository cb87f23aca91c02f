import { createHash, timingSafeEqual } from 'node:crypto';
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
 * Postmark: inbound mail (JSON POST of the parsed message) and the outbound webhooks
 * (Delivery, Bounce, SpamComplaint, Open, Click, SubscriptionChange), one JSON object per
 * request, following https://postmarkapp.com/developer/webhooks/webhooks-overview and
 * https://postmarkapp.com/developer/webhooks/inbound-webhook.
 *
 * Postmark signs nothing. Its documented mechanism is HTTP Basic auth in the webhook URL
 * (`https://user:pass@host/v1/webhooks/email/postmark`), which arrives as an
 * `Authorization: Basic` header; both parts are compared in constant time.
 */

export const postmarkConfigSchema = z.strictObject({
  basicAuth: z.strictObject({
    /** RFC 7617: the user-id cannot contain a colon. */
    username: z
      .string()
      .min(1)
      .max(200)
      .refine((value) => !value.includes(':'), 'must not contain ":"'),
    password: z.string().min(1).max(500),
  }),
});
export type PostmarkConfig = z.input<typeof postmarkConfigSchema>;

/**
 * Postmark's "check" of an inbound webhook URL and the "Send test" of an outbound webhook
 * post sample payloads whose MessageID is the nil GUID; a real message never has it.
 */
const TEST_MESSAGE_ID = '00000000-0000-0000-0000-000000000000';

/**
 * Postmark sends outbound mail with `Message-ID: <{MessageID}@mtasv.net>` (unless the sender
 * set its own with `X-PM-KeepID: true`), so that is what a reply's `In-Reply-To` names.
 */
const OUTBOUND_MESSAGE_ID_DOMAIN = 'mtasv.net';

type BounceOutcome =
  | { signal: 'bounced'; bounceType: 'hard' | 'soft' }
  | { signal: 'complained' | 'unsubscribed' | 'ignored' };

const hard = { signal: 'bounced', bounceType: 'hard' } as const;
const soft = { signal: 'bounced', bounceType: 'soft' } as const;
const ignored = { signal: 'ignored' } as const;

/**
 * Postmark's bounce types (https://postmarkapp.com/developer/api/bounce-api#bounce-types),
 * by `Type` with its `TypeCode`, and what each one means for the contact:
 *
 * - hard (the address will not take mail): HardBounce 1, BadEmailAddress 100000,
 *   ManuallyDeactivated 100002.
 * - soft (temporary, or a problem on the way rather than with the address): Transient 2,
 *   AddressChange 128, DnsError 256, SpamNotification 512, OpenRelayTest 1024, Unknown 2048,
 *   SoftBounce 4096, VirusNotification 8192, ChallengeVerification 16384, Unconfirmed 100003,
 *   Blocked 100006, SMTPApiError 100007, DMARCPolicy 100009.
 * - complained: SpamComplaint 100001. unsubscribed: Unsubscribe 16 (a remove request).
 * - ignored (no signal; the mail was delivered or the failure is ours, not the address's):
 *   Subscribe 32, AutoResponder 64 (out of office), InboundError 100008,
 *   TemplateRenderingFailed 100010.
 *
 * Whatever the type, `Inactive: true` means Postmark deactivated the address and will not
 * send to it again, so a bounce that would be soft is reported hard. An unknown type is soft.
 */
const BOUNCE_TYPES: Record<string, { code: number; outcome: BounceOutcome }> = {
  HardBounce: { code: 1, outcome: hard },
  Transient: { code: 2, outcome: soft },
  Unsubscribe: { code: 16, outcome: { signal: 'unsubscribed' } },
  Subscribe: { code: 32, outcome: ignored },
  AutoResponder: { code: 64, outcome: ignored },
  AddressChange: { code: 128, outcome: soft },
  DnsError: { code: 256, outcome: soft },
  SpamNotification: { code: 512, outcome: soft },
  OpenRelayTest: { code: 1024, outcome: soft },
  Unknown: { code: 2048, outcome: soft },
  SoftBounce: { code: 4096, outcome: soft },
  VirusNotification: { code: 8192, outcome: soft },
  ChallengeVerification: { code: 16384, outcome: soft },
  BadEmailAddress: { code: 100000, outcome: hard },
  SpamComplaint: { code: 100001, outcome: { signal: 'complained' } },
  ManuallyDeactivated: { code: 100002, outcome: hard },
  Unconfirmed: { code: 100003, outcome: soft },
  Blocked: { code: 100006, outcome: soft },
  SMTPApiError: { code: 100007, outcome: soft },
  InboundError: { code: 100008, outcome: ignored },
  DMARCPolicy: { code: 100009, outcome: soft },
  TemplateRenderingFailed: { code: 100010, outcome: ignored },
};

/** What a Postmark bounce of this `Type` (or, for an unknown name, `TypeCode`) means. */
export function postmarkBounceOutcome(
  type: string,
  typeCode: number | undefined,
  inactive: boolean,
): BounceOutcome {
  const known = Object.hasOwn(BOUNCE_TYPES, type)
    ? BOUNCE_TYPES[type]
    : Object.values(BOUNCE_TYPES).find((entry) => entry.code === typeCode);
  const outcome = known?.outcome ?? soft;
  if (outcome.signal === 'bounced' && inactive) return hard;
  return outcome;
}

// ---------------------------------------------------------------------------------------
// Wire schemas (only the fields we read are declared; everything else passes through).

const timestamp = z.string().refine((value) => !Number.isNaN(Date.parse(value)), {
  message: 'not a date-time',
});
const nonEmpty = z.string().trim().min(1);

const inboundAddressSchema = z.looseObject({
  Email: z.string().nullish(),
  MailboxHash: z.string().nullish(),
});

const inboundSchema = z.looseObject({
  MessageID: nonEmpty,
  From: z.string().nullish(),
  FromFull: z.looseObject({ Email: z.string().nullish() }).nullish(),
  To: z.string().nullish(),
  ToFull: z.array(inboundAddressSchema).nullish(),
  Cc: z.string().nullish(),
  CcFull: z.array(inboundAddressSchema).nullish(),
  Bcc: z.string().nullish(),
  BccFull: z.array(inboundAddressSchema).nullish(),
  OriginalRecipient: z.string().nullish(),
  MailboxHash: z.string().nullish(),
  Date: z.string().nullish(),
  TextBody: z.string().nullish(),
  StrippedTextReply: z.string().nullish(),
  Headers: z.array(z.looseObject({ Name: z.string(), Value: z.string().nullish() })).nullish(),
});

const deliverySchema = z.looseObject({
  MessageID: nonEmpty,
  Recipient: nonEmpty,
  DeliveredAt: timestamp,
});

const openSchema = z.looseObject({
  MessageID: nonEmpty,
  Recipient: nonEmpty,
  ReceivedAt: timestamp,
});

const clickSchema = openSchema.extend({ OriginalLink: nonEmpty });

/** `ID` arrives as the exact digits (see `parseJson`); older numbers below 2^53 are fine too. */
const bounceIdSchema = z.union([
  z.string().regex(/^\d+$/, 'not a bounce id'),
  z.number().int().nonnegative(),
]);

const bounceSchema = z.looseObject({
  ID: bounceIdSchema,
  Type: z.string(),
  TypeCode: z.number().int().nullish(),
  Email: nonEmpty,
  BouncedAt: timestamp,
  MessageID: z.string().nullish(),
  Inactive: z.boolean().nullish(),
});

const spamComplaintSchema = z.looseObject({
  ID: bounceIdSchema,
  Email: nonEmpty,
  BouncedAt: timestamp,
  MessageID: z.string().nullish(),
});

const subscriptionChangeSchema = z.looseObject({
  Recipient: nonEmpty,
  ChangedAt: timestamp,
  SuppressSending: z.boolean(),
  SuppressionReason: z.string().nullish(),
  /** Null for manual suppressions by the customer/admin and for reactivations. */
  MessageID: z.string().nullish(),
  MessageStream: z.string().nullish(),
});

// ---------------------------------------------------------------------------------------
// Helpers

function escapePointer(segment: PropertyKey): string {
  return String(segment).replaceAll('~', '~0').replaceAll('/', '~1');
}

function pointerOf(path: readonly PropertyKey[]): string {
  return path.map((segment) => `/${escapePointer(segment)}`).join('');
}

function validate<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new WebhookFormatError(
    `Not a Postmark ${what} payload.`,
    result.error.issues.map((issue) => ({ pointer: pointerOf(issue.path), detail: issue.message })),
  );
}

/** The UTC ISO-8601 form of a provider's date-time. */
function isoTime(value: string): string | undefined {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** A lower-cased address that must be there; a format error pointing at `pointer` if not. */
function requiredAddress(value: string | null | undefined, pointer: string): string {
  const address = value === null || value === undefined ? undefined : bareAddress(value);
  if (address === undefined || !z.email().safeParse(address).success) {
    throw new WebhookFormatError('Not a Postmark payload: an email address is missing.', [
      { pointer, detail: 'not an email address' },
    ]);
  }
  return address;
}

function shortHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

function outboundMessageId(messageId: string | null | undefined): string | undefined {
  const id = messageId?.trim().toLowerCase();
  if (id === undefined || id === '') return undefined;
  return id.includes('@') ? id : `${id}@${OUTBOUND_MESSAGE_ID_DOMAIN}`;
}

/**
 * Bounce `ID`s exceed 2^53 (e.g. 4323372036854775807), which a plain `JSON.parse` rounds.
 * Node 22's reviver gets each primitive's source text, so every `ID` is kept as its digits.
 */
function parseJson(text: string): unknown {
  return JSON.parse(
    text,
    function keepIdDigits(key: string, value: unknown, context?: { source?: string }) {
      if (key === 'ID' && typeof value === 'number' && typeof context?.source === 'string') {
        return context.source;
      }
      return value;
    },
  );
}

function decodeBody(body: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new WebhookFormatError('The body is not UTF-8 text.', [
      { pointer: '', detail: 'not UTF-8' },
    ]);
  }
  let parsed: unknown;
  try {
    parsed = parseJson(text);
  } catch {
    throw new WebhookFormatError('The body is not JSON.', [{ pointer: '', detail: 'not JSON' }]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new WebhookFormatError('The body is not a JSON object.', [
      { pointer: '', detail: 'expected an object' },
    ]);
  }
  return parsed as Record<string, unknown>;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant time in the credentials: both parts are always compared, as equal-length digests. */
function checkBasicAuth(
  headers: Record<string, string>,
  expected: { username: string; password: string },
): void {
  const header = headers.authorization;
  const match = header === undefined ? null : /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (match?.[1] === undefined) {
    throw new WebhookAuthError('Postmark webhook without Basic credentials.');
  }
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const username = colon < 0 ? decoded : decoded.slice(0, colon);
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  const userOk = timingSafeEqual(digest(username), digest(expected.username));
  const passwordOk = timingSafeEqual(digest(password), digest(expected.password));
  if (!(userOk && passwordOk) || colon < 0) {
    throw new WebhookAuthError('Postmark webhook with wrong Basic credentials.');
  }
}

// ---------------------------------------------------------------------------------------
// Mapping

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

function headerValue(
  headers: readonly { Name: string; Value?: string | null | undefined }[] | null | undefined,
  name: string,
): string | undefined {
  const wanted = name.toLowerCase();
  const found = headers?.find((header) => header.Name.trim().toLowerCase() === wanted);
  return found?.Value ?? undefined;
}

function uniqueAddresses(values: readonly (string | null | undefined)[]): string[] {
  const seen = new Set<string>();
  for (const value of values) {
    if (value === null || value === undefined) continue;
    const address = bareAddress(value);
    if (address !== undefined) seen.add(address);
  }
  return [...seen];
}

function fullOrHeader(
  full: readonly { Email?: string | null | undefined }[] | null | undefined,
  header: string | null | undefined,
): (string | null | undefined)[] {
  if (full !== null && full !== undefined && full.length > 0) return full.map((a) => a.Email);
  return addressList(header ?? undefined);
}

function inboundSignals(payload: Record<string, unknown>, context: ProviderContext): EmailSignal[] {
  const mail = validate(inboundSchema, payload, 'inbound');
  if (isAutomaticMail((name) => headerValue(mail.Headers, name))) return [];
  return [inboundReply(mail, context)];
}

function inboundReply(mail: z.output<typeof inboundSchema>, context: ProviderContext): ReplySignal {
  const fullFrom = mail.FromFull?.Email?.trim();
  const from =
    fullFrom !== undefined && fullFrom !== ''
      ? requiredAddress(fullFrom, '/FromFull/Email')
      : requiredAddress(mail.From, '/From');
  const to = uniqueAddresses([
    mail.OriginalRecipient,
    ...fullOrHeader(mail.ToFull, mail.To),
    ...fullOrHeader(mail.CcFull, mail.Cc),
    ...fullOrHeader(mail.BccFull, mail.Bcc),
  ]);

  // MailboxHash is the plus-part of the inbound address the mail was delivered to; the
  // original recipient's plus-part is the fallback. Other recipients' plus-addresses (a
  // colleague's `anna+news@...` in Cc) are deliberately not read as tokens.
  const hash = mail.MailboxHash?.trim().toLowerCase();
  const replyToken =
    hash !== undefined && hash !== ''
      ? hash
      : replyTokenFrom(uniqueAddresses([mail.OriginalRecipient]));

  const dateHeader = mail.Date ?? headerValue(mail.Headers, 'Date');
  const occurredAt =
    (dateHeader === undefined ? undefined : isoTime(dateHeader)) ?? context.now().toISOString();

  const inReplyTo = messageIds(headerValue(mail.Headers, 'In-Reply-To'))[0];
  const references = messageIds(headerValue(mail.Headers, 'References'));

  // Postmark's StrippedTextReply is preferred; our stripper runs over it too, because it
  // also knows German and Outlook quote headers that Postmark's parser may leave in.
  const providerStripped = mail.StrippedTextReply?.trim();
  const source =
    providerStripped !== undefined && providerStripped !== '' ? providerStripped : mail.TextBody;
  const strippedText = strippedReply(source);

  return {
    type: 'reply',
    providerEventId: mail.MessageID.trim().toLowerCase(),
    occurredAt,
    from,
    to,
    ...(replyToken === undefined ? {} : { replyToken }),
    ...(inReplyTo === undefined ? {} : { inReplyTo }),
    references,
    ...(strippedText === undefined ? {} : { strippedText }),
  };
}

function mailEvent(
  type: MailEventSignal['type'],
  providerEventId: string,
  occurredAt: string,
  recipient: string,
  messageId: string | null | undefined,
  extra: Partial<Pick<MailEventSignal, 'bounceType' | 'url'>> = {},
): MailEventSignal {
  const id = outboundMessageId(messageId);
  return {
    type,
    providerEventId,
    occurredAt,
    recipient,
    ...(id === undefined ? {} : { messageId: id }),
    ...extra,
  };
}

/** `isoTime` of a value the schema already proved parseable. */
function at(value: string): string {
  return isoTime(value) ?? value;
}

/**
 * Postmark `RecordType` -> signal:
 * - Delivery -> delivered; Open -> opened (every open, first or not); Click -> clicked
 *   (`OriginalLink`);
 * - Bounce -> per bounce type (see `BOUNCE_TYPES`); SpamComplaint -> complained;
 * - SubscriptionChange: SuppressSending false -> resubscribed; true -> by SuppressionReason:
 *   HardBounce -> bounced hard, SpamComplaint -> complained, ManualSuppression (which is what a
 *   recipient's unsubscribe is) or anything else -> unsubscribed;
 * - any other RecordType -> no signal.
 * Event ids: Bounce/SpamComplaint by their numeric `ID`; the others carry no id of their own,
 * so MessageID plus a hash of the recipient and the event's own time (a message has many
 * recipients and many opens, and a retry repeats all of them exactly).
 */
function outboundEvents(recordType: string, payload: Record<string, unknown>): EmailSignal[] {
  switch (recordType) {
    case 'Delivery': {
      const e = validate(deliverySchema, payload, 'Delivery');
      const recipient = requiredAddress(e.Recipient, '/Recipient');
      return [
        mailEvent(
          'delivered',
          `delivery:${e.MessageID}:${shortHash(recipient)}`,
          at(e.DeliveredAt),
          recipient,
          e.MessageID,
        ),
      ];
    }
    case 'Open': {
      const e = validate(openSchema, payload, 'Open');
      const recipient = requiredAddress(e.Recipient, '/Recipient');
      return [
        mailEvent(
          'opened',
          `open:${e.MessageID}:${shortHash(recipient, e.ReceivedAt)}`,
          at(e.ReceivedAt),
          recipient,
          e.MessageID,
        ),
      ];
    }
    case 'Click': {
      const e = validate(clickSchema, payload, 'Click');
      const recipient = requiredAddress(e.Recipient, '/Recipient');
      return [
        mailEvent(
          'clicked',
          `click:${e.MessageID}:${shortHash(recipient, e.ReceivedAt, e.OriginalLink)}`,
          at(e.ReceivedAt),
          recipient,
          e.MessageID,
          { url: e.OriginalLink },
        ),
      ];
    }
    case 'Bounce': {
      const e = validate(bounceSchema, payload, 'Bounce');
      const recipient = requiredAddress(e.Email, '/Email');
      const outcome = postmarkBounceOutcome(e.Type, e.TypeCode ?? undefined, e.Inactive === true);
      if (outcome.signal === 'ignored') return [];
      const id = `bounce:${String(e.ID)}`;
      if (outcome.signal === 'bounced') {
        return [
          mailEvent('bounced', id, at(e.BouncedAt), recipient, e.MessageID, {
            bounceType: outcome.bounceType,
          }),
        ];
      }
      return [mailEvent(outcome.signal, id, at(e.BouncedAt), recipient, e.MessageID)];
    }
    case 'SpamComplaint': {
      const e = validate(spamComplaintSchema, payload, 'SpamComplaint');
      const recipient = requiredAddress(e.Email, '/Email');
      return [
        mailEvent(
          'complained',
          `spam-complaint:${String(e.ID)}`,
          at(e.BouncedAt),
          recipient,
          e.MessageID,
        ),
      ];
    }
    case 'SubscriptionChange': {
      const e = validate(subscriptionChangeSchema, payload, 'SubscriptionChange');
      const recipient = requiredAddress(e.Recipient, '/Recipient');
      const id = `subscription-change:${shortHash(
        e.MessageStream ?? '',
        recipient,
        e.ChangedAt,
        String(e.SuppressSending),
      )}`;
      const occurredAt = at(e.ChangedAt);
      if (!e.SuppressSending)
        return [mailEvent('resubscribed', id, occurredAt, recipient, e.MessageID)];
      // A suppression says why: Postmark suppresses after a hard bounce or a spam complaint
      // too, and an opt-out must not be claimed for someone who never opted out.
      if (e.SuppressionReason === 'HardBounce') {
        return [
          mailEvent('bounced', id, occurredAt, recipient, e.MessageID, { bounceType: 'hard' }),
        ];
      }
      if (e.SuppressionReason === 'SpamComplaint') {
        return [mailEvent('complained', id, occurredAt, recipient, e.MessageID)];
      }
      return [mailEvent('unsubscribed', id, occurredAt, recipient, e.MessageID)];
    }
    default:
      return [];
  }
}

/** Creates the Postmark adapter for one configured set of Basic credentials. */
export function createPostmarkAdapter(config: PostmarkConfig): EmailProviderAdapter {
  const { basicAuth } = postmarkConfigSchema.parse(config);
  return {
    name: 'postmark',
    async handle(request: RawWebhookRequest, context: ProviderContext): Promise<ProviderOutcome> {
      checkBasicAuth(request.headers, basicAuth);
      const payload = decodeBody(request.body);

      if (payload.MessageID === TEST_MESSAGE_ID) {
        return {
          kind: 'handshake',
          message: 'Postmark test payload acknowledged; nothing was enqueued.',
        };
      }

      const recordType = payload.RecordType;
      if (recordType === undefined || recordType === null || recordType === 'Inbound') {
        return { kind: 'signals', signals: inboundSignals(payload, context) };
      }
      if (typeof recordType !== 'string') {
        throw new WebhookFormatError('Not a Postmark payload.', [
          { pointer: '/RecordType', detail: 'expected a string' },
        ]);
      }
      return { kind: 'signals', signals: outboundEvents(recordType, payload) };
    },
  };
}
