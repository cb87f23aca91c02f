import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { type LeadEvent, leadEventSchema } from '../../domain/events.ts';
import { apiKeyAuth } from '../api-key-auth.ts';
import type { ApiDeps } from '../deps.ts';
import { type FieldIssue, problem, toPointer } from '../problem.ts';
import { createRouter } from '../router.ts';
import { bearerSecurity, problemResponse, unauthorizedResponse } from '../schemas.ts';

/** The most events one request may carry: bulk imports are split by the client. */
export const MAX_EVENTS_PER_REQUEST = 500;

/**
 * An activity as a client sends it: any domain event (the schema that validates it), with
 * `id`, `occurredAt` and `source` optional because they have defaults here.
 */
/** A client's own label of where an event came from. */
const clientSourceSchema = z.string().min(1).max(96);

const activityEventSchema = z.discriminatedUnion(
  'kind',
  leadEventSchema.options.map((option) =>
    option.extend({
      id: z
        .union([z.string().min(1).max(196), z.number().int()])
        .optional()
        .meta({
          description:
            'Your id for this event; the same id again is a duplicate. Generated when absent.',
        }),
      occurredAt: z.iso
        .datetime({ offset: true })
        .optional()
        .meta({ description: 'Now when absent' }),
      source: clientSourceSchema.optional().meta({ description: 'Kept as `api:<source>`' }),
    }),
  ) as unknown as [z.ZodObject, ...z.ZodObject[]],
);

const eventsBodySchema = z
  .object({ events: z.array(activityEventSchema).min(1).max(MAX_EVENTS_PER_REQUEST) })
  .openapi('ActivityEvents', {
    example: {
      events: [
        {
          kind: 'call_logged',
          id: 'call-1',
          email: 'anna.schmidt@example.com',
          direction: 'outbound',
          reached: true,
        },
        { kind: 'quote_requested', email: 'anna.schmidt@example.com' },
        {
          kind: 'contact_imported',
          email: 'max.muster@example.de',
          profile: { firstName: 'Max', lastName: 'Muster', company: 'Muster AG', country: 'DE' },
        },
      ],
    },
  });

const postEventsRoute = createRoute({
  method: 'post',
  path: '/v1/events',
  summary: 'Record sales activity or import leads',
  description:
    'Calls, meetings, answered mailings, quote requests, budget, decision maker, visits, profile ' +
    `updates, consent, and bulk import of existing leads (\`contact_imported\`), up to ${MAX_EVENTS_PER_REQUEST} per request. ` +
    'All or nothing: one invalid event refuses the request with a pointer to it.',
  security: bearerSecurity,
  request: { body: { content: { 'application/json': { schema: eventsBodySchema } } } },
  responses: {
    202: {
      description: 'Queued.',
      content: {
        'application/json': {
          schema: z.object({ eventIds: z.array(z.string()) }).openapi('EventsAccepted'),
        },
      },
    },
    400: problemResponse('An event is not valid; `errors` points at it.'),
    401: unauthorizedResponse,
  },
});

/** `POST /v1/events`: sales activity and imports, validated as domain events, queued in batches. */
export function eventRoutes(deps: ApiDeps) {
  const router = createRouter();
  router.use('/v1/events', apiKeyAuth(deps.apiKeyHashes));
  router.openAPIRegistry.registerPath(postEventsRoute);

  router.post('/v1/events', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return problem(c, 400, {
        type: '/problems/validation',
        title: 'Invalid request',
        detail: 'The body is not valid JSON.',
        errors: [{ pointer: '#', detail: 'not valid JSON' }],
      });
    }
    const shape = z
      .object({ events: z.array(z.unknown()).min(1).max(MAX_EVENTS_PER_REQUEST) })
      .safeParse(body);
    if (!shape.success) {
      return problem(c, 400, {
        type: '/problems/validation',
        title: 'Invalid request',
        detail: `The body must be {"events": [...]} with 1 to ${MAX_EVENTS_PER_REQUEST} events.`,
        errors: shape.error.issues.map((issue) => ({
          pointer: toPointer(issue.path),
          detail: issue.message,
        })),
      });
    }
    const now = deps.now().toISOString();
    const events: LeadEvent[] = [];
    const issues: FieldIssue[] = [];
    shape.data.events.forEach((item, index) => {
      const raw = (typeof item === 'object' && item !== null ? item : {}) as Record<
        string,
        unknown
      >;
      // Client ids are namespaced, so they cannot collide with form or provider event ids; a
      // numeric id is taken as its decimal text, so a retry with it is still a duplicate.
      const clientId =
        typeof raw.id === 'number' && Number.isSafeInteger(raw.id) ? String(raw.id) : raw.id;
      const id =
        clientId === undefined || clientId === ''
          ? `api_${randomUUID()}`
          : typeof clientId === 'string'
            ? `api_${clientId}`
            : clientId;
      // The source says where it came in; a client's own label is kept after `api:`.
      const clientSource = clientSourceSchema.optional().safeParse(raw.source);
      if (!clientSource.success) {
        for (const issue of clientSource.error.issues)
          issues.push({ pointer: toPointer(['events', index, 'source']), detail: issue.message });
        return;
      }
      const source = clientSource.data === undefined ? 'api' : `api:${clientSource.data}`;
      const parsed = leadEventSchema.safeParse({ occurredAt: now, ...raw, id, source });
      if (parsed.success) events.push(parsed.data);
      else
        for (const issue of parsed.error.issues)
          issues.push({
            pointer: toPointer(['events', index, ...issue.path]),
            detail: issue.message,
          });
    });
    if (issues.length > 0) {
      return problem(c, 400, {
        type: '/problems/validation',
        title: 'Invalid request',
        detail: 'Some events are not valid; nothing was queued.',
        errors: issues.slice(0, 100),
      });
    }
    await deps.ingestQueue.sendBatch(events.map((event) => JSON.stringify({ v: 1, event })));
    deps.logger.info('events queued', { count: events.length });
    return c.json({ eventIds: events.map((event) => event.id) }, 202);
  });
  return router;
}
