import { expect } from 'vitest';
import type { ProblemDetails } from '../../../lib/ingest/problem.ts';

/** Asserts an RFC 9457 answer with this status and returns its document. */
export async function expectProblem(response: Response, status: number): Promise<ProblemDetails> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
  const document = (await response.json()) as ProblemDetails;
  expect(document).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
  return document;
}
