import type { ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { signDelivery } from '../../../lib/delivery/sign.ts';
import { signingSecrets } from '../../../lib/store/subscription-store.ts';
import { auth, postJson, TEST_NOW, testApi } from '../support/api.ts';
import { type Recorded, startServer } from '../support/http-server.ts';
import { expectProblem } from '../support/problem.ts';

interface WithSecret {
  id: string;
  url: string;
  secret: string;
  previousSecretsExpireAt?: string[];
}

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function receiver(respond: (request: Recorded, res: ServerResponse) => void) {
  const server = await startServer(respond);
  servers.push(server);
  return server;
}

type App = ReturnType<typeof testApi>['app'];

async function create(app: App, url = 'https://crm.example.com/h'): Promise<WithSecret> {
  const response = await app.request('/v1/subscriptions', postJson({ url }, auth));
  expect(response.status).toBe(201);
  return (await response.json()) as WithSecret;
}

async function rotate(app: App, id: string, body?: unknown) {
  return app.request(
    `/v1/subscriptions/${id}/rotate-secret`,
    body === undefined ? { method: 'POST', headers: auth } : postJson(body, auth),
  );
}

/** A delivery body signed as the deliver worker signs it at `at`, with real-time headers. */
function signedAt(secrets: string[]) {
  const body = JSON.stringify({ type: 'contact.erased', data: { contact: { id: 'ct_1' } } });
  const headers = signDelivery({ id: 'msg_1', timestamp: new Date(), body }, secrets);
  return { body, headers: { ...headers } };
}

describe('POST /v1/subscriptions/{id}/rotate-secret', () => {
  it('returns a new secret once; the old one keeps signing beside it for a day', async () => {
    const { app, subscriptions } = testApi();
    const created = await create(app);
    const response = await rotate(app, created.id);
    expect(response.status).toBe(200);
    const rotated = (await response.json()) as WithSecret;
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);
    expect(rotated.previousSecretsExpireAt).toEqual(['2025-03-02T12:00:00.000Z']);

    const stored = await subscriptions.get(created.id);
    expect(stored?.secret).toBe(rotated.secret);
    expect(stored?.previousSecrets).toEqual([
      { secret: created.secret, expiresAt: '2025-03-02T12:00:00.000Z' },
    ]);
    // GET shows neither secret again.
    const read = await (
      await app.request(`/v1/subscriptions/${created.id}`, { headers: auth })
    ).text();
    expect(read).not.toContain('whsec_');

    // A delivery signed after the rotation verifies with BOTH secrets (standardwebhooks).
    if (stored === undefined) throw new Error('stored');
    const secrets = signingSecrets(stored, TEST_NOW);
    expect(secrets).toEqual([rotated.secret, created.secret]);
    const { body, headers } = signedAt(secrets);
    expect(new Webhook(rotated.secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(created.secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('stops signing with the old secret once the overlap has passed', async () => {
    const { app, subscriptions } = testApi();
    const created = await create(app);
    const rotated = (await (
      await rotate(app, created.id, { overlapSeconds: 3600 })
    ).json()) as WithSecret;
    const stored = await subscriptions.get(created.id);
    if (stored === undefined) throw new Error('stored');
    expect(stored.previousSecrets?.[0]?.expiresAt).toBe('2025-03-01T13:00:00.000Z');
    const later = new Date('2025-03-01T13:00:00.001Z');
    expect(signingSecrets(stored, later)).toEqual([rotated.secret]);
    const { body, headers } = signedAt(signingSecrets(stored, later));
    expect(() => new Webhook(created.secret).verify(body, headers)).toThrow(
      /No matching signature/,
    );
    expect(new Webhook(rotated.secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('drops the old secret at once with overlapSeconds 0', async () => {
    const { app, subscriptions } = testApi();
    const created = await create(app);
    const rotated = (await (
      await rotate(app, created.id, { overlapSeconds: 0 })
    ).json()) as WithSecret;
    expect(rotated).not.toHaveProperty('previousSecretsExpireAt');
    const stored = await subscriptions.get(created.id);
    expect(stored).not.toHaveProperty('previousSecrets');
    if (stored === undefined) throw new Error('stored');
    expect(signingSecrets(stored, TEST_NOW)).toEqual([rotated.secret]);
  });

  it('prunes previous secrets that have expired and keeps those still signing', async () => {
    let clock = new Date(TEST_NOW);
    const { app, subscriptions } = testApi({ now: () => new Date(clock) });
    const created = await create(app);
    const second = (await (
      await rotate(app, created.id, { overlapSeconds: 600 })
    ).json()) as WithSecret;
    clock = new Date('2025-03-01T12:05:00.000Z');
    const third = (await (
      await rotate(app, created.id, { overlapSeconds: 3600 })
    ).json()) as WithSecret;
    expect((await subscriptions.get(created.id))?.previousSecrets).toEqual([
      { secret: created.secret, expiresAt: '2025-03-01T12:10:00.000Z' },
      { secret: second.secret, expiresAt: '2025-03-01T13:05:00.000Z' },
    ]);
    clock = new Date('2025-03-01T12:30:00.000Z');
    const fourth = (await (await rotate(app, created.id, {})).json()) as WithSecret;
    expect(fourth.previousSecretsExpireAt).toEqual([
      '2025-03-01T13:05:00.000Z',
      '2025-03-02T12:30:00.000Z',
    ]);
    expect((await subscriptions.get(created.id))?.previousSecrets).toEqual([
      { secret: second.secret, expiresAt: '2025-03-01T13:05:00.000Z' },
      { secret: third.secret, expiresAt: '2025-03-02T12:30:00.000Z' },
    ]);
  });

  it.each([
    ['more than 7 days', { overlapSeconds: 7 * 86_400 + 1 }, '#/overlapSeconds'],
    ['a negative overlap', { overlapSeconds: -1 }, '#/overlapSeconds'],
    ['a fractional overlap', { overlapSeconds: 1.5 }, '#/overlapSeconds'],
    ['an overlap given as a string', { overlapSeconds: '60' }, '#/overlapSeconds'],
    ['an unknown field', { overlap: 60 }, '#'],
  ])('refuses %s with 400 and keeps the secret', async (_label, body, pointer) => {
    const { app, subscriptions } = testApi();
    const created = await create(app);
    const document = await expectProblem(await rotate(app, created.id, body), 400);
    expect(document.errors?.map((issue) => issue.pointer)).toEqual([pointer]);
    expect((await subscriptions.get(created.id))?.secret).toBe(created.secret);
  });

  it('accepts the longest overlap, 7 days', async () => {
    const { app } = testApi();
    const created = await create(app);
    const response = await rotate(app, created.id, { overlapSeconds: 7 * 86_400 });
    expect(((await response.json()) as WithSecret).previousSecretsExpireAt).toEqual([
      '2025-03-08T12:00:00.000Z',
    ]);
  });
});

describe('POST /v1/subscriptions/{id}/ping', () => {
  it('POSTs a signed webhook.ping to the endpoint and reports the answer', async () => {
    const server = await receiver((_request, res) => res.writeHead(204).end());
    const { app } = testApi({ allowLocal: true, now: () => new Date() });
    const created = await create(app, server.url);
    const response = await app.request(`/v1/subscriptions/${created.id}/ping`, {
      method: 'POST',
      headers: auth,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      ok: true,
      statusCode: 204,
      latencyMs: expect.any(Number),
    });

    expect(server.received).toHaveLength(1);
    const [request] = server.received;
    if (request === undefined) throw new Error('no request');
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/hooks');
    expect(request.headers['webhook-id']).toMatch(/^ping_[0-9a-f]{32}$/);
    const verified = new Webhook(created.secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    });
    expect(verified).toEqual({
      type: 'webhook.ping',
      timestamp: expect.any(String),
      data: { subscriptionId: created.id },
    });
  });

  it('signs the ping with both secrets during a rotation', async () => {
    const server = await receiver((_request, res) => res.writeHead(200).end('ok'));
    const { app } = testApi({ allowLocal: true, now: () => new Date() });
    const created = await create(app, server.url);
    const rotated = (await (await rotate(app, created.id)).json()) as WithSecret;
    await app.request(`/v1/subscriptions/${created.id}/ping`, { method: 'POST', headers: auth });
    const request = server.received[0];
    if (request === undefined) throw new Error('no request');
    const headers = {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    };
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(created.secret).verify(request.body, headers)).not.toThrow();
    expect(() => new Webhook(rotated.secret).verify(request.body, headers)).not.toThrow();
  });

  it('reports a 500 as a failure with its status, and leaves the health alone', async () => {
    const server = await receiver((_request, res) => res.writeHead(500).end('boom'));
    const { app, subscriptions } = testApi({ allowLocal: true, now: () => new Date() });
    const created = await create(app, server.url);
    const before = await subscriptions.get(created.id);
    const response = await app.request(`/v1/subscriptions/${created.id}/ping`, {
      method: 'POST',
      headers: auth,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      ok: false,
      statusCode: 500,
      latencyMs: expect.any(Number),
    });
    expect(await subscriptions.get(created.id)).toEqual(before);
  });

  it('reports an endpoint that does not answer with the error', async () => {
    const server = await receiver((_request, res) => res.writeHead(204).end());
    const { app } = testApi({ allowLocal: true, now: () => new Date() });
    const created = await create(app, server.url);
    await server.close();
    const response = await app.request(`/v1/subscriptions/${created.id}/ping`, {
      method: 'POST',
      headers: auth,
    });
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({ ok: false, latencyMs: expect.any(Number), error: expect.any(String) });
  });

  it('refuses to connect when the name now resolves to a private address (no request made)', async () => {
    let address = '93.184.216.34';
    const { app } = testApi({
      allowLocal: false,
      resolver: async () => [{ address, family: 4 }],
    });
    const created = await create(app, 'https://crm.example.com/h');
    address = '10.0.0.1';
    const response = await app.request(`/v1/subscriptions/${created.id}/ping`, {
      method: 'POST',
      headers: auth,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      ok: false,
      latencyMs: expect.any(Number),
      error: expect.stringMatching(/private/),
    });
  });

  it('refuses a loopback endpoint outside local mode without connecting', async () => {
    const server = await receiver((_request, res) => res.writeHead(204).end());
    const { app, subscriptions } = testApi({ allowLocal: false });
    // Stored directly: create would refuse it in production mode.
    await subscriptions.put({
      id: 'sub_loop',
      url: server.url,
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      enabled: true,
      createdAt: TEST_NOW.toISOString(),
    });
    const response = await app.request('/v1/subscriptions/sub_loop/ping', {
      method: 'POST',
      headers: auth,
    });
    expect(await response.json()).toEqual({
      ok: false,
      latencyMs: expect.any(Number),
      error: expect.stringMatching(/^target refused/),
    });
    expect(server.received).toEqual([]);
  });

  it('pings a disabled subscription too', async () => {
    const server = await receiver((_request, res) => res.writeHead(204).end());
    const { app, subscriptions } = testApi({ allowLocal: true, now: () => new Date() });
    const created = await create(app, server.url);
    await subscriptions.recordHealth(created.id, { disable: 'gone' });
    const response = await app.request(`/v1/subscriptions/${created.id}/ping`, {
      method: 'POST',
      headers: auth,
    });
    expect(await response.json()).toMatchObject({ ok: true, statusCode: 204 });
    expect((await subscriptions.get(created.id))?.enabled).toBe(false);
  });
});
