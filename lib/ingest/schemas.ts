import { z } from '@hono/zod-openapi';
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
