import { afterEach, describe, expect, it } from 'vitest';
import { applyEvent } from '../../../lib/classify/apply-event.ts';
import { createDeliverHandler } from '../../../lib/delivery/deliver-handler.ts';
import { deliveryJobSchema } from '../../../lib/delivery/job.ts';
import type { EventEnvelope } from '../../../lib/domain/events.ts';
import { createApp } from '../../../lib/ingest/app.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import { MemoryQueue } from '../../../lib/queue/memory-queue.ts';
import { auth, classifyDepsFor, postJson, testApi } from '../support/api.ts';
import { formEvent, subscription } from '../support/classify.ts';
import { startServer } from '../support/http-server.ts';
import { expectProblem } from '../support/problem.ts';
import { sqsEvent } from '../support/sqs-event.ts';

interface DeadLetterItem {
  messageId: string;
  sentAt: string | null;
  receiveCount: number;
  reason: string;
  summary: Record<string, unknown>;
}

/** The memory test API with both dead-letter queues (memory queues) and maxReceiveCount 5. */
function deadLetterApi() {
  const api = testApi();
  const ingestDlq = new MemoryQueue();
  const deliveryDlq = new MemoryQueue();
  const app = createApp({
    ...api.deps,
    deadLetterQueues: { ingest: ingestDlq, delivery: deliveryDlq },
    maxReceiveCount: 5,
  });
  return { ...api, app, ingestDlq, deliveryDlq };
}

const envelope = (id: string): string =>
  JSON.stringify({ v: 1, event: formEvent(id) } satisfies EventEnvelope);

async function list(app: ReturnType<typeof createApp>, queue: string, query = '') {
  const response = await app.request(`/v1/dead-letters/${queue}${query}`, { headers: auth });
  expect(response.status).toBe(200);
  const text = await response.text();
  return { text, items: (JSON.parse(text) as { items: DeadLetterItem[] }).items };
}

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('GET /v1/dead-letters', () => {
  it('needs an API key', async () => {
    const { app } = deadLetterApi();
    await expectProblem(await app.request('/v1/dead-letters'), 401);
    await expectProblem(await app.request('/v1/dead-letters/ingest'), 401);
    await expectProblem(await app.request('/v1/dead-letters/ingest/redrive', postJson({})), 401);
  });

  it('counts the messages of each dead-letter queue', async () => {
    const { app, deliveryDlq } = deadLetterApi();
    await deliveryDlq.send('{"v":1}');
    await deliveryDlq.send('{"v":1}');
    const response = await app.request('/v1/dead-letters', { headers: auth });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      queues: [
        { name: 'ingest', approximateCount: 0 },
        { name: 'delivery', approximateCount: 2 },
      ],
    });
  });

  it('offers only the queues that are configured', async () => {
    const api = testApi();
    const response = await api.app.request('/v1/dead-letters', { headers: auth });
    expect(await response.json()).toEqual({ queues: [] });
    await expectProblem(await api.app.request('/v1/dead-letters/ingest', { headers: auth }), 404);
  });
});

describe('GET /v1/dead-letters/{queue}', () => {
  it('lists parked messages without consuming them, summarized without personal data', async () => {
    const { app, ingestDlq } = deadLetterApi();
    await ingestDlq.send(envelope('evt_1'), {
      attributes: { reason: 'message is not a readable event envelope (v1)' },
    });
    // Parked by SQS after 5 failed receives: no reason attribute.
    await ingestDlq.send(envelope('evt_2'));

    const first = await list(app, 'ingest');
    const second = await list(app, 'ingest');
    expect(second.items.map((item) => item.messageId)).toEqual(
      first.items.map((item) => item.messageId),
    );
    expect(first.items).toEqual([
      {
        messageId: expect.any(String),
        sentAt: expect.any(String),
        receiveCount: 1,
        reason: 'message is not a readable event envelope (v1)',
        summary: { kind: 'form_submitted', eventId: 'evt_1', source: 'form:contact' },
      },
      {
        messageId: expect.any(String),
        sentAt: expect.any(String),
        receiveCount: 1,
        reason: 'failed 5 times',
        summary: { kind: 'form_submitted', eventId: 'evt_2', source: 'form:contact' },
      },
    ]);
    // Each listing is a receive, as on SQS.
    expect(second.items.map((item) => item.receiveCount)).toEqual([2, 2]);
    for (const { text } of [first, second]) {
      expect(text).not.toContain('anna@example.com');
      expect(text).not.toContain('Anna');
    }
    expect(await ingestDlq.approximateCount()).toBe(2);
  });

  it('summarizes replies, purges, unreadable bodies and delivery jobs by their ids only', async () => {
    const { app, ingestDlq, deliveryDlq } = deadLetterApi();
    await ingestDlq.send(
      JSON.stringify({
        v: 1,
        reply: {
          id: 'rpl_1',
          occurredAt: '2025-03-01T11:00:00.000Z',
          source: 'postmark',
          from: 'bob@example.com',
        },
      }),
    );
    await ingestDlq.send(
      JSON.stringify({ v: 1, purge: { contactId: 'ct_0123456789abcdef01234567' } }),
    );
    await ingestDlq.send('not json at all, bob@example.com', {
      attributes: { reason: 'message body is not JSON' },
    });
    await ingestDlq.send(
      JSON.stringify({ v: 1, event: formEvent('carl@example.com', { source: 'api' }) }),
    );
    const job = {
      v: 1,
      contactId: 'ct_0123456789abcdef01234567',
      subscriptionId: 'sub_1',
      deliveryId: 'msg_0123456789abcdef01234567_1a2b3c4d5e6f',
    };
    await deliveryDlq.send(JSON.stringify(job), {
      attributes: { reason: 'exhausted after 8 attempts', deliveryId: job.deliveryId },
    });

    const ingest = await list(app, 'ingest');
    expect(ingest.items.map((item) => item.summary)).toEqual([
      { kind: 'unresolved_reply', eventId: 'rpl_1', source: 'postmark' },
      { kind: 'purge', contactId: 'ct_0123456789abcdef01234567' },
      { unreadable: true },
      // An id that holds an address is masked.
      { kind: 'form_submitted', eventId: '[redacted]', source: 'api' },
    ]);
    expect(ingest.text).not.toContain('bob@');
    expect(ingest.text).not.toContain('carl@');

    const delivery = await list(app, 'delivery');
    expect(delivery.items).toEqual([
      expect.objectContaining({
        reason: 'exhausted after 8 attempts',
        summary: {
          deliveryId: job.deliveryId,
          subscriptionId: 'sub_1',
          contactId: job.contactId,
        },
      }),
    ]);
  });

  it('returns at most `limit` messages, oldest first', async () => {
    const { app, ingestDlq } = deadLetterApi();
    for (let n = 1; n <= 4; n++) await ingestDlq.send(envelope(`evt_${n}`));
    const { items } = await list(app, 'ingest', '?limit=3');
    expect(items.map((item) => item.summary.eventId)).toEqual(['evt_1', 'evt_2', 'evt_3']);
  });

  it('answers 404 for an unknown queue and 400 for a bad limit', async () => {
    const { app } = deadLetterApi();
    const missing = await expectProblem(
      await app.request('/v1/dead-letters/classify', { headers: auth }),
      404,
    );
    expect(missing.detail).toContain('"ingest" and "delivery"');
    await expectProblem(
      await app.request('/v1/dead-letters/classify/redrive', postJson({}, auth)),
      404,
    );
    for (const limit of ['0', '101', 'ten']) {
      await expectProblem(
        await app.request(`/v1/dead-letters/ingest?limit=${limit}`, { headers: auth }),
        400,
      );
    }
  });
});

describe('POST /v1/dead-letters/{queue}/redrive', () => {
  it('sends every message back to its source queue without the parking attributes, then empties the DLQ', async () => {
    const { app, ingestDlq, ingestQueue, deliveryQueue } = deadLetterApi();
    await ingestDlq.send(envelope('evt_1'), {
      attributes: { reason: 'x', sourceMessageId: 'm1', sourceQueue: 'arn:q', traceId: 't-1' },
    });
    await ingestDlq.send(envelope('evt_2'));

    const response = await app.request('/v1/dead-letters/ingest/redrive', {
      method: 'POST',
      headers: auth,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ redriven: 2, capped: false });
    expect(ingestQueue.sent).toEqual([envelope('evt_1'), envelope('evt_2')]);
    expect(ingestQueue.attributes).toEqual([{ traceId: 't-1' }, {}]);
    expect(deliveryQueue.sent).toEqual([]);
    expect(await ingestDlq.approximateCount()).toBe(0);
    expect((await list(app, 'ingest')).items).toEqual([]);
  });

  it('with messageIds redrives only those and names the ones it did not find', async () => {
    const { app, ingestDlq, ingestQueue } = deadLetterApi();
    for (let n = 1; n <= 3; n++) await ingestDlq.send(envelope(`evt_${n}`));
    const { items } = await list(app, 'ingest');
    const chosen = items[1]?.messageId as string;

    const response = await app.request(
      '/v1/dead-letters/ingest/redrive',
      postJson({ messageIds: [chosen, 'gone-already'] }, auth),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      redriven: 1,
      notFound: ['gone-already'],
      capped: false,
    });
    expect(ingestQueue.sent).toEqual([envelope('evt_2')]);
    expect((await list(app, 'ingest')).items.map((item) => item.summary.eventId)).toEqual([
      'evt_1',
      'evt_3',
    ]);
  });

  it('refuses a body it cannot read', async () => {
    const { app, ingestDlq } = deadLetterApi();
    await ingestDlq.send(envelope('evt_1'));
    for (const body of [{ messageIds: [] }, { messageIds: 'm1' }, { ids: ['m1'] }, '{nope']) {
      await expectProblem(
        await app.request('/v1/dead-letters/ingest/redrive', postJson(body, auth)),
        400,
      );
    }
    expect(await ingestDlq.approximateCount()).toBe(1);
  });

  it('reopens an exhausted delivery, so the redriven job is delivered', async () => {
    const api = deadLetterApi();
    let healthy = false;
    const server = await startServer((_request, res) => {
      res.statusCode = healthy ? 200 : 503;
      res.end();
    });
    servers.push(server);
    await api.subscriptions.put({ ...subscription('sub_1'), url: server.url });
    await applyEvent(formEvent('evt_1'), classifyDepsFor(api));
    const deliver = createDeliverHandler({
      subscriptions: api.subscriptions,
      deliveries: api.deliveries,
      deliveryQueue: api.deliveryQueue,
      deadLetters: api.deliveryDlq,
      now: api.deps.now,
      logger: silentLogger,
      allowLocalTargets: true,
      // No retries: the first failure exhausts the delivery and parks its job.
      retrySchedule: [],
    });
    await deliver(sqsEvent(api.deliveryQueue.sent.splice(0)));
    const [exhausted] = api.deliveries.all();
    expect(exhausted?.status).toBe('exhausted');
    const [parked] = (await list(api.app, 'delivery')).items;
    expect(parked?.reason).toBe('exhausted after 1 attempts');

    const response = await api.app.request('/v1/dead-letters/delivery/redrive', postJson({}, auth));
    expect(await response.json()).toEqual({ redriven: 1, capped: false });
    expect(api.deliveries.all()[0]?.status).toBe('pending');
    const jobs = api.deliveryQueue.sent.splice(0);
    expect(jobs.map((job) => deliveryJobSchema.parse(JSON.parse(job)).deliveryId)).toEqual([
      exhausted?.deliveryId,
    ]);

    healthy = true;
    await deliver(sqsEvent(jobs));
    expect(api.deliveries.all()[0]?.status).toBe('delivered');
    expect(server.received).toHaveLength(2);
    expect(await api.deliveryDlq.approximateCount()).toBe(0);
  });
});
