import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ApiDeps } from '../deps.ts';
import { verifyGenericWebhook } from '../email/providers/generic.ts';
import { replyExcerpt, stripQuotedText } from '../email/reply-text.ts';
import { signalsToEnvelopes } from '../email/to-envelopes.ts';
import { type RawWebhookRequest, WebhookAuthError, WebhookFormatError } from '../email/types.ts';
import { problem } from '../problem.ts';
import { createRouter } from '../router.ts';
import { problemResponse } from '../schemas.ts';

export const EMAIL_PROVIDERS = ['postmark', 'mailgun', 'sendgrid', 'ses', 'generic'] as const;

const acceptedSchema = z
  .object({
    accepted: z.number().int().openapi({ description: 'Events queued' }),
    skipped: z
      .number()
      .int()
      .openapi({ description: 'Events the provider sent that Leadstage does not use' }),
  })
  .openapi('WebhookAccepted');

const webhookRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks/email/{provider}',
  summary: 'Receive an email provider webhook',
  description:
    'Each provider posts in its own wire format and proves itself its own way: Postmark with HTTP ' +
    'basic auth, Mailgun with its HMAC signature, SendGrid with its ECDSA-signed Event Webhook ' +
    '(Inbound Parse with its signed security policy or basic auth), SES through SNS with SNS ' +
    'message signatures, and `generic` ' +
    'with Standard Webhooks. See docs/providers.md.',
  request: {
    params: z.object({ provider: z.enum(EMAIL_PROVIDERS) }),
    body: {
      description: "The provider's own payload (JSON, urlencoded or multipart)",
      content: {
        'application/json': { schema: z.unknown() },
        'multipart/form-data': { schema: z.unknown() },
      },
    },
  },
  responses: {
    200: {
      description: 'Verified and queued.',
      content: { 'application/json': { schema: acceptedSchema } },
    },
    400: problemResponse("Not in the provider's format."),
    401: problemResponse(
      'Not proven to come from the provider (signature, credentials, timestamp, replay).',
    ),
    404: problemResponse('Unknown provider, or not configured in this deployment.'),
    413: problemResponse('The body is too large.'),
  },
});

async function rawRequest(c: Context): Promise<RawWebhookRequest> {
  const headers: Record<string, string> = {};
  c.req.raw.headers.forEach((value, name) => {
    headers[name.toLowerCase()] = value;
  });
  return {
    method: c.req.method,
    url: c.req.url,
    headers,
    body: new Uint8Array(await c.req.arrayBuffer()),
  };
}

/** `POST /v1/webhooks/email/{provider}`: verify, parse, normalize, enqueue; no storage on this path. */
export function emailWebhookRoutes(deps: ApiDeps) {
  const router = createRouter();
  router.openAPIRegistry.registerPath(webhookRoute);

  router.post('/v1/webhooks/email/:provider', async (c) => {
    const provider = c.req.param('provider');
    const adapter = deps.emailAdapters.get(provider);
    const generic = provider === 'generic' ? deps.config.providers.generic : undefined;
    if (adapter === undefined && generic === undefined) {
      return problem(c, 404, {
        type: '/problems/unknown-provider',
        title: 'Unknown provider',
        detail: (EMAIL_PROVIDERS as readonly string[]).includes(provider)
          ? `The provider "${provider}" is not configured in this deployment (see docs/providers.md).`
          : `No email provider named "${provider}"; known: ${EMAIL_PROVIDERS.join(', ')}.`,
      });
    }
    const request = await rawRequest(c);
    // Replay keys are recorded only for a request that was queued: when queueing fails the
    // provider retries with the same signature, and that retry must get in.
    const usedKeys: string[] = [];
    const shared = deps.providerContext.replayGuard;
    const replayGuard = {
      firstUse: (key: string, ttlMs: number) => {
        const first = shared.firstUse(key, ttlMs);
        if (first) usedKeys.push(key);
        return first;
      },
      release: (key: string) => shared.release(key),
    };
    const context = { ...deps.providerContext, replayGuard };
    try {
      let envelopes: string[];
      let skipped = 0;
      if (generic !== undefined) {
        const items = verifyGenericWebhook(request, generic, replayGuard);
        envelopes = items.map((item) => {
          if (item.type === 'event') return JSON.stringify({ v: 1, event: item.event });
          const { reply } = item;
          const text = reply.text === undefined ? '' : stripQuotedText(reply.text);
          return JSON.stringify({
            v: 1,
            reply: {
              id: reply.id,
              occurredAt: reply.occurredAt,
              source: 'generic',
              from: reply.from,
              ...(reply.replyToken ? { replyToken: reply.replyToken } : {}),
              ...(reply.inReplyTo ? { inReplyTo: reply.inReplyTo } : {}),
              references: reply.references,
              ...(text ? { excerpt: replyExcerpt(text) } : {}),
            },
          });
        });
      } else {
        const outcome = await (adapter as NonNullable<typeof adapter>).handle(request, context);
        if (outcome.kind === 'handshake') {
          deps.logger.info('provider handshake', { provider, message: outcome.message });
          return c.json({ accepted: 0, skipped: 0 }, 200);
        }
        ({ envelopes, skipped } = signalsToEnvelopes(provider, outcome.signals));
      }
      if (envelopes.length > 0) await deps.ingestQueue.sendBatch(envelopes);
      deps.logger.info('provider webhook queued', {
        provider,
        accepted: envelopes.length,
        skipped,
      });
      return c.json({ accepted: envelopes.length, skipped }, 200);
    } catch (error) {
      if (!(error instanceof WebhookAuthError || error instanceof WebhookFormatError)) {
        for (const key of usedKeys) shared.release(key);
      }
      if (error instanceof WebhookAuthError) {
        deps.logger.warn('provider webhook refused', { provider, reason: error.message });
        return problem(c, 401, {
          type: '/problems/webhook-unauthenticated',
          title: 'Webhook not authenticated',
          detail: error.message,
        });
      }
      if (error instanceof WebhookFormatError) {
        return problem(c, 400, {
          type: '/problems/webhook-format',
          title: "Not in the provider's format",
          detail: error.message,
          ...(error.issues.length > 0 ? { errors: error.issues } : {}),
        });
      }
      throw error;
    }
  });
  return router;
}
