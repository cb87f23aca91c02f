import { describe, expect, it } from 'vitest';
import { testApi } from '../support/api.ts';
import { expectProblem } from '../support/problem.ts';

describe('the HTTP app', () => {
  it('answers GET /healthz with 200 {status: ok}', async () => {
    const { app } = testApi();
    const response = await app.request('/healthz');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers an unknown route with 404 problem+json', async () => {
    const { app } = testApi();
    const document = await expectProblem(await app.request('/v1/nothing-here'), 404);
    expect(document.type).toBe('/problems/not-found');
  });

  it('answers a known path with the wrong method with a 4xx problem, not a 500', async () => {
    const { app } = testApi();
    const response = await app.request('/v1/forms/contact/submissions');
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('serves an OpenAPI 3.1 document listing the form and subscription paths', async () => {
    const { app } = testApi();
    const response = await app.request('/openapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/v1/forms/{formId}/submissions',
        '/v1/subscriptions',
        '/v1/subscriptions/{id}',
      ]),
    );
    expect(Object.keys(document.paths['/v1/forms/{formId}/submissions'] ?? {})).toContain('post');
    expect(Object.keys(document.paths['/v1/subscriptions/{id}'] ?? {})).toEqual(
      expect.arrayContaining(['get', 'delete']),
    );
  });
});
