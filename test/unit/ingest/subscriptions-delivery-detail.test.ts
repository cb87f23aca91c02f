import { describe, expect, it } from 'vitest';
import { applyEvent } from '../../../lib/classify/apply-event.ts';
import { createDeliverHandler } from '../../../lib/delivery/deliver-handler.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import { auth, classifyDepsFor, testApi } from '../support/api.ts';
import { formEvent, subscription } from '../support/classify.ts';
import { sqsEvent } from '../support/sqs-event.ts';

describe('GET /v1/subscriptions/{id}/deliveries/{deliveryId}', () => {
  it('shows every attempt of a delivery, with its status code, latency and error', async () => {
    const api = testApi();
    // Nothing listens on port 9: the attempt fails with a connection error.
    await api.subscriptions.put({ ...subscription('sub_1'), url: 'http://127.0.0.1:9/hooks' });
    await applyEvent(formEvent('evt_1'), classifyDepsFor(api));
    const clock = { now: new Date('2025-03-01T12:00:00.000Z') };
    const deliver = createDeliverHandler({
      subscriptions: api.subscriptions,
      deliveries: api.deliveries,
      deliveryQueue: api.deliveryQueue,
      now: () => clock.now,
      logger: silentLogger,
      allowLocalTargets: true,
      timeoutMs: 1_000,
    });
    await deliver(sqsEvent(api.deliveryQueue.sent.splice(0)));
    // The retry comes 5 s (±10 %) later.
    clock.now = new Date(clock.now.getTime() + 6_000);
    await deliver(sqsEvent(api.deliveryQueue.sent.splice(0)));
    const [delivery] = api.deliveries.all();
    if (delivery === undefined) throw new Error('no delivery');

    const response = await api.app.request(
      `/v1/subscriptions/sub_1/deliveries/${delivery.deliveryId}`,
      { headers: auth },
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      attempts: { error?: string; latencyMs: number }[];
      status: string;
      attemptCount: number;
      message: { type: string };
    };
    expect(body.status).toBe('failing');
    expect(body.attemptCount).toBe(2);
    expect(body.attempts).toHaveLength(2);
    for (const attempt of body.attempts) {
      expect(attempt.error).toEqual(expect.any(String));
      expect(attempt.latencyMs).toEqual(expect.any(Number));
    }
    expect(body.message.type).toBe('contact.stage_changed');

    expect(
      (
        await api.app.request(`/v1/subscriptions/sub_other/deliveries/${delivery.deliveryId}`, {
          headers: auth,
        })
      ).status,
    ).toBe(404);
    expect(
      (await api.app.request('/v1/subscriptions/sub_1/deliveries/not-ours', { headers: auth }))
        .status,
    ).toBe(400);
  });
});
