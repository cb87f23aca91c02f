import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAppConfig } from '../../lib/config/app-config.ts';
import { type LocalRuntime, startLocalRuntime } from '../../lib/local/runtime.ts';
import { silentLogger } from '../../lib/observability/logger.ts';
import { UsageMeter } from '../../lib/observability/usage-meter.ts';
import { type Receiver, startReceiver } from '../support/receiver.ts';
import { makeTempDir } from '../support/temp-dir.ts';

const API_KEY = 'usage-test-key-0123456789';

describe('the usage meter counts what one form submission costs', () => {
  let runtime: LocalRuntime;
  let receiver: Receiver;
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  const meter = new UsageMeter();

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
      meter,
    });
    await fetch(`${runtime.url}/v1/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url }),
    });
  });

  afterAll(async () => {
    await runtime?.stop();
    await receiver?.close();
    await dir?.remove();
  });

  it('one conditional contact write, funnel counters without a transaction, two queue messages, capacity reported', async () => {
    meter.reset();
    await fetch(`${runtime.url}/v1/forms/contact/submissions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'meter@example.com' }),
    });
    await receiver.waitFor(1);
    // The delivery's outcome is recorded right after the POST is answered.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const usage = meter.snapshot();
    expect(usage.requests['DynamoDB.TransactWriteItems']).toBeUndefined();
    // Ingest message and delivery job: exactly one SQS send each.
    expect(usage.requests['SQS.SendMessage']).toBe(2);
    // Classify reads the contact and the funnel's counted marker of it; deliver reads the
    // delivery, the subscription and the contact (a delivery of a contact erased meanwhile
    // is cancelled, not sent).
    expect(usage.requests['DynamoDB.GetItem']).toBe(5);
    // The contact commit, the timeline item, the stage-history item, the delivery item, and
    // the funnel's counted marker claiming the new contact's count.
    expect(usage.requests['DynamoDB.PutItem']).toBe(5);
    // Clearing the projected outbox, recording the delivery attempt, the subscription's
    // health; and the funnel: adding to the current counts and to today's "entered" counts,
    // then settling (the marker drops the claim, both counter items retire its token).
    expect(usage.requests['DynamoDB.UpdateItem']).toBe(8);
    console.info(
      `one form submission: ${usage.writeCapacityUnits} WCU, ${usage.readCapacityUnits} RCU`,
    );
    expect(usage.writeCapacityUnits).toBeGreaterThan(0);
    expect(usage.readCapacityUnits).toBeGreaterThan(0);
  });
});
