import { createRoute, z } from '@hono/zod-openapi';
import { SWEEP_GRACE_MS } from '../../delivery/deliver-handler.ts';
import { deliveryJobSchema } from '../../delivery/job.ts';
import type { DeadLetterQueue, ParkedMessage } from '../../queue/dead-letter-queue.ts';
import type { MessageQueue } from '../../queue/message-queue.ts';
import { apiKeyAuth } from '../api-key-auth.ts';
import type { ApiDeps } from '../deps.ts';
import { problem } from '../problem.ts';
import { createRouter } from '../router.ts';
import { bearerSecurity, jsonResponse, problemResponse, unauthorizedResponse } from '../schemas.ts';

/** The queues that have a dead-letter queue, by the name the API uses. */
export const DEAD_LETTER_QUEUE_NAMES = ['ingest', 'delivery'] as const;
export type DeadLetterQueueName = (typeof DEAD_LETTER_QUEUE_NAMES)[number];

/** The most ids one redrive may name. */
export const MAX_REDRIVE_IDS = 100;

const noQueue = problemResponse('No dead-letter queue of that name (`ingest` or `delivery`).');

const queueParams = z.object({
  queue: z
    .string()
    .min(1)
    .max(64)
    .openapi({ example: 'delivery', description: '`ingest` or `delivery`' }),
});

const queueCountsSchema = z
  .object({
    queues: z.array(
      z.object({
        name: z.enum(DEAD_LETTER_QUEUE_NAMES),
        approximateCount: z.number().int().openapi({
          description: 'Messages in the dead-letter queue (SQS counts are approximate).',
        }),
      }),
    ),
  })
  .openapi('DeadLetterQueues');

const summarySchema = z
  .object({
    kind: z.string().optional().openapi({
      description:
        'Ingest: the event kind, `unresolved_reply` (a reply not yet matched) or `purge`.',
    }),
    eventId: z.string().optional(),
    source: z.string().optional(),
    contactId: z.string().optional(),
    deliveryId: z.string().optional(),
    subscriptionId: z.string().optional(),
    unreadable: z
      .boolean()
      .optional()
      .openapi({ description: 'The body is not a message this version can read.' }),
  })
  .openapi('DeadLetterSummary', {
    description: 'What the message is about, without personal data (no emails, no names).',
  });

const deadLetterSchema = z
  .object({
    messageId: z.string(),
    sentAt: z.string().nullable(),
    receiveCount: z.number().int().openapi({
      description: 'Receives so far, including those of earlier listings (each listing is one).',
    }),
    reason: z.string().openapi({
      description:
        "Why it was parked: the worker's reason, or `failed N times` when SQS moved it after " +
        'its maximum receive count.',
    }),
    summary: summarySchema,
  })
  .openapi('DeadLetter');

const redriveBodySchema = z
  .strictObject({
    messageIds: z
      .array(z.string().min(1).max(128))
      .min(1)
      .max(MAX_REDRIVE_IDS)
      .optional()
      .openapi({ description: 'Only these messages; every message when absent.' }),
  })
  .openapi('RedriveRequest');

const redriveResultSchema = z
  .object({
    redriven: z.number().int(),
    notFound: z.array(z.string()).optional().openapi({
      description: 'Asked-for ids not in the queue (already redriven, or never there).',
    }),
    capped: z.boolean().openapi({
      description: 'The call stopped at its limit (500 messages); call again for the rest.',
    }),
  })
  .openapi('RedriveResult');

const listQueuesRoute = createRoute({
  method: 'get',
  path: '/v1/dead-letters',
  summary: 'The dead-letter queues and how many messages each holds',
  security: bearerSecurity,
  responses: {
    200: jsonResponse(queueCountsSchema, 'Each dead-letter queue.'),
    401: unauthorizedResponse,
  },
});

const listMessagesRoute = createRoute({
  method: 'get',
  path: '/v1/dead-letters/{queue}',
  summary: 'Look at the messages parked in a dead-letter queue, without consuming them',
  description:
    'SQS has no peek: the messages are received with a short visibility timeout and made ' +
    'visible again at once, so while a listing runs (well under a second) a concurrent listing ' +
    'or redrive does not see them. Every listing adds one to their `receiveCount`.',
  security: bearerSecurity,
  request: {
    params: queueParams,
    query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(50) }),
  },
  responses: {
    200: jsonResponse(
      z.object({ items: z.array(deadLetterSchema) }).openapi('DeadLetterList'),
      'Up to `limit` parked messages, oldest first.',
    ),
    400: problemResponse('Bad limit.'),
    401: unauthorizedResponse,
    404: noQueue,
  },
});

const redriveRoute = createRoute({
  method: 'post',
  path: '/v1/dead-letters/{queue}/redrive',
  summary: 'Send parked messages back to their source queue',
  description:
    'Each message is sent to its source queue (ingest DLQ to the ingest queue, delivery DLQ ' +
    'to the delivery queue) and then deleted from the DLQ: never lost, at worst sent twice, ' +
    'which the idempotent workers absorb. An exhausted delivery is made `pending` again first, ' +
    'so its job is attempted as a redelivery would be.',
  security: bearerSecurity,
  request: {
    params: queueParams,
    body: { required: false, content: { 'application/json': { schema: redriveBodySchema } } },
  },
  responses: {
    200: jsonResponse(redriveResultSchema, 'How many messages went back.'),
    400: problemResponse('The body is not valid.'),
    401: unauthorizedResponse,
    404: noQueue,
  },
});

/** GET /v1/dead-letters, GET /v1/dead-letters/{queue}, POST /v1/dead-letters/{queue}/redrive. */
export function deadLetterRoutes(deps: ApiDeps) {
  const router = createRouter();
  router.use('/v1/dead-letters', apiKeyAuth(deps.apiKeyHashes));
  router.use('/v1/dead-letters/*', apiKeyAuth(deps.apiKeyHashes));

  const pairs: { name: DeadLetterQueueName; dlq: DeadLetterQueue; source: MessageQueue }[] = [];
  if (deps.deadLetterQueues?.ingest) {
    pairs.push({ name: 'ingest', dlq: deps.deadLetterQueues.ingest, source: deps.ingestQueue });
  }
  if (deps.deadLetterQueues?.delivery) {
    pairs.push({
      name: 'delivery',
      dlq: deps.deadLetterQueues.delivery,
      source: deps.deliveryQueue,
    });
  }
  const find = (name: string) => pairs.find((pair) => pair.name === name);
  const notFound = (name: string) => ({
    type: '/problems/not-found',
    title: 'Not found',
    detail: `No dead-letter queue "${name.slice(0, 64)}"; there are ${
      pairs.map((pair) => `"${pair.name}"`).join(' and ') || 'none configured'
    }.`,
  });

  const reasonOf = (message: ParkedMessage): string => {
    const reason = message.attributes.reason;
    if (reason !== undefined) return reason;
    return deps.maxReceiveCount === undefined
      ? 'failed repeatedly (moved by SQS at its maximum receive count)'
      : `failed ${deps.maxReceiveCount} times`;
  };

  /** Reopens an exhausted delivery, as a redelivery does, or its job would be skipped. */
  const reopenExhausted = async (message: ParkedMessage): Promise<void> => {
    const job = deliveryJobSchema.safeParse(parseJson(message.body));
    if (!job.success) return;
    const { contactId, deliveryId } = job.data;
    const delivery = await deps.deliveries.get(contactId, deliveryId);
    if (delivery?.status !== 'exhausted') return;
    const sweepAt = new Date(deps.now().getTime() + SWEEP_GRACE_MS).toISOString();
    await deps.deliveries.resume(contactId, deliveryId, sweepAt);
  };

  return router
    .openapi(listQueuesRoute, async (c) => {
      const queues = await Promise.all(
        pairs.map(async (pair) => ({
          name: pair.name,
          approximateCount: await pair.dlq.approximateCount(),
        })),
      );
      return c.json({ queues }, 200);
    })
    .openapi(listMessagesRoute, async (c) => {
      const { queue } = c.req.valid('param');
      const pair = find(queue);
      if (pair === undefined) return problem(c, 404, notFound(queue));
      const { limit } = c.req.valid('query');
      const messages = await pair.dlq.peek(limit);
      const items = messages.map((message) => ({
        messageId: message.messageId,
        sentAt: message.sentAt,
        receiveCount: message.receiveCount,
        reason: redact(reasonOf(message)),
        summary:
          pair.name === 'ingest' ? ingestSummary(message.body) : deliverySummary(message.body),
      }));
      return c.json({ items }, 200);
    })
    .openapi(redriveRoute, async (c) => {
      const { queue } = c.req.valid('param');
      const pair = find(queue);
      if (pair === undefined) return problem(c, 404, notFound(queue));
      // An absent body is not parsed (the route's body is optional).
      const { messageIds } = c.req.valid('json');
      const result = await pair.dlq.redrive(pair.source, {
        ...(messageIds === undefined ? {} : { messageIds }),
        ...(pair.name === 'delivery' ? { prepare: reopenExhausted } : {}),
      });
      deps.logger.info('dead letters redriven', {
        queue: pair.name,
        redriven: result.redriven,
        notFound: result.notFound.length,
        capped: result.capped,
      });
      return c.json(
        {
          redriven: result.redriven,
          ...(messageIds === undefined ? {} : { notFound: result.notFound }),
          capped: result.capped,
        },
        200,
      );
    });
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

const EMAIL_LIKE = /[^\s<>"'@,;:()[\]]+@[^\s<>"'@,;:()[\]]+/g;

/** Ids and reasons are not meant to hold addresses; any that does is masked all the same. */
function redact(text: string): string {
  return text.slice(0, 300).replace(EMAIL_LIKE, '[redacted]');
}

const text = z.string().transform(redact);
/** Just the fields a summary shows; everything else in the body (emails, profiles) is never read out. */
const ingestShape = z.union([
  z.object({ event: z.object({ kind: text, id: text, source: text }) }),
  z.object({ reply: z.object({ id: text, source: text }) }),
  z.object({ purge: z.object({ contactId: text }) }),
]);

type Summary = z.infer<typeof summarySchema>;

function ingestSummary(body: string): Summary {
  const parsed = ingestShape.safeParse(parseJson(body));
  if (!parsed.success) return { unreadable: true };
  const data = parsed.data;
  if ('event' in data) {
    return { kind: data.event.kind, eventId: data.event.id, source: data.event.source };
  }
  if ('reply' in data) {
    return { kind: 'unresolved_reply', eventId: data.reply.id, source: data.reply.source };
  }
  return { kind: 'purge', contactId: data.purge.contactId };
}

function deliverySummary(body: string): Summary {
  const parsed = deliveryJobSchema.safeParse(parseJson(body));
  if (!parsed.success) return { unreadable: true };
  const { deliveryId, subscriptionId, contactId } = parsed.data;
  return {
    deliveryId: redact(deliveryId),
    subscriptionId: redact(subscriptionId),
    contactId: redact(contactId),
  };
}
