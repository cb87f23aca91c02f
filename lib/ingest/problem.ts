import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';

/** One field-level problem: a JSON Pointer into the request and what is wrong there. */
export interface FieldIssue {
  pointer: string;
  detail: string;
}

/** An RFC 9457 problem document. `type` is a relative URI naming the kind of problem. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldIssue[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Answers with a problem document; the one way every refusal leaves this API. Built on
 * `c.json` (with the problem content type) so typed OpenAPI routes accept it.
 */
export function problem<S extends ContentfulStatusCode>(
  c: Context,
  status: S,
  body: Omit<ProblemDetails, 'status'>,
  headers: Record<string, string> = {},
) {
  const document: ProblemDetails = { ...body, status };
  // 'Content-Type' must be spelled as Hono spells it, or the JSON default is kept beside it.
  return c.json(document, status, { ...headers, 'Content-Type': PROBLEM_CONTENT_TYPE });
}

/** An RFC 6901 pointer in URI-fragment form: `#` is the whole document, `#/email` a member. */
export function toPointer(path: readonly PropertyKey[]): string {
  return `#${path.map((part) => `/${String(part).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')}`;
}

/** Lists a zod error's issues as field-level problems, pointing into the request body. */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({ pointer: toPointer(issue.path), detail: issue.message }));
}

export function validationProblem(
  c: Context,
  error: z.ZodError,
  detail = 'The request is not valid.',
) {
  return problem(c, 400, {
    type: '/problems/validation',
    title: 'Invalid request',
    detail,
    errors: fieldIssues(error),
  });
}
