import { createHash } from 'node:crypto';
import { type EventEnvelope, eventEnvelopeSchema } from '../../domain/events.ts';
import { replyExcerpt, stripQuotedText } from './reply-text.ts';
import type { EmailSignal } from './types.ts';

/**
 * A deterministic event id from the provider's own id: the provider's retry of the same
 * webhook gives the same id, which the classify step drops as a duplicate.
 */
export function providerEventId(provider: string, signal: EmailSignal): string {
  const recipient = signal.type === 'reply' ? '' : signal.recipient;
  const digest = createHash('sha256')
    .update(`${provider}\n${signal.type}\n${signal.providerEventId}\n${recipient}`)
    .digest('hex');
  return `${provider}_${digest.slice(0, 32)}`;
}

const EVENT_KIND = {
  delivered: 'email_delivered',
  opened: 'email_opened',
  clicked: 'email_clicked',
  bounced: 'email_bounced',
  complained: 'email_complained',
  unsubscribed: 'unsubscribed',
  resubscribed: 'resubscribed',
} as const;

/** Turns one provider signal into the ingest-queue envelope; only a short stripped excerpt of a reply is kept. */
export function signalToEnvelope(provider: string, signal: EmailSignal): EventEnvelope {
  const id = providerEventId(provider, signal);
  if (signal.type === 'reply') {
    const text =
      signal.strippedText === undefined ? undefined : stripQuotedText(signal.strippedText);
    return {
      v: 1,
      reply: {
        id,
        occurredAt: signal.occurredAt,
        source: provider,
        from: signal.from,
        ...(signal.replyToken === undefined ? {} : { replyToken: signal.replyToken }),
        ...(signal.inReplyTo === undefined ? {} : { inReplyTo: signal.inReplyTo }),
        references: signal.references,
        ...(text ? { excerpt: replyExcerpt(text) } : {}),
      },
    };
  }
  const base = {
    id,
    occurredAt: signal.occurredAt,
    email: signal.recipient,
    source: provider,
    ...(signal.messageId === undefined ? {} : { messageId: signal.messageId }),
  };
  switch (signal.type) {
    case 'bounced':
      return {
        v: 1,
        event: { ...base, kind: EVENT_KIND.bounced, bounceType: signal.bounceType ?? 'hard' },
      };
    case 'clicked':
      return {
        v: 1,
        event: { ...base, kind: EVENT_KIND.clicked, ...(signal.url ? { url: signal.url } : {}) },
      };
    case 'resubscribed': {
      const { messageId: _ignored, ...rest } = base;
      return { v: 1, event: { ...rest, kind: EVENT_KIND.resubscribed } };
    }
    default:
      return { v: 1, event: { ...base, kind: EVENT_KIND[signal.type] } };
  }
}

/**
 * Envelopes for every usable signal. A signal the domain cannot take (a recipient that is
 * no email address, say) is counted as skipped rather than failing the whole batch, which
 * the provider would otherwise retry for days.
 */
export function signalsToEnvelopes(
  provider: string,
  signals: readonly EmailSignal[],
): { envelopes: string[]; skipped: number } {
  const envelopes: string[] = [];
  let skipped = 0;
  for (const signal of signals) {
    const envelope = signalToEnvelope(provider, signal);
    const parsed = eventEnvelopeSchema.safeParse(envelope);
    if (parsed.success) envelopes.push(JSON.stringify(parsed.data));
    else skipped += 1;
  }
  return { envelopes, skipped };
}
