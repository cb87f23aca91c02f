import type { ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeliverHandler } from '../../../lib/delivery/deliver-handler.ts';
import { deliveryIdFor } from '../../../lib/delivery/ids.ts';
import type { DeliveryJob } from '../../../lib/delivery/job.ts';
import type { DeliveryRecord, DeliveryStatus } from '../../../lib/store/delivery-store.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { auth, patchJson, postJson, TEST_NOW, testApi } from '../support/api.ts';
import { type Recorded, startServer } from '../support/http-server.ts';
import { expectProblem } from '../support/problem.ts';
import { sqsEvent } from '../support/sqs-event.ts';

type Api = ReturnType<typeof testApi>;

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function receiver(respond: (request: Recorded, res: ServerResponse) => void) {
  const server = await startServer(respond);
  servers.push(server);
  return server;
}

async function create(api: Api, url = 'https://crm.example.com/h') {
  const response = await api.app.request('/v1/subscriptions', postJson({ url }, auth));
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; secret: string };
}

/** Stores a delivery of `subscriptionId` for contact number `n`, created at `createdAt`. */
async function seed(
  api: Api,
  subscriptionId: string,
  n: number,
  status: DeliveryStatus,
  createdAt: string,
): Promise<DeliveryRecord> {
  const contactId = contactIdFor(`person${n}@example.com`);
  const delivery: DeliveryRecord = {
    deliveryId: deliveryIdFor(contactId, 1, subscriptionId),
    subscriptionId,
    contactId,
    message: {
      type: 'contact.erased',
      timestamp: createdAt,
      data: { contact: { id: contactId }, erasedAt: createdAt },
    },
    status,
    attemptCount: status === 'pending' ? 0 : 1,
    ...(status === 'pending'
      ? {}
      : { lastAttempt: { at: createdAt, statusCode: 503, latencyMs: 12, responseBody: 'busy' } }),
    createdAt,
  };
  await api.deliveries.putIfAbsent(delivery);
  return delivery;
}

const minutesAfter = (base: Date, minutes: number) =>
  new Date(base.getTime() + minutes * 60_000).toISOString();

describe('PATCH {enabled: true} resumes paused deliveries', () => {
  it('resumes every paused delivery of the subscription (all pages), which the sweeper then finds due', async () => {
    const api = testApi();
    const subscription = await create(api);
    const other = await create(api, 'https://other.example.com/h');
    await api.app.request(`/v1/subscriptions/${subscription.id}`, patchJson({ enabled: false }));
    await api.subscriptions.recordHealth(subscription.id, {
      failingSince: '2025-03-01T09:00:00.000Z',
    });

    // More paused deliveries than one collection page holds (1,000).
    const paused: DeliveryRecord[] = [];
    for (let n = 0; n < 1_005; n++) {
      paused.push(await seed(api, subscription.id, n, 'paused', minutesAfter(TEST_NOW, -n - 10)));
    }
    const delivered = await seed(
      api,
      subscription.id,
      5_000,
      'delivered',
      minutesAfter(TEST_NOW, -1),
    );
    const exhausted = await seed(
      api,
      subscription.id,
      5_001,
      'exhausted',
      minutesAfter(TEST_NOW, -2),
    );
    const otherPaused = await seed(api, other.id, 5_002, 'paused', minutesAfter(TEST_NOW, -3));
    expect(await api.deliveries.listDue(TEST_NOW.toISOString(), 5_000)).toEqual([]);

    const response = await api.app.request(
      `/v1/subscriptions/${subscription.id}`,
      patchJson({ enabled: true }),
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ id: subscription.id, enabled: true, resumed: 1_005 });
    expect(body).not.toHaveProperty('disabledReason');
    expect(body).not.toHaveProperty('failingSince');

    const due = await api.deliveries.listDue(TEST_NOW.toISOString(), 5_000);
    expect(due.map((item) => item.deliveryId).sort()).toEqual(
      paused.map((item) => item.deliveryId).sort(),
    );
    for (const item of paused.slice(0, 3)) {
      expect((await api.deliveries.get(item.contactId, item.deliveryId))?.status).toBe('pending');
    }
    expect((await api.deliveries.get(delivered.contactId, delivered.deliveryId))?.status).toBe(
      'delivered',
    );
    expect((await api.deliveries.get(exhausted.contactId, exhausted.deliveryId))?.status).toBe(
      'exhausted',
    );
    expect((await api.deliveries.get(otherPaused.contactId, otherPaused.deliveryId))?.status).toBe(
      'paused',
    );
    // Nothing is queued directly: the sweeper takes them.
    expect(api.deliveryQueue.sent).toEqual([]);
  });

  it('does not resume anything on disable or on other changes', async () => {
    const api = testApi();
    const subscription = await create(api);
    const paused = await seed(api, subscription.id, 1, 'paused', minutesAfter(TEST_NOW, -5));
    const disabled = await api.app.request(
      `/v1/subscriptions/${subscription.id}`,
      patchJson({ enabled: false, description: 'off for maintenance' }),
    );
    expect(await disabled.json()).not.toHaveProperty('resumed');
    expect((await api.deliveries.get(paused.contactId, paused.deliveryId))?.status).toBe('paused');
  });
});

describe('GET /v1/subscriptions/{id}/deliveries', () => {
  async function fixture() {
    const api = testApi();
    const subscription = await create(api);
    const other = await create(api, 'https://other.example.com/h');
    const statuses: DeliveryStatus[] = [
      'delivered',
      'failing',
      'delivered',
      'exhausted',
      'delivered',
    ];
    const seeded: DeliveryRecord[] = [];
    for (const [n, status] of statuses.entries()) {
      seeded.push(await seed(api, subscription.id, n, status, minutesAfter(TEST_NOW, -60 + n)));
    }
    await seed(api, other.id, 99, 'delivered', minutesAfter(TEST_NOW, -1));
    return { api, subscription, seeded };
  }

  type Page = { items: { deliveryId: string; status: string }[]; nextCursor?: string };

  it('pages newest first with a cursor, only this subscription, summaries only', async () => {
    const { api, subscription, seeded } = await fixture();
    const path = `/v1/subscriptions/${subscription.id}/deliveries`;
    const first = await api.app.request(`${path}?limit=2`, { headers: auth });
    expect(first.status).toBe(200);
    const page1 = (await first.json()) as Page;
    const newest = seeded[4];
    if (newest === undefined) throw new Error('seed');
    expect(page1.items[0]).toEqual({
      deliveryId: newest.deliveryId,
      contactId: newest.contactId,
      eventType: 'contact.erased',
      status: 'delivered',
      attemptCount: 1,
      lastAttempt: { at: newest.createdAt, statusCode: 503, latencyMs: 12, responseBody: 'busy' },
      createdAt: newest.createdAt,
    });
    expect(page1.nextCursor).toEqual(expect.any(String));

    const ids = page1.items.map((item) => item.deliveryId);
    let cursor = page1.nextCursor;
    while (cursor !== undefined) {
      const page = (await (
        await api.app.request(`${path}?limit=2&cursor=${encodeURIComponent(cursor)}`, {
          headers: auth,
        })
      ).json()) as Page;
      ids.push(...page.items.map((item) => item.deliveryId));
      cursor = page.nextCursor;
    }
    expect(ids).toEqual(seeded.map((item) => item.deliveryId).reverse());
  });

  it('filters by status', async () => {
    const { api, subscription, seeded } = await fixture();
    const response = await api.app.request(
      `/v1/subscriptions/${subscription.id}/deliveries?status=delivered`,
      { headers: auth },
    );
    const page = (await response.json()) as Page;
    expect(page.items.map((item) => item.deliveryId)).toEqual(
      [seeded[4], seeded[2], seeded[0]].map((item) => item?.deliveryId),
    );
    expect(page.items.every((item) => item.status === 'delivered')).toBe(true);
    expect(page).not.toHaveProperty('nextCursor');
  });

  it.each([
    ['an unknown status', 'status=lost', '#/status'],
    ['a limit of 0', 'limit=0', '#/limit'],
    ['a limit above 100', 'limit=101', '#/limit'],
    ['a cursor this list did not hand out', 'cursor=bm9wZQ', '#/cursor'],
  ])('refuses %s with 400', async (_label, query, pointer) => {
    const { api, subscription } = await fixture();
    const document = await expectProblem(
      await api.app.request(`/v1/subscriptions/${subscription.id}/deliveries?${query}`, {
        headers: auth,
      }),
      400,
    );
    expect(document.errors?.map((issue) => issue.pointer)).toEqual([pointer]);
  });
});

describe('POST /v1/subscriptions/{id}/deliveries/{deliveryId}/redeliver', () => {
  const redeliver = (api: Api, subscriptionId: string, deliveryId: string) =>
    api.app.request(`/v1/subscriptions/${subscriptionId}/deliveries/${deliveryId}/redeliver`, {
      method: 'POST',
      headers: auth,
    });

  it('resumes the delivery and queues exactly one job for it at once', async () => {
    const api = testApi();
    const subscription = await create(api);
    const delivery = await seed(api, subscription.id, 1, 'exhausted', minutesAfter(TEST_NOW, -90));
    const response = await redeliver(api, subscription.id, delivery.deliveryId);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ deliveryId: delivery.deliveryId });

    expect(api.deliveryQueue.sent.map((body) => JSON.parse(body))).toEqual([
      {
        v: 1,
        contactId: delivery.contactId,
        subscriptionId: subscription.id,
        deliveryId: delivery.deliveryId,
      } satisfies DeliveryJob,
    ]);
    expect(api.deliveryQueue.delays).toEqual([0]);
    const stored = await api.deliveries.get(delivery.contactId, delivery.deliveryId);
    expect(stored).toMatchObject({ status: 'pending', attemptCount: 1 });
    // Queued now: the sweeper takes it only if the job never runs (after its grace period).
    expect(await api.deliveries.listDue(TEST_NOW.toISOString(), 10)).toEqual([]);
    expect(
      (await api.deliveries.listDue(minutesAfter(TEST_NOW, 5), 10)).map((d) => d.deliveryId),
    ).toEqual([delivery.deliveryId]);
  });

  it('the queued job is sent by the deliver worker, signed, with the same webhook-id', async () => {
    const server = await receiver((_request, res) => res.writeHead(200).end());
    const api = testApi({ allowLocal: true, now: () => new Date() });
    const subscription = await create(api, server.url);
    const delivery = await seed(api, subscription.id, 1, 'delivered', new Date().toISOString());
    expect((await redeliver(api, subscription.id, delivery.deliveryId)).status).toBe(202);
    const handle = createDeliverHandler({
      subscriptions: api.subscriptions,
      deliveries: api.deliveries,
      deliveryQueue: api.deliveryQueue,
      now: () => new Date(),
      logger: api.logger,
      allowLocalTargets: true,
    });
    expect(await handle(sqsEvent(api.deliveryQueue.sent))).toEqual({ batchItemFailures: [] });
    expect(server.received).toHaveLength(1);
    const request = server.received[0];
    if (request === undefined) throw new Error('no request');
    expect(request.headers['webhook-id']).toBe(delivery.deliveryId);
    expect(() =>
      new Webhook(subscription.secret).verify(request.body, {
        'webhook-id': String(request.headers['webhook-id']),
        'webhook-timestamp': String(request.headers['webhook-timestamp']),
        'webhook-signature': String(request.headers['webhook-signature']),
      }),
    ).not.toThrow();
    expect(await api.deliveries.get(delivery.contactId, delivery.deliveryId)).toMatchObject({
      status: 'delivered',
      attemptCount: 2,
    });
  });

  it("answers 404 for another subscription's delivery and queues nothing", async () => {
    const api = testApi();
    const subscription = await create(api);
    const other = await create(api, 'https://other.example.com/h');
    const foreign = await seed(api, other.id, 1, 'delivered', minutesAfter(TEST_NOW, -5));
    await expectProblem(await redeliver(api, subscription.id, foreign.deliveryId), 404);
    expect(api.deliveryQueue.sent).toEqual([]);
    expect((await api.deliveries.get(foreign.contactId, foreign.deliveryId))?.status).toBe(
      'delivered',
    );
  });

  it('answers 404 for a well-formed id that names no delivery', async () => {
    const api = testApi();
    const subscription = await create(api);
    const contactId = contactIdFor('nobody@example.com');
    await expectProblem(
      await redeliver(api, subscription.id, deliveryIdFor(contactId, 1, subscription.id)),
      404,
    );
    expect(api.deliveryQueue.sent).toEqual([]);
  });

  it.each(['msg_1', 'evt_97f63aac346999c85faa4657_1a2b3c4d5e6f', 'ping_abc'])(
    'answers 400 for %s, which is not one of our delivery ids',
    async (deliveryId) => {
      const api = testApi();
      const subscription = await create(api);
      const document = await expectProblem(await redeliver(api, subscription.id, deliveryId), 400);
      expect(document.errors?.map((issue) => issue.pointer)).toEqual(['#/deliveryId']);
      expect(api.deliveryQueue.sent).toEqual([]);
    },
  );
});

describe('POST /v1/subscriptions/{id}/replay', () => {
  const replay = (api: Api, subscriptionId: string, body: unknown) =>
    api.app.request(`/v1/subscriptions/${subscriptionId}/replay`, postJson(body, auth));

  it('resumes every delivery created in [from, to], whatever its status, and nothing else', async () => {
    const api = testApi();
    const subscription = await create(api);
    const other = await create(api, 'https://other.example.com/h');
    const before = await seed(api, subscription.id, 1, 'delivered', '2025-02-04T23:59:59.999Z');
    const atFrom = await seed(api, subscription.id, 2, 'delivered', '2025-02-05T00:00:00.000Z');
    const inside = [
      atFrom,
      await seed(api, subscription.id, 3, 'exhausted', '2025-02-07T10:00:00.000Z'),
      await seed(api, subscription.id, 4, 'cancelled', '2025-02-08T10:00:00.000Z'),
      await seed(api, subscription.id, 5, 'paused', '2025-02-09T10:00:00.000Z'),
      await seed(api, subscription.id, 6, 'failing', '2025-02-10T00:00:00.000Z'),
    ];
    const after = await seed(api, subscription.id, 7, 'delivered', '2025-02-10T00:00:00.001Z');
    const otherInside = await seed(api, other.id, 8, 'delivered', '2025-02-06T00:00:00.000Z');

    // `to` with an offset: 2025-02-10T00:00:00Z.
    const response = await replay(api, subscription.id, {
      from: '2025-02-05T00:00:00Z',
      to: '2025-02-10T01:00:00+01:00',
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ resumed: 5, capped: false });

    for (const item of inside) {
      expect((await api.deliveries.get(item.contactId, item.deliveryId))?.status).toBe('pending');
    }
    for (const item of [before, after, otherInside]) {
      expect((await api.deliveries.get(item.contactId, item.deliveryId))?.status).toBe('delivered');
    }
    const due = await api.deliveries.listDue(TEST_NOW.toISOString(), 100);
    expect(due.map((item) => item.deliveryId).sort()).toEqual(
      inside.map((item) => item.deliveryId).sort(),
    );
    expect(api.deliveryQueue.sent).toEqual([]);
  });

  it('resumes at most 10,000 (the newest) and says it was capped', async () => {
    const api = testApi();
    const subscription = await create(api);
    const base = new Date('2025-02-01T00:00:00.000Z');
    const seeded: DeliveryRecord[] = [];
    for (let n = 0; n < 10_001; n++) {
      seeded.push(await seed(api, subscription.id, n, 'delivered', minutesAfter(base, n)));
    }
    const response = await replay(api, subscription.id, {
      from: '2025-02-01T00:00:00Z',
      to: '2025-02-28T00:00:00Z',
    });
    expect(await response.json()).toEqual({ resumed: 10_000, capped: true });
    const oldest = seeded[0];
    if (oldest === undefined) throw new Error('seed');
    expect((await api.deliveries.get(oldest.contactId, oldest.deliveryId))?.status).toBe(
      'delivered',
    );
  }, 30_000);

  it('answers resumed 0 for an empty range', async () => {
    const api = testApi();
    const subscription = await create(api);
    const response = await replay(api, subscription.id, {
      from: '2025-01-01T00:00:00Z',
      to: '2025-01-01T00:00:00Z',
    });
    expect(await response.json()).toEqual({ resumed: 0, capped: false });
  });

  it.each([
    ['to before from', { from: '2025-02-02T00:00:00Z', to: '2025-02-01T00:00:00Z' }, ['#/to']],
    [
      'a range of more than 31 days',
      { from: '2025-01-01T00:00:00Z', to: '2025-02-01T00:00:00.001Z' },
      ['#/to'],
    ],
    [
      'a from that is not a date-time',
      { from: '2025-02-01', to: '2025-02-02T00:00:00Z' },
      ['#/from'],
    ],
    ['a missing to', { from: '2025-02-01T00:00:00Z' }, ['#/to']],
  ])('refuses %s with 400', async (_label, body, pointers) => {
    const api = testApi();
    const subscription = await create(api);
    const delivery = await seed(api, subscription.id, 1, 'delivered', '2025-02-01T12:00:00.000Z');
    const document = await expectProblem(await replay(api, subscription.id, body), 400);
    expect(document.errors?.map((issue) => issue.pointer)).toEqual(pointers);
    expect((await api.deliveries.get(delivery.contactId, delivery.deliveryId))?.status).toBe(
      'delivered',
    );
  });

  it('accepts exactly 31 days', async () => {
    const api = testApi();
    const subscription = await create(api);
    const response = await replay(api, subscription.id, {
      from: '2025-01-01T00:00:00Z',
      to: '2025-02-01T00:00:00Z',
    });
    expect(response.status).toBe(202);
  });
});
