import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { z } from 'zod';
import { type LeadEventInput, leadEventSchema } from '../../../domain/events.ts';
import { toPointer } from '../../problem.ts';
import type { RawWebhookRequest, ReplayGuard } from '../types.ts';
import { WebhookAuthError, WebhookFormatError } from '../types.ts';

export const genericConfigSchema = z
  .object({
    /** The Standard Webhooks signing secret (`whsec_...`) the sender signs with. */
    secret: z.string().regex(/^whsec_[A-Za-z0-9+/=]{32,}$/, 'a whsec_ secret of at least 24 bytes'),
  })
  .strict();
export type GenericConfig = z.output<typeof genericConfigSchema>;

/** A reply in the generic format; matched to its contact like every provider's replies. */
const genericReplySchema = z.object({
  kind: z.literal('reply'),
  id: z.string().min(1).max(200),
  occurredAt: z.iso.datetime({ offset: true }),
  from: z.email().max(254),
  to: z.array(z.email().max(254)).max(50).default([]),
  replyToken: z.string().min(1).max(200).optional(),
  inReplyTo: z.string().min(1).max(998).optional(),
  references: z.array(z.string().min(1).max(998)).max(100).default([]),
  /** The reply text with quoted history already stripped, or the whole text (it is stripped here). */
  text: z.string().max(100_000).optional(),
});
export type GenericReply = z.output<typeof genericReplySchema>;

/** The items a generic webhook may carry: any domain event, or a reply to match. */
export type GenericItem =
  | { type: 'event'; event: LeadEventInput }
  | { type: 'reply'; reply: GenericReply };

const MAX_ITEMS = 500;
const listSchema = z.object({ events: z.array(z.unknown()).min(1).max(MAX_ITEMS) });

/** How long a `webhook-id` is remembered to refuse a replay (the spec's timestamp tolerance). */
const REPLAY_TTL_MS = 5 * 60 * 1000;

/**
 * Leadstage's own format for anything else: a Standard Webhooks signed POST whose JSON body
 * is one item or `{"events": [...]}`; an item is a domain event (docs/stages.md kinds) or
 * `{"kind": "reply", ...}`. Event ids are namespaced (`generic_`) so they cannot collide
 * with ours.
 */
export function verifyGenericWebhook(
  request: RawWebhookRequest,
  config: GenericConfig,
  replayGuard: ReplayGuard,
): GenericItem[] {
  const text = new TextDecoder().decode(request.body);
  const headers = {
    'webhook-id': request.headers['webhook-id'] ?? '',
    'webhook-timestamp': request.headers['webhook-timestamp'] ?? '',
    'webhook-signature': request.headers['webhook-signature'] ?? '',
  };
  try {
    // Verifies the HMAC in constant time and the timestamp within 5 minutes; the body is
    // parsed below, so that a body that is not JSON is a format error, not an auth error.
    new Webhook(config.secret).verify(text, headers, { jsonParse: false });
  } catch (error) {
    const reason = error instanceof WebhookVerificationError ? error.message : 'invalid signature';
    throw new WebhookAuthError(`Standard Webhooks verification failed: ${reason}`, {
      cause: error,
    });
  }
  if (!replayGuard.firstUse(`generic:${headers['webhook-id']}`, REPLAY_TTL_MS)) {
    throw new WebhookAuthError('this webhook-id was already received (replay)');
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new WebhookFormatError(
      'The body is not valid JSON.',
      [{ pointer: '#', detail: 'not valid JSON' }],
      { cause: error },
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new WebhookFormatError('The body must be one item or {"events": [...]}.', [
      { pointer: '#', detail: 'must be an object' },
    ]);
  }
  const isList = Object.hasOwn(json, 'events');
  const list = listSchema.safeParse(json);
  if (isList && !list.success) {
    throw new WebhookFormatError(
      `"events" must hold 1 to ${MAX_ITEMS} items.`,
      list.error.issues.map((issue) => ({ pointer: toPointer(issue.path), detail: issue.message })),
    );
  }
  const raw: unknown[] = isList && list.success ? list.data.events : [json];
  const items: GenericItem[] = [];
  const issues: { pointer: string; detail: string }[] = [];
  raw.forEach((item, index) => {
    const base = isList ? ['events', index] : [];
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      issues.push({ pointer: toPointer(base), detail: 'must be an object' });
      return;
    }
    const record = item as Record<string, unknown>;
    // Namespaced before validation, so the id that is checked is the id that is queued.
    const id = typeof record.id === 'string' ? `generic_${record.id}` : record.id;
    if (record.kind === 'reply') {
      const parsed = genericReplySchema.safeParse({ ...record, id });
      if (parsed.success) items.push({ type: 'reply', reply: parsed.data });
      else
        for (const issue of parsed.error.issues)
          issues.push({ pointer: toPointer([...base, ...issue.path]), detail: issue.message });
    } else {
      const parsed = leadEventSchema.safeParse({ source: 'generic', ...record, id });
      if (parsed.success) items.push({ type: 'event', event: parsed.data });
      else
        for (const issue of parsed.error.issues)
          issues.push({ pointer: toPointer([...base, ...issue.path]), detail: issue.message });
    }
  });
  if (issues.length > 0) throw new WebhookFormatError('Some items are not valid.', issues);
  return items;
}
