import { DeleteMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureQueuePair, ensureTable } from '../../../lib/local/bootstrap.ts';
import { type LocalServer, startLocalDynamo, startLocalSqs } from '../../../lib/local/servers.ts';
import { type ContactRecord, DynamoContactStore } from '../../../lib/store/contact-store.ts';
import { createTable, dynamoClients } from '../../support/dynamo-backends.ts';
import { queueDepth, receiveUpTo, sqsClient } from '../../support/sqs-helpers.ts';
import { makeTempDir } from '../../support/temp-dir.ts';
import { contactRecord } from '../store/fixtures.ts';

const TABLE = 'leadstage';

let dir: Awaited<ReturnType<typeof makeTempDir>>;
const running: LocalServer[] = [];

beforeEach(async () => {
  dir = await makeTempDir('leadstage-persistence-');
});

afterEach(async () => {
  for (const server of running.splice(0).reverse()) await server.stop();
  await dir.remove();
});

async function started(server: Promise<LocalServer>): Promise<LocalServer> {
  const s = await server;
  running.push(s);
  return s;
}

async function stopped(server: LocalServer): Promise<void> {
  running.splice(running.indexOf(server), 1);
  await server.stop();
}

function contact(version: number): ContactRecord {
  return contactRecord('ct_persisted', { version, sequence: version });
}

describe('local data survives a restart on the same folder', () => {
  it('dynalite: a committed item is there after stop and start', async () => {
    const first = await started(startLocalDynamo(dir.path));
    const before = dynamoClients(first.endpoint);
    await createTable(before.dynamo, TABLE);
    await new DynamoContactStore(before.doc, TABLE).commit(contact(1), undefined);
    before.dynamo.destroy();
    await stopped(first);

    const second = await started(startLocalDynamo(dir.path));
    const after = dynamoClients(second.endpoint);
    try {
      // The bootstrap at every start must keep, not recreate, the table.
      await ensureTable(after.dynamo, TABLE);
      const store = new DynamoContactStore(after.doc, TABLE);
      await expect(store.get('ct_persisted')).resolves.toStrictEqual(contact(1));
      // ...and the optimistic version carries over.
      await store.commit(contact(2), 1);
      await expect(store.get('ct_persisted')).resolves.toStrictEqual(contact(2));
    } finally {
      after.dynamo.destroy();
    }
  });

  it('fauxqs: a sent message is receivable after stop and start', async () => {
    const options = { visibilityTimeoutSeconds: 1, maxReceiveCount: 2 };
    const first = await started(startLocalSqs(dir.path));
    const before = sqsClient(first.endpoint);
    const queue = await ensureQueuePair(before, 'persisted', options);
    await before.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: '{"kept":1}' }));
    before.destroy();
    await stopped(first);

    const second = await started(startLocalSqs(dir.path));
    const after = sqsClient(second.endpoint);
    try {
      const again = await ensureQueuePair(after, 'persisted', options);
      const received = await receiveUpTo(after, again.url, 1, 5_000);
      expect(received.map((m) => m.Body)).toStrictEqual(['{"kept":1}']);
      await after.send(
        new DeleteMessageCommand({
          QueueUrl: again.url,
          ReceiptHandle: received[0]?.ReceiptHandle,
        }),
      );
      expect(await queueDepth(after, again.url)).toBe(0);
    } finally {
      after.destroy();
    }
  });
});
