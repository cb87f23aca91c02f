import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { SWEEP_GRACE_MS } from '../../delivery/deliver-handler.ts';
import { contactIdOfDelivery } from '../../delivery/ids.ts';
import type { DeliveryJob } from '../../delivery/job.ts';
import { postWebhook } from '../../delivery/send.ts';
import { generateSigningSecret, signDelivery } from '../../delivery/sign.ts';
import { checkWebhookTargetResolved } from '../../delivery/target-policy.ts';
import { STAGES } from '../../domain/stage.ts';
import { DELIVERY_STATUSES } from '../../store/delivery-status.ts';
import type {
  DeliveryRecord,
  DeliveryStatus,
  DeliverySummary,
} from '../../store/delivery-store.ts';
import { SubscriptionChangedError } from '../../store/errors.ts';
import {
  type SubscriptionRecord,
  signingSecrets,
  WEBHOOK_EVENT_TYPES,
} from '../../store/subscription-store.ts';
import { apiKeyAuth } from '../api-key-auth.ts';
import type { ApiDeps } from '../deps.ts';
import { problem } from '../problem.ts';
import { createRouter } from '../router.ts';
import {
  answerPage,
  bearerSecurity,
  deliveryAttemptSchema,
  deliverySchema,
  deliveryView,
  jsonResponse,
  pageOf,
  pageQuery,
  problemResponse,
  unauthorizedResponse,
} from '../schemas.ts';

/** How long a rotated-out secret keeps signing unless the request says otherwise: one day. */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 86_400;
/** The longest overlap a rotation may ask for: seven days. */
export const MAX_SECRET_OVERLAP_SECONDS = 7 * 86_400;
/** A ping waits this long for the endpoint; well inside the API function's 10 s timeout. */
export const PING_TIMEOUT_MS = 5_000;
/** The widest range one replay may cover. */
export const MAX_REPLAY_RANGE_DAYS = 31;
/** The most deliveries one replay resumes; the answer says when there were more. */
export const MAX_REPLAY_DELIVERIES = 10_000;
/** Page size while collecting a subscription's deliveries to resume. */
const COLLECT_PAGE_SIZE = 1_000;
/** Resumes written at once (each is one conditional UpdateItem). */
const RESUME_CONCURRENCY = 25;
/**
 * Reads and conditional writes an edit makes before it answers 409. Other writes are rare: the
 * deliver workers' health writes (a healthy endpoint's at most once a minute), other edits.
 */
const EDIT_ATTEMPTS = 8;

const DISABLED_REASONS = ['gone', 'failing', 'manual'] as const;

const urlSchema = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .openapi({ example: 'https://crm.example.com/hooks/leadstage' });
const descriptionSchema = z
  .string()
  .max(500)
  .openapi({ description: 'A note for people: what this endpoint is.', example: 'HubSpot sync' });
const eventTypesSchema = z
  .array(z.enum(WEBHOOK_EVENT_TYPES))
  .min(1)
  .max(10)
  .openapi({ description: 'Only these event types are sent; every type when absent.' });
const stagesSchema = z
  .array(z.enum(STAGES))
  .min(1)
  .max(20)
  .openapi({
    description:
      'Only stage changes TO these stages are sent; every stage when absent. ' +
      '`contact.erased` is not filtered by stage.',
  });

const createBodySchema = z
  .strictObject({
    url: urlSchema,
    description: descriptionSchema.optional(),
    eventTypes: eventTypesSchema.optional(),
    stages: stagesSchema.optional(),
  })
  .openapi('SubscriptionCreate');

const updateBodySchema = z
  .strictObject({
    url: urlSchema.optional(),
    description: descriptionSchema
      .nullable()
      .optional()
      .openapi({ description: '`null` clears it.' }),
    eventTypes: eventTypesSchema
      .nullable()
      .optional()
      .openapi({ description: 'Only these event types; `null` for every type.' }),
    stages: stagesSchema
      .nullable()
      .optional()
      .openapi({ description: 'Only stage changes to these stages; `null` for every stage.' }),
    enabled: z
      .boolean()
      .optional()
      .openapi({
        description:
          '`false` disables it (`disabledReason: manual`): its deliveries still to be sent are ' +
          'paused, and changes made while it is disabled are not delivered to it. `true` enables ' +
          'it, clears `disabledReason` and `failingSince`, and resumes every paused delivery ' +
          '(the sweeper sends them within about a minute).',
      }),
  })
  .openapi('SubscriptionUpdate');

const subscriptionSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().optional(),
    eventTypes: z.array(z.enum(WEBHOOK_EVENT_TYPES)).optional(),
    stages: z.array(z.enum(STAGES)).optional(),
    enabled: z.boolean(),
    disabledReason: z
      .enum(DISABLED_REASONS)
      .optional()
      .openapi({
        description:
          '`gone`: the endpoint answered 410; `failing`: 5 days of failures; `manual`: disabled ' +
          'through this API.',
      }),
    failingSince: z
      .string()
      .optional()
      .openapi({ description: 'When the current run of failed attempts began.' }),
    lastSuccessAt: z.string().optional().openapi({
      description:
        'The last successful delivery, to the minute (a healthy endpoint is not rewritten per webhook).',
    }),
    previousSecretsExpireAt: z.array(z.string()).optional().openapi({
      description: 'When the secrets replaced by a rotation stop signing (while any still do).',
    }),
    createdAt: z.string(),
  })
  .openapi('Subscription');

const createdSchema = subscriptionSchema
  .extend({
    secret: z
      .string()
      .openapi({ description: 'The signing secret (`whsec_...`). Shown only here, once.' }),
  })
  .openapi('SubscriptionCreated');

const rotatedSchema = subscriptionSchema
  .extend({
    secret: z
      .string()
      .openapi({ description: 'The new signing secret (`whsec_...`). Shown only here, once.' }),
  })
  .openapi('SubscriptionSecretRotated');

const updatedSchema = subscriptionSchema
  .extend({
    resumed: z.number().int().optional().openapi({
      description: 'With `enabled: true`: how many paused deliveries were resumed.',
    }),
  })
  .openapi('SubscriptionUpdated');

const rotateBodySchema = z
  .strictObject({
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_SECRET_OVERLAP_SECONDS)
      .optional()
      .openapi({
        description:
          'How long the old secret keeps signing beside the new one (default 86400, one day; ' +
          'at most 7 days; 0 drops it at once).',
        example: DEFAULT_SECRET_OVERLAP_SECONDS,
      }),
  })
  .openapi('SecretRotation');

const pingResultSchema = z
  .object({
    ok: z.boolean().openapi({ description: 'The endpoint answered 2xx.' }),
    statusCode: z.number().int().optional(),
    latencyMs: z.number().int(),
    error: z
      .string()
      .optional()
      .openapi({ description: 'Why there was no answer (refused target, timeout, ...).' }),
  })
  .openapi('PingResult');

const deliveryPageSchema = pageOf(deliverySchema, 'DeliveryPage');

const replayBodySchema = z
  .strictObject({
    from: z.iso.datetime({ offset: true }).openapi({ example: '2025-03-01T00:00:00Z' }),
    to: z.iso.datetime({ offset: true }).openapi({ example: '2025-03-02T00:00:00Z' }),
  })
  .openapi('ReplayRequest');

const idParams = z.object({ id: z.string().min(1).max(64) });
const deliveryParams = idParams.extend({
  deliveryId: z
    .string()
    .min(1)
    .max(128)
    .openapi({ example: 'msg_97f63aac346999c85faa4657_1a2b3c4d5e6f' }),
});
const invalidDeliveryId = {
  type: '/problems/validation',
  title: 'Invalid request',
  detail: 'Not a delivery id of this API.',
  errors: [{ pointer: '#/deliveryId', detail: 'not a delivery id (msg_<24 hex>_<12 hex>)' }],
};
const noDelivery = (subscriptionId: string, deliveryId: string) => ({
  type: '/problems/not-found',
  title: 'Not found',
  detail: `Subscription "${subscriptionId}" has no delivery "${deliveryId}".`,
});
const notFound = problemResponse('No subscription with this id.');

const createSubscriptionRoute = createRoute({
  method: 'post',
  path: '/v1/subscriptions',
  summary: 'Subscribe a URL to stage changes',
  security: bearerSecurity,
  request: {
    body: { required: true, content: { 'application/json': { schema: createBodySchema } } },
  },
  responses: {
    201: jsonResponse(createdSchema, 'Created; the secret is in this response only.'),
    400: problemResponse('The body is not valid, or the URL is not an allowed target.'),
    401: unauthorizedResponse,
  },
});

const listSubscriptionsRoute = createRoute({
  method: 'get',
  path: '/v1/subscriptions',
  summary: 'List the subscriptions with their health (never their secrets)',
  security: bearerSecurity,
  responses: {
    200: jsonResponse(
      z.object({ items: z.array(subscriptionSchema) }).openapi('SubscriptionList'),
      'Every subscription, oldest first.',
    ),
    401: unauthorizedResponse,
  },
});

const getSubscriptionRoute = createRoute({
  method: 'get',
  path: '/v1/subscriptions/{id}',
  summary: 'Get a subscription',
  security: bearerSecurity,
  request: { params: idParams },
  responses: {
    200: jsonResponse(subscriptionSchema, 'The subscription (without its secret).'),
    401: unauthorizedResponse,
    404: notFound,
  },
});

const updateSubscriptionRoute = createRoute({
  method: 'patch',
  path: '/v1/subscriptions/{id}',
  summary: 'Change, disable or enable a subscription',
  description:
    'Only the fields given change. A new URL is checked like one at create. Enabling resumes ' +
    'every paused delivery; sending `enabled: true` again resumes any left paused.',
  security: bearerSecurity,
  request: {
    params: idParams,
    body: { required: true, content: { 'application/json': { schema: updateBodySchema } } },
  },
  responses: {
    200: jsonResponse(updatedSchema, 'The subscription as it is now.'),
    400: problemResponse('The body is not valid, or the URL is not an allowed target.'),
    401: unauthorizedResponse,
    404: notFound,
    409: problemResponse(
      'The subscription kept changing while this was applied (edits, a rotation); send it again.',
    ),
  },
});

const deleteSubscriptionRoute = createRoute({
  method: 'delete',
  path: '/v1/subscriptions/{id}',
  summary: 'Delete a subscription',
  security: bearerSecurity,
  request: { params: idParams },
  responses: {
    204: { description: 'Deleted; its undelivered webhooks are cancelled.' },
    401: unauthorizedResponse,
    404: notFound,
  },
});

const rotateSecretRoute = createRoute({
  method: 'post',
  path: '/v1/subscriptions/{id}/rotate-secret',
  summary: 'Replace the signing secret; the old one keeps signing for a while',
  description:
    'During the overlap every webhook carries two signatures (Standard Webhooks), so the ' +
    'receiver can switch to the new secret at any time within it.',
  security: bearerSecurity,
  request: {
    params: idParams,
    body: { required: false, content: { 'application/json': { schema: rotateBodySchema } } },
  },
  responses: {
    200: jsonResponse(rotatedSchema, 'Rotated; the new secret is in this response only.'),
    400: problemResponse('The body is not valid.'),
    401: unauthorizedResponse,
    404: notFound,
    409: problemResponse(
      'The subscription kept changing while this was applied (edits, a rotation); send it again.',
    ),
  },
});

const pingRoute = createRoute({
  method: 'post',
  path: '/v1/subscriptions/{id}/ping',
  summary: 'Send a signed `webhook.ping` to the endpoint now and report the answer',
  description:
    'The body is `{"type":"webhook.ping","timestamp":...,"data":{"subscriptionId":...}}`, signed ' +
    'like every delivery, with a `webhook-id` starting `ping_`. Works on a disabled ' +
    `subscription too and does not change its health. Waits at most ${PING_TIMEOUT_MS / 1000} s.`,
  security: bearerSecurity,
  request: { params: idParams },
  responses: {
    200: jsonResponse(pingResultSchema, 'What the endpoint answered (also when it failed).'),
    401: unauthorizedResponse,
    404: notFound,
  },
});

const listDeliveriesRoute = createRoute({
  method: 'get',
  path: '/v1/subscriptions/{id}/deliveries',
  summary: "A subscription's deliveries, newest first",
  security: bearerSecurity,
  request: {
    params: idParams,
    query: z.object({
      status: z.enum(DELIVERY_STATUSES).optional(),
      ...pageQuery,
    }),
  },
  responses: {
    200: jsonResponse(deliveryPageSchema, 'One page of deliveries.'),
    400: problemResponse('Bad status, limit or cursor.'),
    401: unauthorizedResponse,
    404: notFound,
  },
});

const deliveryDetailSchema = deliverySchema
  .extend({
    attempts: z
      .array(deliveryAttemptSchema)
      .openapi({ description: 'Every attempt, oldest first.' }),
    nextAttemptAt: z.string().optional(),
    message: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'The webhook body as sent.' }),
  })
  .openapi('DeliveryDetail');

const getDeliveryRoute = createRoute({
  method: 'get',
  path: '/v1/subscriptions/{id}/deliveries/{deliveryId}',
  summary: 'One delivery with every attempt (time, status code, latency, error, response excerpt)',
  security: bearerSecurity,
  request: { params: deliveryParams },
  responses: {
    200: jsonResponse(deliveryDetailSchema, 'The delivery.'),
    400: problemResponse('Not a delivery id of this API.'),
    401: unauthorizedResponse,
    404: problemResponse('No such subscription, or no such delivery of it.'),
  },
});

const redeliverRoute = createRoute({
  method: 'post',
  path: '/v1/subscriptions/{id}/deliveries/{deliveryId}/redeliver',
  summary: 'Send one delivery again, whatever its status',
  description:
    'The delivery becomes `pending` and its job is queued at once; it keeps its `webhook-id`, ' +
    'so a receiver that has it already can drop it. A disabled subscription keeps it paused ' +
    'until enabled.',
  security: bearerSecurity,
  request: { params: deliveryParams },
  responses: {
    202: jsonResponse(
      z.object({ deliveryId: z.string() }).openapi('RedeliveryAccepted'),
      'Queued for sending.',
    ),
    400: problemResponse('Not a delivery id of this API.'),
    401: unauthorizedResponse,
    404: problemResponse('No such subscription, or no such delivery of it.'),
  },
});

const replayRoute = createRoute({
  method: 'post',
  path: '/v1/subscriptions/{id}/replay',
  summary: 'Send again every delivery created in a time range',
  description:
    `Resumes every delivery of the subscription created in [from, to] (at most ` +
    `${MAX_REPLAY_RANGE_DAYS} days), whatever its status; the sweeper sends them over the ` +
    `next minutes. At most ${MAX_REPLAY_DELIVERIES} (the newest) per request: when \`capped\`, ` +
    'replay the earlier part of the range again.',
  security: bearerSecurity,
  request: {
    params: idParams,
    body: { required: true, content: { 'application/json': { schema: replayBodySchema } } },
  },
  responses: {
    202: jsonResponse(
      z
        .object({
          resumed: z.number().int(),
          capped: z.boolean().openapi({
            description: `More than ${MAX_REPLAY_DELIVERIES} deliveries were in the range.`,
          }),
        })
        .openapi('ReplayAccepted'),
      'Resumed; the sweeper sends them.',
    ),
    400: problemResponse('The body is not valid, or the range is reversed or too wide.'),
    401: unauthorizedResponse,
    404: notFound,
  },
});

function publicView(subscription: SubscriptionRecord, now: Date) {
  const current = now.toISOString();
  const previous = (subscription.previousSecrets ?? [])
    .filter((entry) => entry.expiresAt > current)
    .map((entry) => entry.expiresAt);
  return {
    id: subscription.id,
    url: subscription.url,
    ...(subscription.description !== undefined ? { description: subscription.description } : {}),
    ...(subscription.eventTypes !== undefined ? { eventTypes: subscription.eventTypes } : {}),
    ...(subscription.stages !== undefined ? { stages: subscription.stages } : {}),
    enabled: subscription.enabled,
    ...(subscription.disabledReason !== undefined
      ? { disabledReason: subscription.disabledReason }
      : {}),
    ...(subscription.failingSince !== undefined ? { failingSince: subscription.failingSince } : {}),
    ...(subscription.lastSuccessAt !== undefined
      ? { lastSuccessAt: subscription.lastSuccessAt }
      : {}),
    ...(previous.length > 0 ? { previousSecretsExpireAt: previous } : {}),
    createdAt: subscription.createdAt,
  };
}

/** The distinct values, in the order first given. */
const distinct = <T>(values: readonly T[]): T[] => [...new Set(values)];

/** Runs `task` for every item, at most `concurrency` at a time. */
async function forEachLimited<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

const invalidTarget = (refusal: string) => ({
  type: '/problems/validation',
  title: 'Invalid request',
  detail: 'The webhook URL is not an allowed target.',
  errors: [{ pointer: '#/url', detail: refusal }],
});

/** `/v1/subscriptions`: the CRM endpoints that receive signed stage changes (API key). */
export function subscriptionRoutes(deps: ApiDeps) {
  const router = createRouter();
  /** The subscription's delivery with this id; `invalid` for an id this API never made. */
  const findDelivery = async (
    subscriptionId: string,
    deliveryId: string,
  ): Promise<DeliveryRecord | 'invalid' | undefined> => {
    const contactId = contactIdOfDelivery(deliveryId);
    if (contactId === undefined) return 'invalid';
    const delivery = await deps.deliveries.get(contactId, deliveryId);
    return delivery?.subscriptionId === subscriptionId ? delivery : undefined;
  };
  router.use('/v1/subscriptions', apiKeyAuth(deps.apiKeyHashes));
  router.use('/v1/subscriptions/*', apiKeyAuth(deps.apiKeyHashes));
  const notFoundProblem = (id: string) => ({
    type: '/problems/not-found',
    title: 'Not found',
    detail: `No subscription with id "${id}".`,
  });

  const changedProblem = (id: string) => ({
    type: '/problems/subscription-busy',
    title: 'Subscription busy',
    detail: `Subscription "${id}" kept changing while this was applied; send it again.`,
  });

  /**
   * Applies `edit` to the subscription as read, and again to a fresh read whenever another
   * write came between (the deliver worker's health writes, a concurrent edit or rotation),
   * so that no write is lost. Undefined when the subscription was deleted meanwhile; `busy`
   * when it changed under every attempt.
   */
  async function editSubscription(
    read: SubscriptionRecord,
    edit: (current: SubscriptionRecord) => SubscriptionRecord,
  ): Promise<SubscriptionRecord | undefined | 'busy'> {
    let current = read;
    for (let attempt = 1; ; attempt++) {
      try {
        return await deps.subscriptions.replace(current, edit(current));
      } catch (error) {
        if (!(error instanceof SubscriptionChangedError)) throw error;
      }
      if (attempt >= EDIT_ATTEMPTS) return 'busy';
      const again = await deps.subscriptions.get(read.id);
      if (again === undefined) return undefined;
      current = again;
    }
  }

  /** Resolved now and again at every send: the address checked is the address connected to. */
  const checkTarget = (url: string) =>
    checkWebhookTargetResolved(url, {
      allowLocal: deps.allowLocalWebhookTargets,
      ...(deps.webhookResolver ? { resolver: deps.webhookResolver } : {}),
    });

  /**
   * Every delivery of the subscription the filter matches (newest first), at most `cap`.
   * Collected before anything is resumed: resuming changes statuses, which must not move the
   * pages of a status-filtered list under the loop.
   */
  async function collectDeliveries(
    subscriptionId: string,
    filter: { status?: DeliveryStatus; from?: string; to?: string },
    cap: number,
  ): Promise<{ found: DeliverySummary[]; capped: boolean }> {
    const found: DeliverySummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await deps.deliveries.listBySubscription(subscriptionId, {
        limit: COLLECT_PAGE_SIZE,
        ...filter,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      for (const item of page.items) {
        if (found.length >= cap) return { found, capped: true };
        found.push(item);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return { found, capped: false };
  }

  /** Makes each delivery pending, due at `sweepAt`; counts those that still existed. */
  async function resumeAll(found: readonly DeliverySummary[], sweepAt: string): Promise<number> {
    let resumed = 0;
    await forEachLimited(found, RESUME_CONCURRENCY, async (item) => {
      if (await deps.deliveries.resume(item.contactId, item.deliveryId, sweepAt)) resumed += 1;
    });
    return resumed;
  }

  return router
    .openapi(createSubscriptionRoute, async (c) => {
      const { url, description, eventTypes, stages } = c.req.valid('json');
      const refusal = await checkTarget(url);
      if (refusal !== undefined) return problem(c, 400, invalidTarget(refusal));
      const now = deps.now();
      const subscription: SubscriptionRecord = {
        id: `sub_${randomUUID().replaceAll('-', '')}`,
        url,
        ...(description !== undefined ? { description } : {}),
        ...(eventTypes !== undefined ? { eventTypes: distinct(eventTypes) } : {}),
        ...(stages !== undefined ? { stages: distinct(stages) } : {}),
        secret: generateSigningSecret(),
        enabled: true,
        createdAt: now.toISOString(),
      };
      await deps.subscriptions.put(subscription);
      deps.logger.info('subscription created', { subscriptionId: subscription.id });
      return c.json({ ...publicView(subscription, now), secret: subscription.secret }, 201);
    })
    .openapi(listSubscriptionsRoute, async (c) => {
      const now = deps.now();
      const items = (await deps.subscriptions.list())
        .sort((a, b) =>
          a.createdAt === b.createdAt
            ? a.id.localeCompare(b.id)
            : a.createdAt.localeCompare(b.createdAt),
        )
        .map((subscription) => publicView(subscription, now));
      return c.json({ items }, 200);
    })
    .openapi(getSubscriptionRoute, async (c) => {
      const { id } = c.req.valid('param');
      const subscription = await deps.subscriptions.get(id);
      if (subscription === undefined) return problem(c, 404, notFoundProblem(id));
      return c.json(publicView(subscription, deps.now()), 200);
    })
    .openapi(updateSubscriptionRoute, async (c) => {
      const { id } = c.req.valid('param');
      const changes = c.req.valid('json');
      const first = await deps.subscriptions.get(id);
      if (first === undefined) return problem(c, 404, notFoundProblem(id));
      // The URL asked for is checked once: a retry re-applies the same URL (the last edit wins).
      if (changes.url !== undefined && changes.url !== first.url) {
        const refusal = await checkTarget(changes.url);
        if (refusal !== undefined) return problem(c, 400, invalidTarget(refusal));
      }

      const now = deps.now();
      const edited = await editSubscription(first, (current) => {
        const updated: SubscriptionRecord = { ...current };
        if (changes.url !== undefined && changes.url !== current.url) {
          updated.url = changes.url;
          // A new endpoint starts with a clean failure record.
          delete updated.failingSince;
        }
        if (changes.description === null) delete updated.description;
        else if (changes.description !== undefined) updated.description = changes.description;
        if (changes.eventTypes === null) delete updated.eventTypes;
        else if (changes.eventTypes !== undefined)
          updated.eventTypes = distinct(changes.eventTypes);
        if (changes.stages === null) delete updated.stages;
        else if (changes.stages !== undefined) updated.stages = distinct(changes.stages);
        if (changes.enabled === false && current.enabled) {
          updated.enabled = false;
          updated.disabledReason = 'manual';
        } else if (changes.enabled === true && !current.enabled) {
          updated.enabled = true;
          delete updated.disabledReason;
          delete updated.failingSince;
        }
        return updated;
      });
      if (edited === undefined) return problem(c, 404, notFoundProblem(id));
      if (edited === 'busy') return problem(c, 409, changedProblem(id));
      const updated = edited;
      let resumed: number | undefined;
      if (changes.enabled === true) {
        // Enabled first, then resumed: the deliver worker must find it enabled when it sends.
        // Also when it was enabled already, so a delivery paused by a worker that read the
        // subscription before an earlier enable is not stuck.
        const { found } = await collectDeliveries(
          id,
          { status: 'paused' },
          Number.POSITIVE_INFINITY,
        );
        resumed = await resumeAll(found, now.toISOString());
      }
      deps.logger.info('subscription updated', {
        subscriptionId: id,
        fields: Object.keys(changes),
        ...(resumed !== undefined ? { resumed } : {}),
      });
      return c.json(
        { ...publicView(updated, now), ...(resumed !== undefined ? { resumed } : {}) },
        200,
      );
    })
    .openapi(deleteSubscriptionRoute, async (c) => {
      const { id } = c.req.valid('param');
      if (!(await deps.subscriptions.delete(id))) return problem(c, 404, notFoundProblem(id));
      deps.logger.info('subscription deleted', { subscriptionId: id });
      return c.body(null, 204);
    })
    .openapi(rotateSecretRoute, async (c) => {
      const { id } = c.req.valid('param');
      // An absent body is not parsed (the route's body is optional), so the default is set here.
      const overlapSeconds = c.req.valid('json').overlapSeconds ?? DEFAULT_SECRET_OVERLAP_SECONDS;
      const read = await deps.subscriptions.get(id);
      if (read === undefined) return problem(c, 404, notFoundProblem(id));
      const now = deps.now();
      const nowIso = now.toISOString();
      const edited = await editSubscription(read, (current) => {
        const previousSecrets = (current.previousSecrets ?? []).filter(
          (entry) => entry.expiresAt > nowIso,
        );
        if (overlapSeconds > 0) {
          previousSecrets.push({
            secret: current.secret,
            expiresAt: new Date(now.getTime() + overlapSeconds * 1000).toISOString(),
          });
        }
        const { previousSecrets: _old, ...rest } = current;
        return {
          ...rest,
          secret: generateSigningSecret(),
          ...(previousSecrets.length > 0 ? { previousSecrets } : {}),
        };
      });
      if (edited === undefined) return problem(c, 404, notFoundProblem(id));
      if (edited === 'busy') return problem(c, 409, changedProblem(id));
      const updated = edited;
      deps.logger.info('subscription secret rotated', { subscriptionId: id, overlapSeconds });
      return c.json({ ...publicView(updated, now), secret: updated.secret }, 200);
    })
    .openapi(pingRoute, async (c) => {
      const { id } = c.req.valid('param');
      const subscription = await deps.subscriptions.get(id);
      if (subscription === undefined) return problem(c, 404, notFoundProblem(id));
      const now = deps.now();
      const body = JSON.stringify({
        type: 'webhook.ping',
        timestamp: now.toISOString(),
        data: { subscriptionId: subscription.id },
      });
      const headers = signDelivery(
        { id: `ping_${randomUUID().replaceAll('-', '')}`, timestamp: now, body },
        signingSecrets(subscription, now),
      );
      const result = await postWebhook(
        {
          url: subscription.url,
          headers: { ...headers },
          body,
          timeoutMs: PING_TIMEOUT_MS,
          allowLocal: deps.allowLocalWebhookTargets,
          ...(deps.webhookResolver ? { resolver: deps.webhookResolver } : {}),
        },
        deps.now,
      );
      const { attempt } = result;
      deps.logger.info('subscription pinged', {
        subscriptionId: id,
        ok: result.ok,
        statusCode: attempt.statusCode,
        latencyMs: attempt.latencyMs,
      });
      return c.json(
        {
          ok: result.ok,
          ...(attempt.statusCode !== undefined ? { statusCode: attempt.statusCode } : {}),
          latencyMs: attempt.latencyMs,
          ...(attempt.error !== undefined ? { error: attempt.error } : {}),
        },
        200,
      );
    })
    .openapi(listDeliveriesRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { status, limit, cursor } = c.req.valid('query');
      if ((await deps.subscriptions.get(id)) === undefined) {
        return problem(c, 404, notFoundProblem(id));
      }
      return answerPage(
        c,
        () =>
          deps.deliveries.listBySubscription(id, {
            limit,
            ...(status !== undefined ? { status } : {}),
            ...(cursor !== undefined ? { cursor } : {}),
          }),
        deliveryView,
      );
    })
    .openapi(getDeliveryRoute, async (c) => {
      const { id, deliveryId } = c.req.valid('param');
      const delivery = await findDelivery(id, deliveryId);
      if (delivery === 'invalid') return problem(c, 400, invalidDeliveryId);
      if (delivery === undefined) return problem(c, 404, noDelivery(id, deliveryId));
      return c.json(
        {
          deliveryId: delivery.deliveryId,
          contactId: delivery.contactId,
          eventType: delivery.message.type,
          status: delivery.status,
          attemptCount: delivery.attemptCount,
          ...(delivery.lastAttempt ? { lastAttempt: delivery.lastAttempt } : {}),
          attempts: delivery.attempts ?? [],
          createdAt: delivery.createdAt,
          ...(delivery.deliveredAt ? { deliveredAt: delivery.deliveredAt } : {}),
          ...(delivery.nextAttemptAt ? { nextAttemptAt: delivery.nextAttemptAt } : {}),
          message: delivery.message as unknown as Record<string, unknown>,
        },
        200,
      );
    })
    .openapi(redeliverRoute, async (c) => {
      const { id, deliveryId } = c.req.valid('param');
      if ((await deps.subscriptions.get(id)) === undefined) {
        return problem(c, 404, notFoundProblem(id));
      }
      const delivery = await findDelivery(id, deliveryId);
      if (delivery === 'invalid') return problem(c, 400, invalidDeliveryId);
      if (delivery === undefined) return problem(c, 404, noDelivery(id, deliveryId));
      const { contactId } = delivery;
      // Queued now; the pending index is only the safety net for a job that never runs, so its
      // sweep time is as far out as a sweep's own (the sweeper would queue it twice otherwise).
      const now = deps.now();
      const sweepAt = new Date(now.getTime() + SWEEP_GRACE_MS).toISOString();
      if (!(await deps.deliveries.resume(contactId, deliveryId, sweepAt))) {
        return problem(c, 404, noDelivery(id, deliveryId));
      }
      const job: DeliveryJob = { v: 1, contactId, subscriptionId: id, deliveryId };
      await deps.deliveryQueue.send(JSON.stringify(job));
      deps.logger.info('delivery redelivered', { subscriptionId: id, deliveryId });
      return c.json({ deliveryId }, 202);
    })
    .openapi(replayRoute, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      if ((await deps.subscriptions.get(id)) === undefined) {
        return problem(c, 404, notFoundProblem(id));
      }
      // Delivery times are stored as UTC ISO strings; the range is compared in that form.
      const from = new Date(body.from);
      const to = new Date(body.to);
      const rangeProblem = (detail: string) =>
        problem(c, 400, {
          type: '/problems/validation',
          title: 'Invalid request',
          detail: 'The replay range is not valid.',
          errors: [{ pointer: '#/to', detail }],
        });
      if (to.getTime() < from.getTime()) return rangeProblem('must not be before from');
      if (to.getTime() - from.getTime() > MAX_REPLAY_RANGE_DAYS * 86_400_000) {
        return rangeProblem(`must be at most ${MAX_REPLAY_RANGE_DAYS} days after from`);
      }
      const { found, capped } = await collectDeliveries(
        id,
        { from: from.toISOString(), to: to.toISOString() },
        MAX_REPLAY_DELIVERIES,
      );
      // Due now: the sweeper (every minute) queues them, at most its limit per run.
      const resumed = await resumeAll(found, deps.now().toISOString());
      deps.logger.info('deliveries replayed', { subscriptionId: id, resumed, capped });
      return c.json({ resumed, capped }, 202);
    });
}
