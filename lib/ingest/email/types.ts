/**
 * The contract every email-provider adapter implements. An adapter turns one verified
 * webhook request in the provider's own wire format into provider-neutral email signals;
 * the route turns those into domain events. Adapters never touch storage or queues.
 */

/** The raw request as it arrived: signatures are computed over these exact bytes. */
export interface RawWebhookRequest {
  method: string;
  /** The full request URL (scheme, host, path, query) as the client used it. */
  url: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** The body exactly as received. */
  body: Uint8Array;
}

/** A reply to one of our mails: resolved to a contact later, by token, thread headers or sender. */
export interface ReplySignal {
  type: 'reply';
  /** The provider's own id for this message or event (e.g. Message-ID); makes the event id deterministic. */
  providerEventId: string;
  occurredAt: string;
  /** The sender's address (who replied). */
  from: string;
  /** Recipient addresses (where a `reply+<token>@` address shows up). */
  to: string[];
  /** A token from the recipient's plus-address or the provider's mailbox hash, when present. */
  replyToken?: string;
  /** The `In-Reply-To` message id, without angle brackets. */
  inReplyTo?: string;
  /** The `References` message ids, without angle brackets, oldest first. */
  references: string[];
  /** The reply text with quoted history stripped (provider field, else email-reply-parser). */
  strippedText?: string;
}

/** Something that happened to one of our outbound mails, for one recipient. */
export interface MailEventSignal {
  type:
    | 'delivered'
    | 'opened'
    | 'clicked'
    | 'bounced'
    | 'complained'
    | 'unsubscribed'
    | 'resubscribed';
  providerEventId: string;
  occurredAt: string;
  /** The recipient the event is about: the contact. */
  recipient: string;
  /** The outbound mail's Message-ID when the provider reports it (ties later replies to it). */
  messageId?: string;
  /** For `bounced`: permanent (hard) or temporary (soft). */
  bounceType?: 'hard' | 'soft';
  /** For `clicked`. */
  url?: string;
}

export type EmailSignal = ReplySignal | MailEventSignal;

/** What an adapter answers for one request. */
export type ProviderOutcome =
  /** Signals to enqueue (possibly none: an event kind we do not use), answered 2xx. */
  | { kind: 'signals'; signals: EmailSignal[] }
  /**
   * A handshake the provider needs answered and nothing to enqueue, e.g. SNS's
   * SubscriptionConfirmation (already confirmed by the adapter) or Postmark's inbound check.
   */
  | { kind: 'handshake'; message: string };

/** The request was not proven to come from the provider: answered 401, nothing enqueued. */
export class WebhookAuthError extends Error {
  override readonly name = 'WebhookAuthError';
}

/** The request is authentic (or unauthenticated) but not in the provider's format: 400. */
export class WebhookFormatError extends Error {
  override readonly name = 'WebhookFormatError';
  /** Field-level details, as JSON Pointers into the body where possible. */
  readonly issues: { pointer: string; detail: string }[];
  constructor(
    message: string,
    issues: { pointer: string; detail: string }[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.issues = issues;
  }
}

/**
 * Refuses a value seen before within its lifetime (e.g. Mailgun's signature token). A local
 * in-memory implementation is enough: a replay that slips past it (another Lambda instance)
 * still carries the provider's event id, so the classify step drops it as a duplicate.
 */
export interface ReplayGuard {
  /** Returns false when `key` was already seen and not yet expired; records it otherwise. */
  firstUse(key: string, ttlMs: number): boolean;
  /** Forgets `key`: the request that used it failed, so the provider's retry must be let in. */
  release(key: string): void;
}

/** Everything an adapter may use besides the request. */
export interface ProviderContext {
  now: () => Date;
  replayGuard: ReplayGuard;
  /** Fetches a URL's body as text (SNS signing certificates, SubscribeURL); injectable for tests. */
  fetchText: (url: string) => Promise<string>;
}

/** One email provider. */
export interface EmailProviderAdapter {
  readonly name: string;
  /** Verifies and parses; throws WebhookAuthError or WebhookFormatError. */
  handle(request: RawWebhookRequest, context: ProviderContext): Promise<ProviderOutcome>;
}
