import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAppConfig } from '../../lib/config/app-config.ts';
import { type LocalRuntime, startLocalRuntime } from '../../lib/local/runtime.ts';
import { silentLogger } from '../../lib/observability/logger.ts';
import { type Receiver, startReceiver } from '../support/receiver.ts';
import { makeTempDir } from '../support/temp-dir.ts';

const API_KEY = 'test-key-0123456789abcdef';

describe('a form submission reaches a subscribed CRM as a signed webhook', () => {
  let runtime: LocalRuntime;
  let receiver: Receiver;
  let dir: Awaited<ReturnType<typeof makeTempDir>>;

  beforeAll(async () => {
    dir = await makeTempDir();
    receiver = await startReceiver();
    runtime = await startLocalRuntime({
      dataDir: dir.path,
      port: 0,
      host: '127.0.0.1',
      apiKey: API_KEY,
      config: defaultAppConfig,
      logger: silentLogger,
    });
  });

  afterAll(async () => {
    await runtime?.stop();
    await receiver?.close();
    await dir?.remove();
  });

  it('delivers exactly one contact.stage_changed that standardwebhooks verifies', async () => {
    const created = await fetch(`${runtime.url}/v1/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url }),
    });
    expect(created.status).toBe(201);
    const subscription = (await created.json()) as { id: string; secret: string };
    expect(subscription.secret).toMatch(/^whsec_/);

    const submitted = await fetch(`${runtime.url}/v1/forms/contact/submissions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'Anna.Schmidt@Example.com',
        name: 'Anna Schmidt',
        company: 'Schmidt GmbH',
      }),
    });
    expect(submitted.status).toBe(202);
    const { eventId } = (await submitted.json()) as { eventId: string };

    const [request] = await receiver.waitFor(1);
    if (request === undefined) throw new Error('no request');
    const headers = {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    };
    const verified = new Webhook(subscription.secret).verify(request.body, headers) as {
      type: string;
      data: {
        contact: { email: string; name: string; company: string };
        from: null;
        to: string;
        sequence: number;
        causedBy: string;
      };
    };
    expect(verified.type).toBe('contact.stage_changed');
    expect(verified.data).toMatchObject({
      contact: { email: 'anna.schmidt@example.com', name: 'Anna Schmidt', company: 'Schmidt GmbH' },
      from: null,
      to: 'lead',
      sequence: 1,
      causedBy: eventId,
    });
    expect(() =>
      new Webhook(
        `whsec_${Buffer.from('another secret of 24+ bytes!!').toString('base64')}`,
      ).verify(request.body, headers),
    ).toThrow();

    // Nothing else arrives: one change, one subscriber, one webhook.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(receiver.received).toHaveLength(1);
  });
});
