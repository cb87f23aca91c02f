import { z } from '@hono/zod-openapi';
import { DELIVERY_STATUSES } from '../store/delivery-status.ts';
import type { DeliverySummary } from '../store/delivery-store.ts';
import type { ProblemDetails } from './problem.ts';

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
