import { describe, expect, it } from 'vitest';
import { API_KEY, auth, postJson, testApi } from '../support/api.ts';
import { expectProblem } from '../support/problem.ts';

interface Created {
  id: string;
  url: string;
  enabled: boolean;
  createdAt: string;
  secret: string;
}

describe('/v1/subscriptions', () => {
  it.each([
    ['without an Authorization header', {}],
    ['with a wrong key', { authorization: 'Bearer lsk_wrong-key-0123456789' }],
    ['with the key but not as a Bearer token', { authorization: `Basic ${API_KEY}` }],
  ])('answers 401 problem+json with www-authenticate %s', async (_label, headers) => {
    const { app, subscriptions } = testApi();
    const created = await app.request(
      '/v1/subscriptions',
      postJson({ url: 'https://crm.example.com/hooks' }, headers),
    );
    expect(created.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await expectProblem(created, 401);
    const read = await app.request('/v1/subscriptions/sub_x', { headers });
    await expectProblem(read, 401);
    const deleted = await app.request('/v1/subscriptions/sub_x', { method: 'DELETE', headers });
    await expectProblem(deleted, 401);
    expect(await subscriptions.list()).toEqual([]);
  });

  it('creates a subscription: 201 with a whsec_ secret, stored enabled', async () => {
    const { app, subscriptions } = testApi();
    const response = await app.request(
      '/v1/subscriptions',
      postJson({ url: 'https://crm.example.com/hooks' }, auth),
    );
    expect(response.status).toBe(201);
    const created = (await response.json()) as Created;
    expect(created).toEqual({
      id: expect.stringMatching(/^sub_/),
      url: 'https://crm.example.com/hooks',
      enabled: true,
      createdAt: '2025-03-01T12:00:00.000Z',
      secret: expect.stringMatching(/^whsec_/),
    });
    expect(await subscriptions.list()).toEqual([created]);
  });

  it('returns the subscription on GET without its secret', async () => {
    const { app } = testApi();
    const created = (await (
      await app.request('/v1/subscriptions', postJson({ url: 'https://crm.example.com/h' }, auth))
    ).json()) as Created;
    const response = await app.request(`/v1/subscriptions/${created.id}`, { headers: auth });
    expect(response.status).toBe(200);
    const { secret: _secret, ...publicView } = created;
    expect(await response.json()).toEqual(publicView);
  });

  it('deletes with 204, after which GET and DELETE answer 404', async () => {
    const { app, subscriptions } = testApi();
    const created = (await (
      await app.request('/v1/subscriptions', postJson({ url: 'https://crm.example.com/h' }, auth))
    ).json()) as Created;
    const deleted = await app.request(`/v1/subscriptions/${created.id}`, {
      method: 'DELETE',
      headers: auth,
    });
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    expect(await subscriptions.get(created.id)).toBeUndefined();
    await expectProblem(
      await app.request(`/v1/subscriptions/${created.id}`, { headers: auth }),
      404,
    );
    await expectProblem(
      await app.request(`/v1/subscriptions/${created.id}`, { method: 'DELETE', headers: auth }),
      404,
    );
  });

  it.each([
    'https://10.0.0.5/hooks',
    'https://169.254.169.254/latest',
    'https://localhost/hooks',
    'http://crm.example.com/hooks',
  ])('refuses %s with 400 when local targets are not allowed', async (url) => {
    const { app, subscriptions } = testApi({ allowLocal: false });
    const response = await app.request('/v1/subscriptions', postJson({ url }, auth));
    const document = await expectProblem(response, 400);
    expect(document.errors).toEqual([{ pointer: '#/url', detail: expect.any(String) }]);
    expect(await subscriptions.list()).toEqual([]);
  });

  it('accepts a loopback http URL in local mode', async () => {
    const { app } = testApi({ allowLocal: true });
    const response = await app.request(
      '/v1/subscriptions',
      postJson({ url: 'http://127.0.0.1:9999/hooks' }, auth),
    );
    expect(response.status).toBe(201);
  });

  it.each([
    ['a missing url', {}],
    ['a url that is not a URL', { url: 'crm.example.com' }],
    ['a non-http url', { url: 'ftp://crm.example.com/hooks' }],
  ])('refuses %s with 400 pointing at #/url', async (_label, body) => {
    const { app, subscriptions } = testApi();
    const document = await expectProblem(
      await app.request('/v1/subscriptions', postJson(body, auth)),
      400,
    );
    expect(document.errors?.map((issue) => issue.pointer)).toEqual(['#/url']);
    expect(await subscriptions.list()).toEqual([]);
  });

  it('refuses malformed JSON with 400 problem+json', async () => {
    const { app } = testApi();
    await expectProblem(await app.request('/v1/subscriptions', postJson('{"url":', auth)), 400);
  });
});
