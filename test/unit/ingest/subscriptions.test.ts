import { describe, expect, it } from 'vitest';
import { API_KEY, auth, patchJson, postJson, testApi } from '../support/api.ts';
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

/** Every route of the subscriptions API, with a request that would be valid with a key. */
const ROUTES: { method: string; path: string; body?: unknown }[] = [
  { method: 'POST', path: '/v1/subscriptions', body: { url: 'https://crm.example.com/h' } },
  { method: 'GET', path: '/v1/subscriptions' },
  { method: 'GET', path: '/v1/subscriptions/sub_x' },
  { method: 'PATCH', path: '/v1/subscriptions/sub_x', body: { enabled: true } },
  { method: 'DELETE', path: '/v1/subscriptions/sub_x' },
  { method: 'POST', path: '/v1/subscriptions/sub_x/rotate-secret', body: {} },
  { method: 'POST', path: '/v1/subscriptions/sub_x/ping' },
  { method: 'GET', path: '/v1/subscriptions/sub_x/deliveries' },
  {
    method: 'POST',
    path: '/v1/subscriptions/sub_x/deliveries/msg_97f63aac346999c85faa4657_1a2b3c4d5e6f/redeliver',
  },
  {
    method: 'POST',
    path: '/v1/subscriptions/sub_x/replay',
    body: { from: '2025-02-01T00:00:00Z', to: '2025-02-02T00:00:00Z' },
  },
];

function requestOf(route: (typeof ROUTES)[number], headers: Record<string, string>): RequestInit {
  return route.body === undefined
    ? { method: route.method, headers }
    : {
        method: route.method,
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(route.body),
      };
}

async function create(app: ReturnType<typeof testApi>['app'], body: Record<string, unknown>) {
  const response = await app.request('/v1/subscriptions', postJson(body, auth));
  expect(response.status).toBe(201);
  return (await response.json()) as Created & Record<string, unknown>;
}

describe('/v1/subscriptions: every route', () => {
  it.each(ROUTES.map((route) => [`${route.method} ${route.path}`, route] as const))(
    '%s answers 401 without an API key and changes nothing',
    async (_label, route) => {
      const { app, subscriptions, deliveryQueue } = testApi();
      const response = await app.request(route.path, requestOf(route, {}));
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      await expectProblem(response, 401);
      const wrong = await app.request(
        route.path,
        requestOf(route, { authorization: 'Bearer lsk_wrong-key-0123456789' }),
      );
      await expectProblem(wrong, 401);
      expect(await subscriptions.list()).toEqual([]);
      expect(deliveryQueue.sent).toEqual([]);
    },
  );

  it.each(
    ROUTES.filter((route) => route.path.includes('sub_x')).map(
      (route) => [`${route.method} ${route.path}`, route] as const,
    ),
  )('%s answers 404 for an unknown subscription', async (_label, route) => {
    const { app, deliveryQueue } = testApi();
    const document = await expectProblem(
      await app.request(route.path, requestOf(route, auth)),
      404,
    );
    expect(document.detail).toContain('sub_x');
    expect(deliveryQueue.sent).toEqual([]);
  });

  it('documents every route in /openapi.json, secured by the API key', async () => {
    const { app } = testApi();
    const document = (await (await app.request('/openapi.json')).json()) as {
      paths: Record<string, Record<string, { security?: unknown; responses: object }>>;
    };
    const expected: Record<string, string[]> = {
      '/v1/subscriptions': ['get', 'post'],
      '/v1/subscriptions/{id}': ['delete', 'get', 'patch'],
      '/v1/subscriptions/{id}/rotate-secret': ['post'],
      '/v1/subscriptions/{id}/ping': ['post'],
      '/v1/subscriptions/{id}/deliveries': ['get'],
      '/v1/subscriptions/{id}/deliveries/{deliveryId}/redeliver': ['post'],
      '/v1/subscriptions/{id}/replay': ['post'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      const item = document.paths[path] ?? {};
      expect(Object.keys(item).sort()).toEqual(methods);
      for (const operation of Object.values(item)) {
        expect(operation.security).toEqual([{ bearerAuth: [] }]);
        expect(Object.keys(operation.responses)).toContain('401');
      }
    }
    const html = await (await app.request('/docs')).text();
    expect(html).toContain('<code>/v1/subscriptions/{id}/deliveries/{deliveryId}/redeliver</code>');
  });
});

describe('POST /v1/subscriptions: filters and description', () => {
  it('stores event types, stages and description, and shows them (distinct) without the secret', async () => {
    const { app, subscriptions } = testApi();
    const created = await create(app, {
      url: 'https://crm.example.com/hooks',
      description: 'HubSpot sync',
      eventTypes: ['contact.stage_changed', 'contact.stage_changed'],
      stages: ['sales_ready', 'qualified', 'sales_ready'],
    });
    expect(created).toMatchObject({
      description: 'HubSpot sync',
      eventTypes: ['contact.stage_changed'],
      stages: ['sales_ready', 'qualified'],
      secret: expect.stringMatching(/^whsec_/),
    });
    expect(await subscriptions.get(created.id)).toMatchObject({
      description: 'HubSpot sync',
      eventTypes: ['contact.stage_changed'],
      stages: ['sales_ready', 'qualified'],
      secret: created.secret,
    });
    const read = (await (
      await app.request(`/v1/subscriptions/${created.id}`, { headers: auth })
    ).json()) as Record<string, unknown>;
    const { secret: _secret, ...view } = created;
    expect(read).toEqual(view);
  });

  it.each([
    [
      'an unknown event type',
      { eventTypes: ['contact.stage_changed', 'deal.won'] },
      ['#/eventTypes/1'],
    ],
    ['an empty event type list', { eventTypes: [] }, ['#/eventTypes']],
    ['an unknown stage', { stages: ['customer'] }, ['#/stages/0']],
    ['stages that are not a list', { stages: 'lead' }, ['#/stages']],
    ['an empty stage list', { stages: [] }, ['#/stages']],
    ['a description that is too long', { description: 'x'.repeat(501) }, ['#/description']],
    ['an unknown field', { eventType: ['contact.erased'] }, ['#']],
  ])('refuses %s with 400 pointing at the field', async (_label, extra, pointers) => {
    const { app, subscriptions } = testApi();
    const document = await expectProblem(
      await app.request(
        '/v1/subscriptions',
        postJson({ url: 'https://crm.example.com/h', ...extra }, auth),
      ),
      400,
    );
    expect(document.errors?.map((issue) => issue.pointer)).toEqual(pointers);
    expect(await subscriptions.list()).toEqual([]);
  });

  it('refuses a host name that resolves to a private address in production mode', async () => {
    const { app, subscriptions } = testApi({
      allowLocal: false,
      resolver: async () => [{ address: '10.0.0.1', family: 4 }],
    });
    const document = await expectProblem(
      await app.request('/v1/subscriptions', postJson({ url: 'https://crm.example.com/h' }, auth)),
      400,
    );
    expect(document.errors).toEqual([
      { pointer: '#/url', detail: expect.stringMatching(/private/) },
    ]);
    expect(await subscriptions.list()).toEqual([]);
  });
});

describe('GET /v1/subscriptions', () => {
  it('lists every subscription oldest first with its health, never a secret', async () => {
    let clock = new Date('2025-03-01T12:00:00.000Z');
    const api = testApi({ now: () => new Date(clock) });
    const first = await create(api.app, { url: 'https://a.example.com/h' });
    clock = new Date('2025-03-01T13:00:00.000Z');
    const second = await create(api.app, { url: 'https://b.example.com/h', stages: ['lead'] });
    await api.subscriptions.recordHealth(first.id, {
      lastSuccessAt: '2025-03-01T12:30:00.000Z',
    });
    await api.subscriptions.recordHealth(second.id, { failingSince: '2025-03-01T13:10:00.000Z' });
    await api.subscriptions.recordHealth(second.id, { disable: 'gone' });
    await api.app.request(`/v1/subscriptions/${first.id}/rotate-secret`, postJson({}, auth));

    const response = await api.app.request('/v1/subscriptions', { headers: auth });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain('whsec_');
    expect(text).not.toContain('secret"');
    expect(JSON.parse(text)).toEqual({
      items: [
        {
          id: first.id,
          url: 'https://a.example.com/h',
          enabled: true,
          lastSuccessAt: '2025-03-01T12:30:00.000Z',
          previousSecretsExpireAt: ['2025-03-02T13:00:00.000Z'],
          createdAt: '2025-03-01T12:00:00.000Z',
        },
        {
          id: second.id,
          url: 'https://b.example.com/h',
          stages: ['lead'],
          enabled: false,
          disabledReason: 'gone',
          failingSince: '2025-03-01T13:10:00.000Z',
          createdAt: '2025-03-01T13:00:00.000Z',
        },
      ],
    });
  });

  it('answers an empty list when there is none', async () => {
    const { app } = testApi();
    const response = await app.request('/v1/subscriptions', { headers: auth });
    expect(await response.json()).toEqual({ items: [] });
  });
});

describe('PATCH /v1/subscriptions/{id}', () => {
  it('changes only the fields given; null clears a filter or the description', async () => {
    const { app, subscriptions } = testApi();
    const created = await create(app, {
      url: 'https://crm.example.com/h',
      description: 'old',
      eventTypes: ['contact.erased'],
      stages: ['lead'],
    });
    const response = await app.request(
      `/v1/subscriptions/${created.id}`,
      patchJson({ description: 'new', stages: null }),
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      id: created.id,
      url: 'https://crm.example.com/h',
      description: 'new',
      eventTypes: ['contact.erased'],
      enabled: true,
      createdAt: created.createdAt,
    });
    const stored = await subscriptions.get(created.id);
    expect(stored).not.toHaveProperty('stages');
    expect(stored?.secret).toBe(created.secret);

    await app.request(
      `/v1/subscriptions/${created.id}`,
      patchJson({ eventTypes: ['contact.stage_changed'], stages: ['prospect'], description: null }),
    );
    const again = await subscriptions.get(created.id);
    expect(again).toMatchObject({ eventTypes: ['contact.stage_changed'], stages: ['prospect'] });
    expect(again).not.toHaveProperty('description');
  });

  it('changes the URL after checking it, which starts a clean failure record', async () => {
    const { app, subscriptions } = testApi();
    const created = await create(app, { url: 'https://old.example.com/h' });
    await subscriptions.recordHealth(created.id, { failingSince: '2025-03-01T11:00:00.000Z' });
    const response = await app.request(
      `/v1/subscriptions/${created.id}`,
      patchJson({ url: 'https://new.example.com/h' }),
    );
    expect(response.status).toBe(200);
    const stored = await subscriptions.get(created.id);
    expect(stored?.url).toBe('https://new.example.com/h');
    expect(stored).not.toHaveProperty('failingSince');
  });

  it.each([
    ['a literal private address', 'https://10.0.0.5/h', undefined],
    ['a loopback name', 'https://localhost/h', undefined],
    ['plain http', 'http://crm.example.com/h', undefined],
    ['a name resolving to a private address', 'https://evil.example.com/h', '10.0.0.1'],
  ])(
    'refuses a new URL with %s in production mode (400, #/url), keeping the old one',
    async (_label, url, resolved) => {
      let address = '93.184.216.34';
      const { app, subscriptions } = testApi({
        allowLocal: false,
        resolver: async () => [{ address, family: 4 }],
      });
      const created = await create(app, { url: 'https://crm.example.com/h' });
      if (resolved !== undefined) address = resolved;
      const document = await expectProblem(
        await app.request(`/v1/subscriptions/${created.id}`, patchJson({ url })),
        400,
      );
      expect(document.errors).toEqual([{ pointer: '#/url', detail: expect.any(String) }]);
      expect((await subscriptions.get(created.id))?.url).toBe('https://crm.example.com/h');
    },
  );

  it.each([
    ['enabled that is not a boolean', { enabled: 'yes' }, ['#/enabled']],
    ['an unknown event type', { eventTypes: ['nope'] }, ['#/eventTypes/0']],
    ['an unknown stage', { stages: ['lead', 'won'] }, ['#/stages/1']],
    ['a URL that is not one', { url: 'nope' }, ['#/url']],
    ['an unknown field', { enable: true }, ['#']],
  ])('refuses %s with 400 pointing at it', async (_label, body, pointers) => {
    const { app, subscriptions } = testApi();
    const created = await create(app, { url: 'https://crm.example.com/h' });
    const before = await subscriptions.get(created.id);
    const document = await expectProblem(
      await app.request(`/v1/subscriptions/${created.id}`, patchJson(body)),
      400,
    );
    expect(document.errors?.map((issue) => issue.pointer)).toEqual(pointers);
    expect(await subscriptions.get(created.id)).toEqual(before);
  });

  it('disables with reason manual, and enabling clears the reason and failingSince', async () => {
    const { app, subscriptions } = testApi();
    const created = await create(app, { url: 'https://crm.example.com/h' });
    await subscriptions.recordHealth(created.id, { failingSince: '2025-03-01T10:00:00.000Z' });
    const disabled = await app.request(
      `/v1/subscriptions/${created.id}`,
      patchJson({ enabled: false }),
    );
    expect(await disabled.json()).toMatchObject({ enabled: false, disabledReason: 'manual' });

    const enabled = await app.request(
      `/v1/subscriptions/${created.id}`,
      patchJson({ enabled: true }),
    );
    const body = (await enabled.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ enabled: true, resumed: 0 });
    expect(body).not.toHaveProperty('disabledReason');
    expect(body).not.toHaveProperty('failingSince');
    const stored = await subscriptions.get(created.id);
    expect(stored).toMatchObject({ enabled: true });
    expect(stored).not.toHaveProperty('disabledReason');
    expect(stored).not.toHaveProperty('failingSince');
  });

  it('keeps the reason of a subscription the worker disabled when it is disabled again', async () => {
    const { app, subscriptions } = testApi();
    const created = await create(app, { url: 'https://crm.example.com/h' });
    await subscriptions.recordHealth(created.id, { disable: 'gone' });
    const response = await app.request(
      `/v1/subscriptions/${created.id}`,
      patchJson({ enabled: false }),
    );
    expect(await response.json()).toMatchObject({ enabled: false, disabledReason: 'gone' });
  });

  it('leaves failingSince of an enabled subscription alone when enabled is sent again', async () => {
    const { app, subscriptions } = testApi();
    const created = await create(app, { url: 'https://crm.example.com/h' });
    await subscriptions.recordHealth(created.id, { failingSince: '2025-03-01T10:00:00.000Z' });
    await app.request(`/v1/subscriptions/${created.id}`, patchJson({ enabled: true }));
    expect((await subscriptions.get(created.id))?.failingSince).toBe('2025-03-01T10:00:00.000Z');
  });
});
