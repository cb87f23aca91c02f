import type { ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeliverHandler, type DeliverDeps } from '../../../lib/delivery/deliver-handler.ts';
import type { DeliveryJob } from '../../../lib/delivery/job.ts';
import { generateSigningSecret } from '../../../lib/delivery/sign.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import { MemoryQueue } from '../../../lib/queue/memory-queue.ts';
import type { DeliveryRecord } from '../../../lib/store/delivery-store.ts';
import { MemoryDeliveryStore, MemorySubscriptionStore } from '../../../lib/store/memory-stores.ts';
import { sampleMessage } from '../../support/fixtures.ts';
import { type Recorded, startServer } from '../support/http-server.ts';
import { sqsEvent } from '../support/sqs-event.ts';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function receiver(respond: (request: Recorded, res: ServerResponse) => void) {
  const server = await startServer(respond);
  servers.push(server);
  return server;
}

const message: DeliveryRecord['message'] = sampleMessage();

async function fixture(
  url: string,
  options: { status?: DeliveryRecord['status']; subscribed?: boolean; timeoutMs?: number } = {},
) {
  const secret = generateSigningSecret();
  const subscriptions = new MemorySubscriptionStore();
  if (options.subscribed !== false) {
    await subscriptions.put({
      id: 'sub_1',
      url,
      secret,
      enabled: true,
      createdAt: '2025-01-01T00:00:00.000Z',
    });
  }
  const deliveries = new MemoryDeliveryStore();
  await deliveries.putIfAbsent({
    deliveryId: 'msg_1',
    subscriptionId: 'sub_1',
    contactId: 'ct_1',
    message,
    status: options.status ?? 'pending',
    attemptCount: 0,
    createdAt: message.timestamp,
  });
  const deliveryQueue = new MemoryQueue();
  // Real time (the receiver checks signatures), shifted forward as a test lets time pass.
  const clock = { offsetMs: 0 };
  const deps: DeliverDeps = {
    subscriptions,
    deliveries,
    deliveryQueue,
    now: () => new Date(Date.now() + clock.offsetMs),
    logger: silentLogger,
    timeoutMs: options.timeoutMs ?? 2_000,
    allowLocalTargets: true,
    // No jitter: the first retry comes exactly 5 s later.
    random: () => 0.5,
  };
  const job: DeliveryJob = {
    v: 1,
    contactId: 'ct_1',
    subscriptionId: 'sub_1',
    deliveryId: 'msg_1',
  };
  return {
    secret,
    deliveries,
    deliveryQueue,
    subscriptions,
    clock,
    handle: () => createDeliverHandler(deps)(sqsEvent([JSON.stringify(job)], ['rec-1'])),
  };
}

const answer =
  (status: number, headers: Record<string, string> = {}) =>
  (_request: Recorded, res: ServerResponse) => {
    res.writeHead(status, headers);
    res.end(`answered ${status}`);
  };

describe('createDeliverHandler', () => {
  it('delivers on 200: records the attempt and sends a verifiable, stable webhook-id', async () => {
    const server = await receiver(answer(200));
    const f = await fixture(server.url);
    const response = await f.handle();
    expect(response.batchItemFailures).toEqual([]);

    expect(server.received).toHaveLength(1);
    const [request] = server.received;
    if (request === undefined) throw new Error('no request');
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/hooks');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['webhook-id']).toBe('msg_1');
    const verified = new Webhook(f.secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    });
    expect(verified).toEqual(message);

    const stored = await f.deliveries.get('ct_1', 'msg_1');
    expect(stored).toMatchObject({
      status: 'delivered',
      attemptCount: 1,
      deliveredAt: stored?.lastAttempt?.at,
      lastAttempt: { statusCode: 200, latencyMs: expect.any(Number), responseBody: 'answered 200' },
    });
    expect(stored?.lastAttempt?.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('marks the delivery failing on 500 and queues its retry 5 s later', async () => {
    const server = await receiver(answer(500));
    const f = await fixture(server.url);
    const response = await f.handle();
    // The retry is scheduled by the handler itself, so the job succeeds.
    expect(response.batchItemFailures).toEqual([]);
    expect(f.deliveryQueue.sent).toHaveLength(1);
    expect(f.deliveryQueue.delays).toEqual([5]);
    expect(server.received).toHaveLength(1);
    const stored = await f.deliveries.get('ct_1', 'msg_1');
    expect(stored).toMatchObject({
      status: 'failing',
      attemptCount: 1,
      lastAttempt: { statusCode: 500 },
    });
    expect(stored?.deliveredAt).toBeUndefined();
  });

  it('keeps the same webhook-id on a retry', async () => {
    let calls = 0;
    const server = await receiver((request, res) =>
      answer(++calls === 1 ? 503 : 204)(request, res),
    );
    const f = await fixture(server.url);
    expect((await f.handle()).batchItemFailures).toEqual([]);
    expect(f.deliveryQueue.sent).toHaveLength(1);
    // A job before the retry is due is a duplicate: nothing is sent.
    expect((await f.handle()).batchItemFailures).toEqual([]);
    expect(server.received).toHaveLength(1);
    // The retry's time comes.
    f.clock.offsetMs = 5_000;
    expect((await f.handle()).batchItemFailures).toEqual([]);
    expect(server.received.map((request) => request.headers['webhook-id'])).toEqual([
      'msg_1',
      'msg_1',
    ]);
    expect(await f.deliveries.get('ct_1', 'msg_1')).toMatchObject({
      status: 'delivered',
      attemptCount: 2,
    });
  });

  it('does not follow a redirect: a 302 is a failed attempt', async () => {
    const elsewhere = await receiver(answer(200));
    const server = await receiver(answer(302, { location: elsewhere.url }));
    const f = await fixture(server.url);
    const response = await f.handle();
    expect(response.batchItemFailures).toEqual([]);
    expect(server.received).toHaveLength(1);
    expect(elsewhere.received).toHaveLength(0);
    expect(await f.deliveries.get('ct_1', 'msg_1')).toMatchObject({
      status: 'failing',
      lastAttempt: { statusCode: 302 },
    });
  });

  it('fails an attempt the receiver never answers, after the timeout', async () => {
    const server = await receiver(() => {
      // Never answer.
    });
    const f = await fixture(server.url, { timeoutMs: 200 });
    const started = performance.now();
    const response = await f.handle();
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(response.batchItemFailures).toEqual([]);
    const stored = await f.deliveries.get('ct_1', 'msg_1');
    expect(stored?.status).toBe('failing');
    expect(stored?.lastAttempt?.statusCode).toBeUndefined();
    expect(stored?.lastAttempt?.error).toMatch(/timed out/);
  });

  it('fails an attempt whose connection is refused', async () => {
    const server = await receiver(answer(200));
    const url = server.url;
    await server.close();
    const f = await fixture(url);
    const response = await f.handle();
    expect(response.batchItemFailures).toEqual([]);
    expect((await f.deliveries.get('ct_1', 'msg_1'))?.lastAttempt?.error).toEqual(
      expect.any(String),
    );
  });

  it('sends nothing for a delivery that was delivered already', async () => {
    const server = await receiver(answer(200));
    const f = await fixture(server.url, { status: 'delivered' });
    expect((await f.handle()).batchItemFailures).toEqual([]);
    expect(server.received).toHaveLength(0);
    expect((await f.deliveries.get('ct_1', 'msg_1'))?.attemptCount).toBe(0);
  });

  it('cancels, without a request, a delivery whose subscription was deleted', async () => {
    const server = await receiver(answer(200));
    const f = await fixture(server.url, { subscribed: false });
    expect((await f.handle()).batchItemFailures).toEqual([]);
    expect(server.received).toHaveLength(0);
    expect(await f.deliveries.get('ct_1', 'msg_1')).toMatchObject({
      status: 'cancelled',
      attemptCount: 0,
    });
  });

  it('reports a record whose body is not a delivery job', async () => {
    const f = await fixture('http://127.0.0.1:9/hooks');
    const handler = createDeliverHandler({
      subscriptions: new MemorySubscriptionStore(),
      deliveries: f.deliveries,
      deliveryQueue: new MemoryQueue(),
      now: () => new Date(),
      logger: silentLogger,
    });
    const response = await handler(sqsEvent(['not json', '{"v":2}'], ['a', 'b']));
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual([
      'a',
      'b',
    ]);
  });
});
