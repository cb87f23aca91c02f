import { createHash, randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { type EventEnvelope, type LeadEvent, normalizeEmail } from '../../domain/events.ts';
import type { ApiDeps } from '../deps.ts';
import { problem } from '../problem.ts';
import { createRouter } from '../router.ts';
import { problemResponse } from '../schemas.ts';

const optionalText = (max: number) => z.string().trim().max(max).optional();

export const formSubmissionSchema = z
  .object({
    email: z.email().max(254).openapi({ example: 'anna.schmidt@example.com' }),
    name: optionalText(400).openapi({ example: 'Anna Schmidt' }),
    firstName: optionalText(200),
    lastName: optionalText(200),
    company: optionalText(400).openapi({ example: 'Schmidt Maschinenbau GmbH' }),
  })
  .openapi('FormSubmission');

const acceptedSchema = z.object({ eventId: z.string() }).openapi('Accepted');

const submitRoute = createRoute({
  method: 'post',
  path: '/v1/forms/{formId}/submissions',
  summary: 'Submit a website form',
  description:
    'Accepts a lead from a website form and queues it. Nothing is stored until it is classified.',
  request: {
    params: z.object({ formId: z.string().min(1).max(64).openapi({ example: 'contact' }) }),
    headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }),
    body: { required: true, content: { 'application/json': { schema: formSubmissionSchema } } },
  },
  responses: {
    202: { description: 'Queued.', content: { 'application/json': { schema: acceptedSchema } } },
    400: problemResponse('The body is not a valid submission.'),
    404: problemResponse('No form with this id is configured.'),
  },
});

/**
 * Same key, same event id: a browser's or proxy's retry is then a duplicate the classify
 * step drops. Scoped by form so two forms cannot collide.
 */
function formEventId(formId: string, idempotencyKey: string | undefined): string {
  if (idempotencyKey === undefined) return `form_${randomUUID()}`;
  const digest = createHash('sha256').update(`${formId}\n${idempotencyKey}`).digest('hex');
  return `form_${digest.slice(0, 32)}`;
}

/** Refuses an unknown form before the body is read, so the answer is 404 whatever was sent. */
function requireKnownForm(deps: ApiDeps): MiddlewareHandler {
  const formIds = new Set(deps.config.forms.map((form) => form.id));
  return async (c, next) => {
    const formId = c.req.param('formId') ?? '';
    if (!formIds.has(formId)) {
      return problem(c, 404, {
        type: '/problems/unknown-form',
        title: 'Unknown form',
        detail: `No form with id "${formId}" is configured.`,
      });
    }
    await next();
  };
}

/** `POST /v1/forms/{formId}/submissions`: validate, normalize, enqueue, 202. */
export function formRoutes(deps: ApiDeps) {
  const router = createRouter();
  router.use('/v1/forms/:formId/submissions', requireKnownForm(deps));
  return router.openapi(submitRoute, async (c) => {
    const { formId } = c.req.valid('param');
    const { 'idempotency-key': idempotencyKey } = c.req.valid('header');
    const body = c.req.valid('json');
    const event: LeadEvent = {
      kind: 'form_submitted',
      id: formEventId(formId, idempotencyKey),
      occurredAt: deps.now().toISOString(),
      email: normalizeEmail(body.email),
      source: `form:${formId}`,
      formId,
      profile: {
        ...(body.name ? { name: body.name } : {}),
        ...(body.firstName ? { firstName: body.firstName } : {}),
        ...(body.lastName ? { lastName: body.lastName } : {}),
        ...(body.company ? { company: body.company } : {}),
      },
    };
    const envelope: EventEnvelope = { v: 1, event };
    await deps.ingestQueue.send(JSON.stringify(envelope));
    deps.logger.info('form submission queued', { formId, eventId: event.id });
    return c.json({ eventId: event.id }, 202);
  });
}
