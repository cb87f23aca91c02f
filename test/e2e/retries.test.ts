import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAppConfig } from '../../lib/config/app-config.ts';
import { type LocalRuntime, startLocalRuntime } from '../../lib/local/runtime.ts';
import { jsonLogger, silentLogger } from '../../lib/observability/logger.ts';
import { type Receiver, startReceiver } from '../support/receiver.ts';
import { makeTempDir } from '../support/temp-dir.ts';

const API_KEY = 'retries-test-key-0123456789';

async function subscribe(
  runtime: LocalRuntime,
  url: string,
): Promise<{ id: string; secret: string }> {
  const response = await fetch(`${runtime.url}/v1/subscriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url }),
  });
  return (await response.json()) as { id: string; secret: string };
}

async function submit(runtime: LocalRuntime, email: string): Promise<void> {
  await fetch(`${runtime.url}/v1/forms/contact/submissions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email }),
  });
}

describe('deliveries are retried until the subscriber takes them, through the local runtime', () => {
  let runtime: LocalRuntime;
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    dir = await makeTempDir();
    runtime = await startLocalRuntime({
      dataDir: dir.path,
      port: 0,
      host: '127.0.0.1',
      apiKey: API_KEY,
      // Seconds instead of minutes and hours, so the whole schedule runs in the test.
      config: parseAppConfig({ delivery: { retryScheduleSeconds: [1, 1] } }, 'test'),
      logger: process.env.DEBUG_E2E ? jsonLogger('debug') : silentLogger,
      sweepIntervalMs: 500,
    });
  });

  afterAll(async () => {
    await runtime?.stop();
    for (const receiver of receivers) await receiver.close();
    await dir?.remove();
  });

  it('a subscriber failing twice gets the same signed webhook a third time, and only then is done', async () => {
    let calls = 0;
    const receiver = await startReceiver({ status: () => (++calls <= 2 ? 503 : 200) });
    receivers.push(receiver);
    const { secret } = await subscribe(runtime, receiver.url);
    await submit(runtime, 'retry@example.com');
    const requests = await receiver.waitFor(3, 30_000);
    expect(new Set(requests.map((request) => request.headers['webhook-id'])).size).toBe(1);
    for (const request of requests) {
      expect(() =>
        new Webhook(secret).verify(request.body, {
          'webhook-id': String(request.headers['webhook-id']),
          'webhook-timestamp': String(request.headers['webhook-timestamp']),
          'webhook-signature': String(request.headers['webhook-signature']),
        }),
      ).not.toThrow();
    }
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(receiver.received).toHaveLength(3);
  });

  it('a subscriber that never answers 2xx exhausts the schedule, and the delivery DLQ records it', async () => {
    const receiver = await startReceiver({ status: () => 500 });
    receivers.push(receiver);
    await subscribe(runtime, receiver.url);
    await submit(runtime, 'exhausted@example.com');
    // One attempt and two retries, then nothing more.
    await receiver.waitFor(3, 30_000);
    const sqs = new SQSClient({
      region: 'us-east-1',
      endpoint: runtime.endpoints.sqs,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const found: string[] = [];
    for (let i = 0; i < 20 && found.length === 0; i++) {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: runtime.queues.delivery.dlqUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
        }),
      );
      for (const message of Messages ?? [])
        found.push(message.MessageAttributes?.reason?.StringValue ?? '');
    }
    sqs.destroy();
    expect(found).toContain('exhausted after 3 attempts');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(receiver.received).toHaveLength(3);
  });
});
