import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { STAGES } from '../domain/stage.ts';
import { InvalidCursorError, type Page } from '../store/cursor.ts';
import { DELIVERY_STATUSES } from '../store/delivery-status.ts';
import type { DeliverySummary } from '../store/delivery-store.ts';
import { type ProblemDetails, problem } from './problem.ts';

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ pointer: z.string(), detail: z.string() })).optional(),
  })
  .openapi('Problem') satisfies z.ZodType<ProblemDetails>;

/** A problem+json response entry for a route's `responses`. */
export function problemResponse(description: string) {
  return { description, content: { 'application/problem+json': { schema: problemSchema } } };
}

/** The security requirement of every route that takes the API key (`apiKeyAuth`). */
export const bearerSecurity = [{ bearerAuth: [] }];

/** The 401 answer of every route that takes the API key. */
export const unauthorizedResponse = problemResponse('Missing or invalid API key.');

/** A JSON response entry for a route's `responses`. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/** The `limit` and `cursor` query parameters of a paged list. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z
    .string()
    .max(2048)
    .optional()
    .openapi({ description: 'The `nextCursor` of the previous page' }),
};

/** One page of `item`s, registered as the component `name`. */
export const pageOf = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().optional() }).openapi(name);

/** A page as a list answers it: each item in its view, and the next page's cursor if any. */
function pageBody<T, V>(page: Page<T>, view: (item: T) => V) {
  return {
    items: page.items.map(view),
    ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}),
  };
}

/** The problem for a `cursor` the list did not hand out. */
const invalidCursorProblem = {
  type: '/problems/invalid-cursor',
  title: 'Invalid cursor',
  detail: 'The cursor is not one this list handed out; start again without it.',
  errors: [{ pointer: '#/cursor', detail: 'not valid for this list' }],
};

/**
 * Answers with the page `load` reads, each item in its view (200), or with a problem (400)
 * when the store refuses the request's cursor.
 */
export async function answerPage<T, V>(
  c: Context,
  load: () => Promise<Page<T>>,
  view: (item: T) => V,
) {
  try {
    return c.json(pageBody(await load(), view), 200);
  } catch (error) {
    if (error instanceof InvalidCursorError) return problem(c, 400, invalidCursorProblem);
    throw error;
  }
}

/** A stage reason: a machine-readable code with one human sentence. */
export const reasonSchema = z.object({ code: z.string(), message: z.string() });

/** A contact's name fields, as its summary carries them. */
export const contactNameFields = {
  name: z.string().optional(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  company: z.string().optional(),
};

/** A stage change as the stage history and the recent changes show it (flags aside). */
export const stageChangeFields = {
  sequence: z.number().int(),
  from: z.enum(STAGES).nullable(),
  to: z.enum(STAGES),
  direction: z.string(),
  reasons: z.array(reasonSchema),
  missing: z.array(z.string()),
  at: z.string(),
  causedBy: z.string().openapi({ description: 'The id of the event that caused the change.' }),
};

/** One attempt to send a delivery (`DeliveryAttempt` in the OpenAPI document). */
export const deliveryAttemptSchema = z
  .object({
    at: z.string(),
    statusCode: z.number().int().optional(),
    latencyMs: z.number().int(),
    error: z.string().optional(),
    responseBody: z
      .string()
      .optional()
      .openapi({ description: "The first 1,000 characters of the endpoint's answer." }),
  })
  .openapi('DeliveryAttempt');

/** A delivery as the delivery lists show it (`Delivery` in the OpenAPI document). */
export const deliverySchema = z
  .object({
    deliveryId: z.string().openapi({ description: 'The `webhook-id` of every attempt.' }),
    contactId: z.string(),
    eventType: z
      .string()
      .openapi({ description: 'The message type, e.g. `contact.stage_changed`.' }),
    status: z.enum(DELIVERY_STATUSES),
    attemptCount: z.number().int(),
    lastAttempt: deliveryAttemptSchema.optional(),
    createdAt: z.string(),
    deliveredAt: z.string().optional(),
  })
  .openapi('Delivery');

/** The `Delivery` of a stored delivery's summary. */
export function deliveryView(summary: DeliverySummary) {
  const attempt = summary.lastAttempt;
  return {
    deliveryId: summary.deliveryId,
    contactId: summary.contactId,
    eventType: summary.eventType,
    status: summary.status,
    attemptCount: summary.attemptCount,
    ...(attempt !== undefined
      ? {
          lastAttempt: {
            at: attempt.at,
            latencyMs: attempt.latencyMs,
            ...(attempt.statusCode !== undefined ? { statusCode: attempt.statusCode } : {}),
            ...(attempt.error !== undefined ? { error: attempt.error } : {}),
            ...(attempt.responseBody !== undefined ? { responseBody: attempt.responseBody } : {}),
          },
        }
      : {}),
    createdAt: summary.createdAt,
    ...(summary.deliveredAt !== undefined ? { deliveredAt: summary.deliveredAt } : {}),
  };
}
