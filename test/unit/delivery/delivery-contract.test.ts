import type { ServerResponse } from 'node:http';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterEach, describe, expect, it } from 'vitest';
import { applyEvent } from '../../../lib/classify/apply-event.ts';
import { parseAppConfig } from '../../../lib/config/app-config.ts';
import {
  createDeliverHandler,
  type DeliverDeps,
  SWEEP_GRACE_MS,
} from '../../../lib/delivery/deliver-handler.ts';
import type { DeliveryJob } from '../../../lib/delivery/job.ts';
import { generateSigningSecret } from '../../../lib/delivery/sign.ts';
import { sweepDueDeliveries } from '../../../lib/delivery/sweep.ts';
import { leadEventSchema } from '../../../lib/domain/events.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import { MemoryQueue } from '../../../lib/queue/memory-queue.ts';
import { NEW_DELIVERY_GRACE_MS } from '../../../lib/store/delivery-store.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { classifyFixture, formEvent, subscription } from '../support/classify.ts';
import { type Recorded, startServer } from '../support/http-server.ts';
import { sqsEvent } from '../support/sqs-event.ts';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function endpoint(respond: (request: Recorded, res: ServerResponse) => void) {
  const server = await startServer(respond);
  servers.push(server);
  return server;
}

/** A contact with one delivery for `url`, and a deliver handler on the same memory stores. */
async function pipelineTo(url: string, options: { previousSecret?: string } = {}) {
  const secret = generateSigningSecret();
  const clock = { now: new Date('2025-03-01T12:00:00.000Z') };
  const f = await classifyFixture([
    {
      ...subscription('sub_1'),
      url,
      secret,
      ...(options.previousSecret
        ? {
            previousSecrets: [
              { secret: options.previousSecret, expiresAt: '2099-01-01T00:00:00.000Z' },
            ],
          }
        : {}),
    },
  ]);
  f.deps.now = () => clock.now;
  await applyEvent(formEvent('evt_1'), f.deps);
  const deliverDeps: DeliverDeps = {
    subscriptions: f.subscriptions,
    deliveries: f.deliveries,
    deliveryQueue: f.deliveryQueue,
    now: () => clock.now,
    logger: silentLogger,
    allowLocalTargets: true,
    random: () => 0.5,
    timeoutMs: 2_000,
  };
  const deliver = createDeliverHandler(deliverDeps);
  const drain = async () => {
    const jobs = f.deliveryQueue.sent.splice(0);
    f.deliveryQueue.delays.splice(0);
    if (jobs.length > 0) await deliver(sqsEvent(jobs));
  };
  return { f, secret, clock, deliver, drain };
}

const headersOf = (request: Recorded) => ({
  'webhook-id': String(request.headers['webhook-id']),
  'webhook-timestamp': String(request.headers['webhook-timestamp']),
  'webhook-signature': String(request.headers['webhook-signature']),
});

describe('the webhook contract', () => {
  it('is verified by both the standardwebhooks and the svix libraries, with either secret during a rotation', async () => {
    const received: Recorded[] = [];
    const server = await endpoint((request, res) => {
      received.push(request);
      res.writeHead(204);
      res.end();
    });
    const oldSecret = generateSigningSecret();
    const { secret, clock, drain } = await pipelineTo(server.url, { previousSecret: oldSecret });
    // Signed at the real time, so the libraries' 5-minute tolerance holds.
    clock.now = new Date();
    await drain();
    const [request] = received;
    if (request === undefined) throw new Error('no request');
    expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const key of [secret, oldSecret]) {
      expect(() => new StandardWebhook(key).verify(request.body, headersOf(request))).not.toThrow();
      expect(() => new SvixWebhook(key).verify(request.body, headersOf(request))).not.toThrow();
    }
    expect(() =>
      new SvixWebhook(generateSigningSecret()).verify(request.body, headersOf(request)),
    ).toThrow();
  });

  it('honours 429 with Retry-After: the retry waits as long as the subscriber asked', async () => {
    const server = await endpoint((_request, res) => {
      res.writeHead(429, { 'retry-after': '120' });
      res.end();
    });
    const { f, drain } = await pipelineTo(server.url);
    await drain();
    expect(f.deliveryQueue.delays).toEqual([120]);
    const [delivery] = f.deliveries.all();
    expect(delivery).toMatchObject({ status: 'failing', lastAttempt: { statusCode: 429 } });
  });

  it('the sweeper recovers a delivery whose job was lost, after the grace period, and it is delivered', async () => {
    const received: Recorded[] = [];
    const server = await endpoint((request, res) => {
      received.push(request);
      res.writeHead(200);
      res.end();
    });
    const { f, clock, deliver } = await pipelineTo(server.url);
    // The projection's job is lost (a crash between the put and the send, or a lost message).
    f.deliveryQueue.sent.splice(0);
    const sweepDeps = {
      deliveries: f.deliveries,
      deliveryQueue: f.deliveryQueue,
      now: () => clock.now,
      logger: silentLogger,
    };
    expect(await sweepDueDeliveries(sweepDeps)).toEqual({ queued: 0 });
    clock.now = new Date(clock.now.getTime() + NEW_DELIVERY_GRACE_MS);
    expect(await sweepDueDeliveries(sweepDeps)).toEqual({ queued: 1 });
    await deliver(sqsEvent(f.deliveryQueue.sent.splice(0)));
    expect(received).toHaveLength(1);
    expect(f.deliveries.all()[0]?.status).toBe('delivered');
    clock.now = new Date(clock.now.getTime() + SWEEP_GRACE_MS * 10);
    expect(await sweepDueDeliveries(sweepDeps)).toEqual({ queued: 0 });
  });

  it('sends contact.not_contactable when a contact unsubscribes, without a stage change', async () => {
    const f = await classifyFixture([subscription('sub_1')]);
    await applyEvent(formEvent('evt_1'), f.deps);
    const before = f.deliveries.all().length;
    await applyEvent(
      leadEventSchema.parse({
        kind: 'unsubscribed',
        id: 'evt_unsub',
        email: 'anna@example.com',
        occurredAt: '2025-03-01T12:30:00.000Z',
        source: 'postmark',
      }),
      f.deps,
    );
    const notices = f.deliveries.all().filter((d) => d.message.type === 'contact.not_contactable');
    expect(f.deliveries.all()).toHaveLength(before + 1);
    expect(notices).toHaveLength(1);
    expect(notices[0]?.message).toMatchObject({
      type: 'contact.not_contactable',
      data: {
        contact: { id: contactIdFor('anna@example.com') },
        stage: 'lead',
        reasons: [expect.objectContaining({ code: 'not_contactable_unsubscribed' })],
        flags: { contactable: false },
        causedBy: 'evt_unsub',
      },
    });
    // A second unsubscribe changes nothing: the contact was not contactable already.
    await applyEvent(
      leadEventSchema.parse({
        kind: 'unsubscribed',
        id: 'evt_unsub_2',
        email: 'anna@example.com',
        occurredAt: '2025-03-01T12:40:00.000Z',
        source: 'postmark',
      }),
      f.deps,
    );
    expect(
      f.deliveries.all().filter((d) => d.message.type === 'contact.not_contactable'),
    ).toHaveLength(1);
  });

  it('a slow endpoint does not hold up the others in the same batch', async () => {
    const started = performance.now();
    let fastAt = Number.POSITIVE_INFINITY;
    const slow = await endpoint((_request, res) => {
      setTimeout(() => {
        res.writeHead(200);
        res.end();
      }, 1_500);
    });
    const fast = await endpoint((_request, res) => {
      fastAt = performance.now() - started;
      res.writeHead(200);
      res.end();
    });
    const f = await classifyFixture([
      { ...subscription('sub_slow'), url: slow.url },
      { ...subscription('sub_fast'), url: fast.url },
    ]);
    await applyEvent(formEvent('evt_1'), f.deps);
    const deliver = createDeliverHandler({
      subscriptions: f.subscriptions,
      deliveries: f.deliveries,
      deliveryQueue: f.deliveryQueue,
      now: () => new Date(),
      logger: silentLogger,
      allowLocalTargets: true,
      timeoutMs: 5_000,
    });
    // The slow subscriber's job comes first in the batch.
    const jobs = f.deliveryQueue.sent.splice(0).sort((a) => (a.includes('sub_slow') ? -1 : 1));
    await deliver(sqsEvent(jobs));
    expect(fastAt).toBeLessThan(1_000);
    expect(f.deliveries.all().map((d) => d.status)).toEqual(['delivered', 'delivered']);
  });

  it('keeps even the largest stage change under 20 KB', async () => {
    const long = (n: number) => 'x'.repeat(n);
    const f = await classifyFixture([subscription('sub_1')]);
    f.deps.config = parseAppConfig(
      {
        qualification: {
          industries: { allowed: [long(200)] },
          minEmployees: 1_000_000,
          minAnnualRevenue: { amount: 1e12, currency: 'EUR' },
          countries: ['DE'],
          freeMail: 'soft',
        },
      },
      'test',
    );
    await applyEvent(
      leadEventSchema.parse({
        kind: 'form_submitted',
        id: long(200),
        formId: 'contact',
        email: `${long(64)}@${long(180)}.de`,
        occurredAt: '2025-03-01T12:00:00.000Z',
        source: 'form:contact',
        profile: {
          name: long(400),
          firstName: long(200),
          lastName: long(200),
          company: long(400),
          jobTitle: long(200),
          industry: long(200),
          employees: 1,
          annualRevenue: { amount: 1, currency: 'USD' },
          country: 'FR',
        },
      }),
      f.deps,
    );
    const [delivery] = f.deliveries.all();
    expect(delivery).toBeDefined();
    expect(Buffer.byteLength(JSON.stringify(delivery?.message))).toBeLessThan(20_000);
  });
});

// The job type is part of the contract the sweeper and the handler share.
const _job: DeliveryJob = { v: 1, contactId: 'ct_x', subscriptionId: 'sub_x', deliveryId: 'msg_x' };
void _job;
void MemoryQueue;
