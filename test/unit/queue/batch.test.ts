import { describe, expect, it } from 'vitest';
import { createClassifyHandler } from '../../../lib/classify/classify-handler.ts';
import { sqsBatchHandler, UnreadableMessageError } from '../../../lib/queue/batch.ts';
import { MemoryQueue } from '../../../lib/queue/memory-queue.ts';
import type { MessageQueue } from '../../../lib/queue/message-queue.ts';
import { classifyFixture, formEvent } from '../support/classify.ts';
import { sqsEvent } from '../support/sqs-event.ts';

describe('sqsBatchHandler with a dead-letter queue', () => {
  it('parks an unreadable message with its reason and reports only retryable failures', async () => {
    const deadLetters = new MemoryQueue();
    const handler = sqsBatchHandler(
      async (record) => {
        if (record.body === 'garbage') throw new UnreadableMessageError('not a job');
        if (record.body === 'flaky') throw new Error('network');
      },
      { deadLetters },
    );
    const result = await handler(sqsEvent(['ok', 'garbage', 'flaky'], ['a', 'b', 'c']));
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'c' }]);
    expect(deadLetters.sent).toEqual(['garbage']);
    expect(deadLetters.attributes[0]).toMatchObject({ reason: 'not a job', sourceMessageId: 'b' });
  });

  it('retries the message when parking it fails, so nothing is lost', async () => {
    const broken: MessageQueue = {
      send: async () => {
        throw new Error('SQS down');
      },
      sendBatch: async () => undefined,
    };
    const handler = sqsBatchHandler(
      async () => {
        throw new UnreadableMessageError('not a job');
      },
      { deadLetters: broken },
    );
    expect((await handler(sqsEvent(['garbage'], ['a']))).batchItemFailures).toEqual([
      { itemIdentifier: 'a' },
    ]);
  });

  it('without a dead-letter queue, an unreadable message is retried (SQS moves it after maxReceiveCount)', async () => {
    const handler = sqsBatchHandler(async () => {
      throw new UnreadableMessageError('not a job');
    });
    expect((await handler(sqsEvent(['garbage'], ['a']))).batchItemFailures).toEqual([
      { itemIdentifier: 'a' },
    ]);
  });
});

describe('the classify handler with its DLQ', () => {
  it('parks a message of an unknown envelope version and a non-JSON body, applies the valid one', async () => {
    const f = await classifyFixture();
    const deadLetters = new MemoryQueue();
    const handler = createClassifyHandler({ ...f.deps, deadLetters });
    const valid = JSON.stringify({ v: 1, event: formEvent('evt_ok') });
    const result = await handler(
      sqsEvent([valid, '{not json', JSON.stringify({ v: 2, event: {} })]),
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(deadLetters.sent).toEqual(['{not json', JSON.stringify({ v: 2, event: {} })]);
    expect(deadLetters.attributes.map((attributes) => attributes.reason)).toEqual([
      'message body is not JSON',
      'message is not a readable event envelope (v1)',
    ]);
    expect(f.contacts.all()).toHaveLength(1);
  });
});
