import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createDeliverHandler,
  type DeliverDeps,
  DISABLE_AFTER_FAILING_MS,
  LAST_SUCCESS_PRECISION_MS,
  SWEEP_GRACE_MS,
} from '../../../lib/delivery/deliver-handler.ts';
import type { DeliveryJob } from '../../../lib/delivery/job.ts';
import { generateSigningSecret } from '../../../lib/delivery/sign.ts';
import { sweepDueDeliveries } from '../../../lib/delivery/sweep.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import { MemoryQueue } from '../../../lib/queue/memory-queue.ts';
import { MemoryDeliveryStore, MemorySubscriptionStore } from '../../../lib/store/memory-stores.ts';
import { sampleMessage } from '../../support/fixtures.ts';
import { startServer } from '../support/http-server.ts';
import { sqsEvent } from '../support/sqs-event.ts';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function endpoint(status: number, headers: Record<string, string> = {}) {
  const server = await startServer((_request, res: ServerResponse) => {
    res.writeHead(status, headers);
    res.end('answer');
  });
  servers.push(server);
  return server;
}

const job: DeliveryJob = { v: 1, contactId: 'ct_1', subscriptionId: 'sub_1', deliveryId: 'msg_1' };

async function fixture(
  url: string,
  options: { failingSince?: string; enabled?: boolean; schedule?: number[] } = {},
) {
  const clock = { now: new Date('2025-03-01T12:00:00.000Z') };
  const subscriptions = new MemorySubscriptionStore();
  await subscriptions.put({
    id: 'sub_1',
    url,
    secret: generateSigningSecret(),
    enabled: options.enabled ?? true,
    createdAt: '2025-01-01T00:00:00.000Z',
    ...(options.failingSince ? { failingSince: options.failingSince } : {}),
  });
  const deliveries = new MemoryDeliveryStore();
  await deliveries.putIfAbsent({
    deliveryId: 'msg_1',
    subscriptionId: 'sub_1',
    contactId: 'ct_1',
    message: sampleMessage(),
    status: 'pending',
    attemptCount: 0,
    createdAt: '2025-03-01T12:00:00.000Z',
  });
  const deliveryQueue = new MemoryQueue();
  const deadLetters = new MemoryQueue();
  const deps: DeliverDeps = {
    subscriptions,
    deliveries,
    deliveryQueue,
    deadLetters,
    now: () => clock.now,
    logger: silentLogger,
    timeoutMs: 2_000,
    allowLocalTargets: true,
    random: () => 0.5,
    ...(options.schedule ? { retrySchedule: options.schedule } : {}),
  };
  const handler = createDeliverHandler(deps);
  return {
    clock,
    subscriptions,
    deliveries,
    deliveryQueue,
    deadLetters,
    deps,
    run: () => handler(sqsEvent([JSON.stringify(job)])),
  };
}

describe('retries, exhaustion and endpoint health', () => {
  it('leaves a wait past 15 minutes to the sweeper, which queues the job once it is due', async () => {
    const server = await endpoint(500);
    const f = await fixture(server.url, { schedule: [3600] });
    await f.run();
    expect(f.deliveryQueue.sent).toEqual([]);
    expect(await f.deliveries.get('ct_1', 'msg_1')).toMatchObject({
      status: 'failing',
      nextAttemptAt: '2025-03-01T13:00:00.000Z',
    });
    const sweepDeps = {
      deliveries: f.deliveries,
      deliveryQueue: f.deliveryQueue,
      now: () => f.clock.now,
      logger: silentLogger,
    };
    f.clock.now = new Date('2025-03-01T12:59:59.000Z');
    expect(await sweepDueDeliveries(sweepDeps)).toEqual({ queued: 0 });
    f.clock.now = new Date('2025-03-01T13:00:00.000Z');
    expect(await sweepDueDeliveries(sweepDeps)).toEqual({ queued: 1 });
    expect(JSON.parse(f.deliveryQueue.sent[0] ?? '')).toEqual(job);
    // Queued once: the next sweep within the grace period does not queue it again.
    f.clock.now = new Date(f.clock.now.getTime() + SWEEP_GRACE_MS - 1000);
    expect(await sweepDueDeliveries(sweepDeps)).toEqual({ queued: 0 });
  });

  it('marks a delivery exhausted after the last scheduled attempt and records it in the DLQ', async () => {
    const server = await endpoint(503);
    const f = await fixture(server.url, { schedule: [1] });
    await f.run();
    expect(f.deliveryQueue.delays).toEqual([1]);
    f.clock.now = new Date(f.clock.now.getTime() + 1_000);
    await f.run();
    expect(await f.deliveries.get('ct_1', 'msg_1')).toMatchObject({
      status: 'exhausted',
      attemptCount: 2,
    });
    expect(f.deadLetters.sent.map((body) => JSON.parse(body))).toEqual([job]);
    expect(f.deadLetters.attributes[0]).toMatchObject({
      reason: 'exhausted after 2 attempts',
      deliveryId: 'msg_1',
    });
    // No longer due: the sweeper leaves it alone.
    expect(await f.deliveries.listDue('2099-01-01T00:00:00.000Z', 10)).toEqual([]);
  });

  it('disables the subscription at once on 410 Gone and keeps the change', async () => {
    const server = await endpoint(410);
    const f = await fixture(server.url);
    await f.run();
    expect(await f.subscriptions.get('sub_1')).toMatchObject({
      enabled: false,
      disabledReason: 'gone',
    });
    expect(await f.deliveries.get('ct_1', 'msg_1')).toMatchObject({
      status: 'paused',
      attemptCount: 1,
    });
    expect(f.deliveryQueue.sent).toEqual([]);
  });

  it('disables an endpoint that has failed for 5 days straight', async () => {
    const server = await endpoint(500);
    const since = new Date(
      Date.parse('2025-03-01T12:00:00.000Z') - DISABLE_AFTER_FAILING_MS,
    ).toISOString();
    const f = await fixture(server.url, { failingSince: since });
    await f.run();
    expect(await f.subscriptions.get('sub_1')).toMatchObject({
      enabled: false,
      disabledReason: 'failing',
      failingSince: since,
    });
  });

  it('records when failures began, and clears it on the next success', async () => {
    let status = 500;
    const server = await startServer((_request, res: ServerResponse) => {
      res.writeHead(status);
      res.end();
    });
    servers.push(server);
    const f = await fixture(server.url);
    await f.run();
    expect((await f.subscriptions.get('sub_1'))?.failingSince).toBe('2025-03-01T12:00:00.000Z');
    status = 204;
    f.clock.now = new Date('2025-03-01T12:00:05.000Z');
    await f.run();
    const subscription = await f.subscriptions.get('sub_1');
    expect(subscription?.failingSince).toBeUndefined();
    expect(subscription?.lastSuccessAt).toBe('2025-03-01T12:00:05.000Z');
    expect(subscription?.enabled).toBe(true);
  });

  it("rewrites a healthy endpoint's last success at most once per precision interval", async () => {
    const server = await endpoint(204);
    const f = await fixture(server.url);
    let healthWrites = 0;
    const recordHealth = f.subscriptions.recordHealth.bind(f.subscriptions);
    f.subscriptions.recordHealth = (id, change) => {
      healthWrites += 1;
      return recordHealth(id, change);
    };
    const deliverAgainAt = async (at: string) => {
      await f.deliveries.setStatus('ct_1', 'msg_1', 'pending');
      f.clock.now = new Date(at);
      await f.run();
    };
    await f.run();
    expect(healthWrites).toBe(1);
    await deliverAgainAt('2025-03-01T12:00:59.000Z');
    expect(healthWrites).toBe(1);
    expect((await f.subscriptions.get('sub_1'))?.lastSuccessAt).toBe('2025-03-01T12:00:00.000Z');
    await deliverAgainAt(
      new Date(Date.parse('2025-03-01T12:00:00.000Z') + LAST_SUCCESS_PRECISION_MS).toISOString(),
    );
    expect(healthWrites).toBe(2);
    expect((await f.subscriptions.get('sub_1'))?.lastSuccessAt).toBe('2025-03-01T12:01:00.000Z');
    expect(server.received).toHaveLength(3);
  });

  it('writes the start of a failing run once, not on every failed attempt', async () => {
    const server = await endpoint(500);
    const f = await fixture(server.url, { failingSince: '2025-03-01T11:00:00.000Z' });
    let healthWrites = 0;
    const recordHealth = f.subscriptions.recordHealth.bind(f.subscriptions);
    f.subscriptions.recordHealth = (id, change) => {
      healthWrites += 1;
      return recordHealth(id, change);
    };
    await f.run();
    expect(server.received).toHaveLength(1);
    expect(healthWrites).toBe(0);
    expect((await f.subscriptions.get('sub_1'))?.failingSince).toBe('2025-03-01T11:00:00.000Z');
  });

  it('pauses, without a request, a delivery whose subscription is disabled', async () => {
    const server = await endpoint(200);
    const f = await fixture(server.url, { enabled: false });
    await f.run();
    expect(server.received).toHaveLength(0);
    expect(await f.deliveries.get('ct_1', 'msg_1')).toMatchObject({
      status: 'paused',
      attemptCount: 0,
    });
  });
});
