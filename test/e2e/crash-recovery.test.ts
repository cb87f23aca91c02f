import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChildRuntime, spawnRuntime } from '../support/child-runtime.ts';
import { type Receiver, reservePort, startReceiver } from '../support/receiver.ts';
import { makeTempDir } from '../support/temp-dir.ts';

const API_KEY = 'crash-test-key-0123456789';

describe('what was answered 202 survives a SIGKILL', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  function track(runtime: ChildRuntime): ChildRuntime {
    cleanup.push(async () => {
      if (runtime.process.exitCode === null && runtime.process.signalCode === null)
        runtime.process.kill('SIGKILL');
      await runtime.exited;
    });
    return runtime;
  }

  it('classifies and delivers the event after a restart, exactly once', async () => {
    const dir = await makeTempDir();
    cleanup.push(() => dir.remove());
    const env = {
      LEADSTAGE_DATA_DIR: dir.path,
      LEADSTAGE_API_KEY: API_KEY,
      LEADSTAGE_VISIBILITY_TIMEOUT_SECONDS: '2',
    };
    // The CRM is down while the first process runs, so nothing can be delivered before the kill.
    const receiverPort = await reservePort();
    const first = track(await spawnRuntime(env));

    const created = await fetch(`${first.url}/v1/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `http://127.0.0.1:${receiverPort}/hooks` }),
    });
    expect(created.status).toBe(201);
    const { secret } = (await created.json()) as { secret: string };

    const submitted = await fetch(`${first.url}/v1/forms/contact/submissions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'crash@example.com' }),
    });
    expect(submitted.status).toBe(202);
    first.process.kill('SIGKILL');
    const { eventId } = (await submitted.json()) as { eventId: string };
    expect((await first.exited).signal).toBe('SIGKILL');

    const receiver: Receiver = await startReceiver({ port: receiverPort });
    cleanup.push(() => receiver.close());
    const second = track(await spawnRuntime(env));

    const [request] = await receiver.waitFor(1, 30_000);
    if (request === undefined) throw new Error('no webhook');
    const payload = new Webhook(secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    }) as { type: string; data: { causedBy: string; to: string } };
    expect(payload).toMatchObject({
      type: 'contact.stage_changed',
      data: { causedBy: eventId, to: 'lead' },
    });

    // Longer than a visibility timeout: a second copy would have arrived by now.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(receiver.received).toHaveLength(1);

    second.process.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });
});
