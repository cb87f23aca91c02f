import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { applyEvent } from '../../../lib/classify/apply-event.ts';
import { eraseContact } from '../../../lib/classify/erase-contact.ts';
import { createDeliverHandler } from '../../../lib/delivery/deliver-handler.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { erasureFixture, formEvent, subscription } from '../support/classify.ts';
import { type Recorded, startServer } from '../support/http-server.ts';
import { sqsEvent } from '../support/sqs-event.ts';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function setUp(respond: (request: Recorded, res: ServerResponse) => void) {
  const server = await startServer(respond);
  servers.push(server);
  const f = await erasureFixture([{ ...subscription('sub_1'), url: server.url }]);
  await applyEvent(formEvent('evt_1'), f.deps);
  const deliver = createDeliverHandler({
    subscriptions: f.subscriptions,
    deliveries: f.deliveries,
    deliveryQueue: f.deliveryQueue,
    contacts: f.contacts,
    now: f.deps.now,
    logger: silentLogger,
    allowLocalTargets: true,
    timeoutMs: 2_000,
  });
  return { server, f, deliver };
}

describe('two jobs for one delivery', () => {
  it('a failing duplicate never overwrites the success of the other, and its retry sends nothing', async () => {
    let calls = 0;
    const { f, deliver } = await setUp((_request, res) => {
      calls += 1;
      // The first request succeeds, but only after the second has failed and been recorded.
      const first = calls === 1;
      setTimeout(
        () => {
          res.writeHead(first ? 200 : 503);
          res.end();
        },
        first ? 300 : 0,
      );
    });
    const [job] = f.deliveryQueue.sent.splice(0);
    if (job === undefined) throw new Error('no job');
    await deliver(sqsEvent([job, job], ['a', 'b']));
    const [delivery] = f.deliveries.all();
    // Both attempts happened and are on record; the success is the status.
    expect(delivery?.status).toBe('delivered');
    expect(delivery?.attempts?.map((attempt) => attempt.statusCode)).toEqual([503, 200]);
    // The failed duplicate had scheduled a retry before the success came: it sends nothing.
    const retries = f.deliveryQueue.sent.splice(0);
    await deliver(sqsEvent(retries));
    expect(f.deliveries.all()[0]?.attemptCount).toBe(2);
  });

  it('a change committed before an erasure is cancelled, never sent, after it', async () => {
    const { server, f, deliver } = await setUp((_request, res) => {
      res.writeHead(200);
      res.end();
    });
    const [job] = f.deliveryQueue.sent.splice(0);
    if (job === undefined) throw new Error('no job');
    // The erasure purges the partition; a projection racing it puts the delivery back.
    const [stageChange] = f.deliveries.all();
    await eraseContact(contactIdFor('anna@example.com'), f.eraseDeps);
    if (stageChange) await f.deliveries.putIfAbsent(stageChange);
    await deliver(sqsEvent([job]));
    expect(server.received).toEqual([]);
    await expect(
      f.deliveries.get(stageChange?.contactId ?? '', stageChange?.deliveryId ?? ''),
    ).resolves.toMatchObject({
      status: 'cancelled',
    });
  });
});
