import { describe, expect, it } from 'vitest';
import { parseAppConfig } from '../../../lib/config/app-config.ts';
import { postJson, testApi } from '../support/api.ts';
import { expectProblem } from '../support/problem.ts';

/** CORS per form: scripts on allowed origins may post and read; plain forms post from anywhere. */

const submit = (formId: string) => `/v1/forms/${formId}/submissions`;
const ALLOWED = 'https://www.example.com';
const OTHER = 'https://evil.example.net';

const config = parseAppConfig(
  {
    forms: [
      // Written with a trailing slash: the config normalizes it to the origin.
      { id: 'contact', allowedOrigins: [`${ALLOWED}/`, 'http://localhost:8080'] },
      { id: 'closed' },
    ],
  },
  'test',
);

function preflight(origin: string | undefined, formId = 'contact') {
  const { app } = testApi({ config });
  return app.request(submit(formId), {
    method: 'OPTIONS',
    headers: {
      ...(origin === undefined ? {} : { origin }),
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,idempotency-key',
    },
  });
}

describe('CORS preflight', () => {
  it.each([ALLOWED, 'http://localhost:8080'])(
    'answers a preflight from the allowed origin %s with 204 and the CORS headers',
    async (origin) => {
      const response = await preflight(origin);
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe(origin);
      expect(response.headers.get('access-control-allow-methods')).toMatch(/\bPOST\b/);
      const allowHeaders = (response.headers.get('access-control-allow-headers') ?? '').split(
        /\s*,\s*/,
      );
      expect(allowHeaders).toEqual(expect.arrayContaining(['content-type', 'idempotency-key']));
      expect(response.headers.get('vary')).toMatch(/\bOrigin\b/);
      expect(await response.text()).toBe('');
    },
  );

  it.each([
    ['another origin', OTHER],
    ['a look-alike origin', 'https://www.example.com.evil.example'],
    ['the allowed host on another scheme', 'http://www.example.com'],
    ['the allowed host on another port', 'https://www.example.com:8443'],
    ['the string "null"', 'null'],
    ['no Origin header', undefined],
  ])(
    'refuses a preflight from %s with 403 problem+json and no CORS headers',
    async (_label, origin) => {
      const response = await preflight(origin);
      expect((await expectProblem(response, 403)).type).toBe('/problems/origin-not-allowed');
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    },
  );

  it('refuses a preflight to a form that allows no origin', async () => {
    const response = await preflight(ALLOWED, 'closed');
    await expectProblem(response, 403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS on the POST', () => {
  it('adds Access-Control-Allow-Origin for an allowed origin, on success and on refusal', async () => {
    const { app, ingestQueue } = testApi({ config });
    const ok = await app.request(
      submit('contact'),
      postJson({ email: 'a@example.com' }, { origin: ALLOWED }),
    );
    expect(ok.status).toBe(202);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(ok.headers.get('vary')).toMatch(/\bOrigin\b/);

    const bad = await app.request(
      submit('contact'),
      postJson({ email: 'nope' }, { origin: ALLOWED }),
    );
    await expectProblem(bad, 400);
    expect(bad.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(ingestQueue.sent).toHaveLength(1);
  });

  it('still accepts a plain form posted from another origin, without CORS headers', async () => {
    const { app, ingestQueue } = testApi({ config });
    const response = await app.request(submit('contact'), {
      method: 'POST',
      headers: {
        origin: OTHER,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
      },
      body: new URLSearchParams({ email: 'a@example.com' }).toString(),
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(ingestQueue.sent).toHaveLength(1);
  });

  it('accepts a script POST from another origin but gives it no CORS headers to read the answer', async () => {
    const { app, ingestQueue } = testApi({ config });
    const response = await app.request(
      submit('contact'),
      postJson({ email: 'a@example.com' }, { origin: OTHER }),
    );
    expect(response.status).toBe(202);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(ingestQueue.sent).toHaveLength(1);
  });

  it('adds no CORS headers to a form that allows no origin', async () => {
    const { app } = testApi({ config });
    const response = await app.request(
      submit('closed'),
      postJson({ email: 'a@example.com' }, { origin: ALLOWED }),
    );
    expect(response.status).toBe(202);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
