/**
 * Amazon SES through Amazon SNS: SES publishes its notifications (receipt-rule `Received`,
 * identity feedback notifications, configuration-set event publishing) to an SNS topic, and
 * SNS POSTs each message to our HTTPS subscription as JSON (with `Content-Type: text/plain`).
 *
 * Authenticity comes from the SNS message signature: RSA over a canonical string of the
 * message's fields (SignatureVersion 1 = SHA1withRSA, 2 = SHA256withRSA), verified with the
 * certificate at `SigningCertURL`. That URL is checked (https, `sns.<topic region>.amazonaws.com`
 * or `.amazonaws.com.cn`, a `.pem` path) before anything is fetched, and only topics on the
 * configured allow-list are accepted. See
 * https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html,
 * https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html,
 * https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html,
 * https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html and
 * https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html.
 *
 * This file also holds a small MIME reader (headers, the first text/plain part) used for the
 * raw message SES puts into `content`; the SendGrid adapter reuses it for raw Inbound Parse.
 */
import { createHash, createVerify, X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { addressList, bareAddress, messageIds, replyTokenFrom } from '../addresses.ts';
import { isAutomaticMail } from '../automatic-mail.ts';
import { binaryString, headerValue, plainTextOf, splitMessage } from '../mime.ts';
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
 * How far an SNS message's `Timestamp` (its publish time, kept on retries) may lie from now.
 * SNS retries an HTTP/S delivery for at most 3,600 s (a hard limit); twice that leaves room for
 * throttled deliveries and clock skew. Replays inside the window are harmless: every signal's
 * id is deterministic, so classify drops them as duplicates.
 */
export const SES_DEFAULT_TIMESTAMP_TOLERANCE_SECONDS = 7_200;

/** At most this many signing certificates are kept per adapter instance. */
const CERT_CACHE_MAX = 32;

export const sesConfigSchema = z
  .object({
    /** The SNS topics whose messages are accepted, e.g. `arn:aws:sns:eu-central-1:123456789012:ses-events`. */
    topicArns: z
      .array(
        z
          .string()
          .regex(
            /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/,
            'an SNS topic ARN such as arn:aws:sns:eu-central-1:123456789012:ses-events',
          ),
      )
      .min(1),
    timestampToleranceSeconds: z.number().int().positive().optional(),
  })
  .strict();
export type SesConfig = z.input<typeof sesConfigSchema>;

// ---------------------------------------------------------------------------------------------
// SNS envelope

const snsEnvelopeSchema = z.object({
  Type: z.string().min(1),
  MessageId: z.string().min(1),
  TopicArn: z.string().min(1),
  Message: z.string(),
  Timestamp: z.string().min(1),
  SignatureVersion: z.string().min(1),
  Signature: z.string().min(1),
  SigningCertURL: z.string().min(1),
  Subject: z.string().nullish(),
  Token: z.string().optional(),
  SubscribeURL: z.string().optional(),
});
type SnsEnvelope = z.infer<typeof snsEnvelopeSchema>;

const MESSAGE_TYPES = new Set([
  'Notification',
  'SubscriptionConfirmation',
  'UnsubscribeConfirmation',
]);

/**
 * The canonical string SNS signs: `Name\nvalue\n` for each field in this order, `Subject` only
 * when the notification has one; confirmations sign SubscribeURL and Token instead.
 */
export function snsStringToSign(message: SnsEnvelope): string {
  const fields: [string, string | null | undefined][] =
    message.Type === 'Notification'
      ? [
          ['Message', message.Message],
          ['MessageId', message.MessageId],
          ['Subject', message.Subject],
          ['Timestamp', message.Timestamp],
          ['TopicArn', message.TopicArn],
          ['Type', message.Type],
        ]
      : [
          ['Message', message.Message],
          ['MessageId', message.MessageId],
          ['SubscribeURL', message.SubscribeURL],
          ['Timestamp', message.Timestamp],
          ['Token', message.Token],
          ['TopicArn', message.TopicArn],
          ['Type', message.Type],
        ];
  let out = '';
  for (const [name, value] of fields) {
    if (typeof value === 'string') out += `${name}\n${value}\n`;
  }
  return out;
}

/** `eu-central-1` from `arn:aws:sns:eu-central-1:123456789012:topic`. */
function topicRegion(topicArn: string): string | undefined {
  return /^arn:aws[a-z-]*:sns:([a-z0-9-]+):/.exec(topicArn)?.[1];
}

/**
 * Accepts only `https://sns.<region>.amazonaws.com[.cn]/...` for the topic's own region: no
 * userinfo, no port, and (for the certificate) a `.pem` path. The region must look like one
 * (`eu-central-1`, `us-gov-west-1`) so that look-alike AWS hosts such as `sns.s3.amazonaws.com`
 * (an S3 bucket named "sns") never match.
 */
function checkSnsUrl(value: string, region: string, what: string, requirePem: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new WebhookAuthError(`SNS ${what} is not a URL`);
  }
  const host = /^sns\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/.exec(url.hostname);
  if (
    url.protocol !== 'https:' ||
    url.username !== '' ||
    url.password !== '' ||
    url.port !== '' ||
    host === null ||
    host[1] !== region ||
    (requirePem && !url.pathname.endsWith('.pem'))
  ) {
    throw new WebhookAuthError(`SNS ${what} is not an https://sns.${region}.amazonaws.com URL`);
  }
  return url.href;
}

// ---------------------------------------------------------------------------------------------
// SES notifications (the SNS `Message`)

const headerListSchema = z.array(z.object({ name: z.string(), value: z.string() }));

const mailSchema = z.object({
  timestamp: z.string().optional(),
  messageId: z.string().min(1),
  source: z.string().optional(),
  destination: z.array(z.string()).optional(),
  headers: headerListSchema.optional(),
  commonHeaders: z
    .object({
      from: z.array(z.string()).optional(),
      to: z.array(z.string()).optional(),
      cc: z.array(z.string()).optional(),
      messageId: z.string().optional(),
      date: z.string().optional(),
    })
    .optional(),
});
type SesMail = z.infer<typeof mailSchema>;

const recipientListSchema = z.array(z.object({ emailAddress: z.string() })).min(1);

const bounceSchema = z.object({
  mail: mailSchema,
  bounce: z.object({
    bounceType: z.string(),
    bouncedRecipients: recipientListSchema,
    timestamp: z.string(),
    feedbackId: z.string().min(1),
  }),
});
const complaintSchema = z.object({
  mail: mailSchema,
  complaint: z.object({
    complainedRecipients: recipientListSchema,
    timestamp: z.string(),
    feedbackId: z.string().min(1),
    complaintFeedbackType: z.string().nullish(),
  }),
});
const deliverySchema = z.object({
  mail: mailSchema,
  delivery: z.object({ timestamp: z.string(), recipients: z.array(z.string()).min(1) }),
});
const openSchema = z.object({ mail: mailSchema, open: z.object({ timestamp: z.string() }) });
const clickSchema = z.object({
  mail: mailSchema,
  click: z.object({ timestamp: z.string(), link: z.string() }),
});
const subscriptionSchema = z.object({
  mail: mailSchema,
  subscription: z.object({
    timestamp: z.string(),
    newTopicPreferences: z.object({ unsubscribeAll: z.boolean().optional() }).optional(),
  }),
});
const verdictSchema = z.object({ status: z.string() }).optional();
const receivedSchema = z.object({
  mail: mailSchema,
  receipt: z
    .object({
      timestamp: z.string().optional(),
      recipients: z.array(z.string()).optional(),
      spamVerdict: verdictSchema,
      virusVerdict: verdictSchema,
    })
    .optional(),
  content: z.string().optional(),
});

function pointer(path: readonly PropertyKey[]): string {
  return path.map((key) => `/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

function parseMessage<T>(schema: z.ZodType<T>, value: unknown, kind: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new WebhookFormatError(
    `SES ${kind} notification is not in the documented format`,
    result.error.issues.map((issue) => ({
      pointer: '/Message',
      detail: `${pointer(issue.path) || '/'}: ${issue.message}`,
    })),
  );
}

function isoTime(value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw new WebhookFormatError('SES notification has an unreadable timestamp', [
      { pointer: '/Message', detail: `not a date: ${value.slice(0, 64)}` },
    ]);
  }
  return new Date(time).toISOString();
}

/** A short, stable, non-reversible key for a recipient inside an event id (no address in ids). */
function recipientKey(address: string): string {
  return createHash('sha256').update(address).digest('hex').slice(0, 16);
}

/**
 * The outbound mail's Message-ID, without angle brackets and lower-cased like `messageIds`:
 * the `Message-ID` header the sender set, else `commonHeaders.messageId` when it is a real
 * message id. (When SES generates the header itself, `commonHeaders.messageId` holds only SES's
 * own id; the domain part SES appends depends on the region, so it is not guessed.)
 */
function outboundMessageId(mail: SesMail): string | undefined {
  const fromHeader = headerValue(mail.headers, 'Message-ID');
  if (fromHeader !== undefined) {
    const id = messageIds(fromHeader)[0] ?? fromHeader.trim().replace(/^<|>$/g, '').toLowerCase();
    if (id !== '') return id;
  }
  const common = mail.commonHeaders?.messageId;
  if (common?.includes('@')) return messageIds(common)[0] ?? common.trim().toLowerCase();
  return undefined;
}

function mailEvent(mail: SesMail, fields: MailEventSignal): MailEventSignal {
  const messageId = outboundMessageId(mail);
  return messageId === undefined ? fields : { ...fields, messageId };
}

function recipientOrThrow(value: string, where: string): string {
  const address = bareAddress(value);
  if (address === undefined) {
    throw new WebhookFormatError('SES notification names a recipient without an address', [
      { pointer: '/Message', detail: `${where}: not an email address` },
    ]);
  }
  return address;
}

/** The addresses the mail went to (open, click and subscription events name no recipient). */
function destinations(mail: SesMail): string[] {
  const all = (mail.destination ?? []).flatMap((value) => addressList(value));
  return [...new Set(all)];
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function sesSignals(message: unknown, snsTimestamp: string): EmailSignal[] {
  const head = z
    .object({ notificationType: z.string().optional(), eventType: z.string().optional() })
    .safeParse(message);
  if (!head.success) {
    throw new WebhookFormatError('SNS Message is not an SES notification', [
      { pointer: '/Message', detail: 'expected a JSON object with notificationType or eventType' },
    ]);
  }
  const kind = head.data.eventType ?? head.data.notificationType;
  if (kind === undefined) {
    throw new WebhookFormatError('SNS Message is not an SES notification', [
      { pointer: '/Message', detail: 'neither notificationType nor eventType is set' },
    ]);
  }
  switch (kind) {
    case 'Bounce': {
      const { mail, bounce } = parseMessage(bounceSchema, message, kind);
      const occurredAt = isoTime(bounce.timestamp, snsTimestamp);
      // Permanent = hard; Transient and Undetermined may still succeed later = soft.
      const bounceType = bounce.bounceType === 'Permanent' ? 'hard' : 'soft';
      return bounce.bouncedRecipients.map((recipient, index) => {
        const address = recipientOrThrow(
          recipient.emailAddress,
          `/bounce/bouncedRecipients/${index}/emailAddress`,
        );
        return mailEvent(mail, {
          type: 'bounced',
          providerEventId: `bounce:${bounce.feedbackId}:${recipientKey(address)}`,
          occurredAt,
          recipient: address,
          bounceType,
        });
      });
    }
    case 'Complaint': {
      const { mail, complaint } = parseMessage(complaintSchema, message, kind);
      // An ARF report of type "not-spam" says the opposite of a complaint.
      if (complaint.complaintFeedbackType === 'not-spam') return [];
      const occurredAt = isoTime(complaint.timestamp, snsTimestamp);
      return complaint.complainedRecipients.map((recipient, index) => {
        const address = recipientOrThrow(
          recipient.emailAddress,
          `/complaint/complainedRecipients/${index}/emailAddress`,
        );
        return mailEvent(mail, {
          type: 'complained',
          providerEventId: `complaint:${complaint.feedbackId}:${recipientKey(address)}`,
          occurredAt,
          recipient: address,
        });
      });
    }
    case 'Delivery': {
      const { mail, delivery } = parseMessage(deliverySchema, message, kind);
      const occurredAt = isoTime(delivery.timestamp, snsTimestamp);
      return delivery.recipients.map((value, index) => {
        const address = recipientOrThrow(value, `/delivery/recipients/${index}`);
        return mailEvent(mail, {
          type: 'delivered',
          providerEventId: `delivery:${mail.messageId}:${recipientKey(address)}`,
          occurredAt,
          recipient: address,
        });
      });
    }
    case 'Open': {
      const { mail, open } = parseMessage(openSchema, message, kind);
      const occurredAt = isoTime(open.timestamp, snsTimestamp);
      return destinations(mail).map((address) =>
        mailEvent(mail, {
          type: 'opened',
          providerEventId: `open:${mail.messageId}:${open.timestamp}:${recipientKey(address)}`,
          occurredAt,
          recipient: address,
        }),
      );
    }
    case 'Click': {
      const { mail, click } = parseMessage(clickSchema, message, kind);
      const occurredAt = isoTime(click.timestamp, snsTimestamp);
      const link = recipientKey(click.link);
      return destinations(mail).map((address) =>
        mailEvent(mail, {
          type: 'clicked',
          providerEventId: `click:${mail.messageId}:${click.timestamp}:${link}:${recipientKey(address)}`,
          occurredAt,
          recipient: address,
          url: click.link,
        }),
      );
    }
    case 'Subscription': {
      const { mail, subscription } = parseMessage(subscriptionSchema, message, kind);
      if (subscription.newTopicPreferences?.unsubscribeAll !== true) return [];
      const occurredAt = isoTime(subscription.timestamp, snsTimestamp);
      return destinations(mail).map((address) =>
        mailEvent(mail, {
          type: 'unsubscribed',
          providerEventId: `unsubscribe:${mail.messageId}:${subscription.timestamp}:${recipientKey(address)}`,
          occurredAt,
          recipient: address,
        }),
      );
    }
    case 'Received':
      return receivedSignals(message, snsTimestamp);
    default:
      // Send, Reject, DeliveryDelay, Rendering Failure, AmazonSnsSubscriptionSucceeded, ...:
      // nothing Leadstage uses.
      return [];
  }
}

function receivedSignals(message: unknown, snsTimestamp: string): ReplySignal[] {
  const { mail, receipt, content } = parseMessage(receivedSchema, message, 'Received');
  // Mail SES itself judged to be spam or a virus is not an answer from a person.
  if (receipt?.spamVerdict?.status === 'FAIL' || receipt?.virusVerdict?.status === 'FAIL')
    return [];

  const raw = content === undefined ? undefined : binaryString(Buffer.from(content, 'utf8'));
  const headers = mail.headers ?? (raw === undefined ? [] : splitMessage(raw).headers);
  if (isAutomaticMail((name) => headerValue(headers, name))) return [];
  const common = mail.commonHeaders;

  const from =
    (common?.from ?? []).flatMap((value) => addressList(value))[0] ??
    addressList(headerValue(headers, 'From'))[0] ??
    (mail.source === undefined ? undefined : bareAddress(mail.source));
  if (from === undefined) {
    throw new WebhookFormatError('SES Received notification has no sender', [
      { pointer: '/Message', detail: '/mail/commonHeaders/from: no email address' },
    ]);
  }
  // Envelope recipients first: that is where our `reply+<token>@` address surely is.
  const to = unique([
    ...(receipt?.recipients ?? []).flatMap((value) => addressList(value)),
    ...(common?.to ?? addressList(headerValue(headers, 'To'))).flatMap((value) =>
      addressList(value),
    ),
    ...(common?.cc ?? addressList(headerValue(headers, 'Cc'))).flatMap((value) =>
      addressList(value),
    ),
    ...destinations(mail),
  ]);

  const signal: ReplySignal = {
    type: 'reply',
    providerEventId: `received:${mail.messageId}`,
    occurredAt: isoTime(receipt?.timestamp ?? mail.timestamp, snsTimestamp),
    from,
    to,
    references: messageIds(headerValue(headers, 'References')),
  };
  const replyToken = replyTokenFrom(to);
  if (replyToken !== undefined) signal.replyToken = replyToken;
  const inReplyTo = messageIds(headerValue(headers, 'In-Reply-To'))[0];
  if (inReplyTo !== undefined) signal.inReplyTo = inReplyTo;
  const text = raw === undefined ? undefined : plainTextOf(raw);
  if (text !== undefined) {
    const stripped = stripQuotedText(text);
    if (stripped !== '') signal.strippedText = stripped;
  }
  return [signal];
}

// ---------------------------------------------------------------------------------------------
// The adapter

function decodeJson(body: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch (error) {
    throw new WebhookFormatError('body is not UTF-8', [{ pointer: '', detail: 'not UTF-8' }], {
      cause: error,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new WebhookFormatError(
      'body is not an SNS message (JSON)',
      [{ pointer: '', detail: 'not JSON' }],
      { cause: error },
    );
  }
}

function parseEnvelope(json: unknown): SnsEnvelope {
  if (
    json !== null &&
    typeof json === 'object' &&
    !('Type' in json) &&
    ('notificationType' in json || 'eventType' in json)
  ) {
    // SNS "raw message delivery" posts the SES JSON without envelope, hence without signature.
    throw new WebhookAuthError(
      'unsigned SES notification: disable raw message delivery on the SNS subscription',
    );
  }
  const result = snsEnvelopeSchema.safeParse(json);
  if (!result.success) {
    throw new WebhookFormatError(
      'body is not an SNS message',
      result.error.issues.map((issue) => ({ pointer: pointer(issue.path), detail: issue.message })),
    );
  }
  const envelope = result.data;
  if (!MESSAGE_TYPES.has(envelope.Type)) {
    throw new WebhookFormatError('unknown SNS message type', [
      { pointer: '/Type', detail: `expected one of ${[...MESSAGE_TYPES].join(', ')}` },
    ]);
  }
  if (envelope.Type !== 'Notification') {
    const missing = (['SubscribeURL', 'Token'] as const).filter(
      (name) => typeof envelope[name] !== 'string' || envelope[name] === '',
    );
    if (missing.length > 0) {
      throw new WebhookFormatError(
        `SNS ${envelope.Type} is missing fields`,
        missing.map((name) => ({ pointer: `/${name}`, detail: 'required' })),
      );
    }
  }
  return envelope;
}

/** Creates the `ses` adapter. Throws a ZodError for an invalid config (at startup). */
export function createSesAdapter(config: SesConfig): EmailProviderAdapter {
  const parsed = sesConfigSchema.parse(config);
  const topics = new Set(parsed.topicArns);
  const toleranceMs =
    (parsed.timestampToleranceSeconds ?? SES_DEFAULT_TIMESTAMP_TOLERANCE_SECONDS) * 1000;
  const certificates = new Map<string, Promise<X509Certificate>>();

  function certificate(url: string, context: ProviderContext): Promise<X509Certificate> {
    const cached = certificates.get(url);
    if (cached !== undefined) return cached;
    const loading = (async () => {
      let pem: string;
      try {
        pem = await context.fetchText(url);
      } catch (error) {
        // Not the sender's fault and maybe transient: a plain error (5xx) makes SNS retry.
        throw new Error(`could not fetch the SNS signing certificate ${url}`, { cause: error });
      }
      try {
        return new X509Certificate(pem);
      } catch (error) {
        throw new WebhookAuthError('SNS signing certificate is not a certificate', {
          cause: error,
        });
      }
    })();
    certificates.set(url, loading);
    while (certificates.size > CERT_CACHE_MAX) {
      const oldest = certificates.keys().next().value;
      if (oldest === undefined) break;
      certificates.delete(oldest);
    }
    loading.catch(() => {
      if (certificates.get(url) === loading) certificates.delete(url);
    });
    return loading;
  }

  async function verify(envelope: SnsEnvelope, context: ProviderContext): Promise<void> {
    if (!topics.has(envelope.TopicArn)) {
      throw new WebhookAuthError('SNS topic is not on the allow-list');
    }
    const region = topicRegion(envelope.TopicArn);
    if (region === undefined) throw new WebhookAuthError('SNS TopicArn is not a topic ARN');
    const algorithm =
      envelope.SignatureVersion === '1'
        ? 'RSA-SHA1'
        : envelope.SignatureVersion === '2'
          ? 'RSA-SHA256'
          : undefined;
    if (algorithm === undefined) throw new WebhookAuthError('unsupported SNS SignatureVersion');

    const published = Date.parse(envelope.Timestamp);
    if (Number.isNaN(published)) {
      throw new WebhookFormatError('SNS Timestamp is not a date', [
        { pointer: '/Timestamp', detail: 'expected an ISO 8601 time' },
      ]);
    }
    const now = context.now();
    if (Math.abs(now.getTime() - published) > toleranceMs) {
      throw new WebhookAuthError('SNS message timestamp is outside the accepted window');
    }

    const certUrl = checkSnsUrl(envelope.SigningCertURL, region, 'SigningCertURL', true);
    const cert = await certificate(certUrl, context);
    if (now < cert.validFromDate || now > cert.validToDate) {
      throw new WebhookAuthError('SNS signing certificate is not valid now');
    }
    let valid = false;
    try {
      valid = createVerify(algorithm)
        .update(snsStringToSign(envelope), 'utf8')
        .verify(cert.publicKey, Buffer.from(envelope.Signature, 'base64'));
    } catch {
      valid = false;
    }
    if (!valid) throw new WebhookAuthError('SNS message signature does not verify');
  }

  return {
    name: 'ses',
    async handle(request: RawWebhookRequest, context: ProviderContext): Promise<ProviderOutcome> {
      const envelope = parseEnvelope(decodeJson(request.body));
      await verify(envelope, context);

      if (envelope.Type === 'SubscriptionConfirmation') {
        const region = topicRegion(envelope.TopicArn) ?? '';
        const subscribeUrl = checkSnsUrl(
          envelope.SubscribeURL ?? '',
          region,
          'SubscribeURL',
          false,
        );
        try {
          await context.fetchText(subscribeUrl);
        } catch (error) {
          // Answered 5xx so that SNS sends the confirmation again.
          throw new Error('could not confirm the SNS subscription', { cause: error });
        }
        return { kind: 'handshake', message: `subscription to ${envelope.TopicArn} confirmed` };
      }
      if (envelope.Type === 'UnsubscribeConfirmation') {
        return { kind: 'handshake', message: `unsubscribed from ${envelope.TopicArn}` };
      }

      let message: unknown;
      try {
        message = JSON.parse(envelope.Message) as unknown;
      } catch (error) {
        throw new WebhookFormatError(
          'SNS Message is not an SES notification (JSON)',
          [{ pointer: '/Message', detail: 'not JSON' }],
          { cause: error },
        );
      }
      const snsTimestamp = new Date(Date.parse(envelope.Timestamp)).toISOString();
      return { kind: 'signals', signals: sesSignals(message, snsTimestamp) };
    },
  };
}
