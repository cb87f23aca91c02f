import { createHash } from 'node:crypto';
import {
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureQueuePair, type QueuePair } from '../../../lib/local/bootstrap.ts';
import { type Poller, startPoller } from '../../../lib/local/poller.ts';
import { type LocalServer, startLocalSqs } from '../../../lib/local/servers.ts';
import {
  queueDepth,
  REGION,
  receiveUpTo,
  recordingLogger,
  sqsClient,
  waitUntil,
} from '../../support/sqs-helpers.ts';
import { makeTempDir } from '../../support/temp-dir.ts';

const VISIBILITY_TIMEOUT_SECONDS = 1;
const MAX_RECEIVE_COUNT = 2;

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let server: LocalServer;
let sqs: SQSClient;
const pollers: Poller[] = [];

beforeAll(async () => {
  dir = await makeTempDir('leadstage-poller-');
  server = await startLocalSqs(dir.path);
  sqs = sqsClient(server.endpoint);
});

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((poller) => poller.stop()));
});

afterAll(async () => {
  sqs?.destroy();
  await server?.stop();
  await dir?.remove();
});

let nextQueue = 0;
async function newQueuePair(): Promise<QueuePair> {
  nextQueue += 1;
  return ensureQueuePair(sqs, `poller-test-${nextQueue}`, {
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    maxReceiveCount: MAX_RECEIVE_COUNT,
  });
}

type Handler = (event: SQSEvent) => Promise<SQSBatchResponse>;

function poll(queue: QueuePair, handler: Handler, logger = recordingLogger()): Poller {
  const poller = startPoller({
    sqs,
    queueUrl: queue.url,
    queueArn: queue.arn,
    region: REGION,
    handler,
    logger,
  });
  pollers.push(poller);
  return poller;
}

/** Stops the poller now (not only after the test) and forgets it. */
async function stopPoller(poller: Poller): Promise<void> {
  pollers.splice(pollers.indexOf(poller), 1);
  await poller.stop();
}

async function send(queue: QueuePair, bodies: string[]): Promise<string[]> {
  const { Successful = [], Failed = [] } = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queue.url,
      Entries: bodies.map((body, index) => ({ Id: String(index), MessageBody: body })),
    }),
  );
  expect(Failed).toStrictEqual([]);
  return bodies.map((_, index) => Successful.find((s) => s.Id === String(index))?.MessageId ?? '');
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

describe('startPoller against fauxqs', () => {
  it('hands the handler a real SQSEvent and deletes what succeeded', async () => {
    const queue = await newQueuePair();
    const bodies = ['{"n":1}', '{"n":2,"name":"Zoë"}', '{"n":3}'];
    const sentAt = Date.now();
    const ids = await send(queue, bodies);

    const events: SQSEvent[] = [];
    const logger = recordingLogger();
    const poller = poll(
      queue,
      async (event) => {
        events.push(event);
        return { batchItemFailures: [] };
      },
      logger,
    );
    await waitUntil(() => events.flatMap((e) => e.Records).length >= 3, 'three records');
    await stopPoller(poller);

    const records = events.flatMap((event) => event.Records);
    expect(records.map((r) => r.messageId).sort()).toStrictEqual([...ids].sort());
    for (const record of records) {
      const index = ids.indexOf(record.messageId);
      expect(record).toMatchObject<Partial<SQSRecord>>({
        body: bodies[index] ?? '',
        md5OfBody: md5(bodies[index] ?? ''),
        eventSource: 'aws:sqs',
        eventSourceARN: queue.arn,
        awsRegion: REGION,
        messageAttributes: {},
      });
      expect(queue.arn).toMatch(/^arn:aws:sqs:[a-z0-9-]+:\d{12}:poller-test-\d+$/);
      expect(record.receiptHandle).not.toBe('');
      expect(record.attributes.ApproximateReceiveCount).toBe('1');
      expect(Number(record.attributes.SentTimestamp)).toBeGreaterThanOrEqual(sentAt - 5_000);
      expect(Number(record.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(
        Number(record.attributes.SentTimestamp),
      );
    }
    // Deleted, not merely in flight: nothing visible, nothing waiting to reappear.
    expect(await queueDepth(sqs, queue.url)).toBe(0);
    expect(logger.entries.filter((e) => e.level !== 'debug')).toStrictEqual([]);
  });

  it('redelivers a record listed in batchItemFailures, then parks it in the DLQ', async () => {
    const queue = await newQueuePair();
    const [badId, goodId] = await send(queue, ['{"fail":true}', '{"fail":false}']);

    const seen: { messageId: string; receiveCount: string; at: number }[] = [];
    const poller = poll(queue, async (event) => {
      for (const record of event.Records) {
        seen.push({
          messageId: record.messageId,
          receiveCount: record.attributes.ApproximateReceiveCount,
          at: Date.now(),
        });
      }
      return {
        batchItemFailures: event.Records.filter((r) => r.messageId === badId).map((r) => ({
          itemIdentifier: r.messageId,
        })),
      };
    });

    const parked = await receiveUpTo(sqs, queue.dlqUrl, 1, 10_000);
    await stopPoller(poller);

    expect(parked).toHaveLength(1);
    expect(parked[0]?.Body).toBe('{"fail":true}');
    const bad = seen.filter((s) => s.messageId === badId);
    expect(bad.map((s) => s.receiveCount)).toStrictEqual(['1', '2']);
    // It came back only after the visibility timeout.
    expect((bad[1]?.at ?? 0) - (bad[0]?.at ?? 0)).toBeGreaterThanOrEqual(
      VISIBILITY_TIMEOUT_SECONDS * 1000 - 100,
    );
    // The good record was handled once and deleted.
    expect(seen.filter((s) => s.messageId === goodId).map((s) => s.receiveCount)).toStrictEqual([
      '1',
    ]);
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });

  it('fails the whole batch when the handler throws: every record is redelivered', async () => {
    const queue = await newQueuePair();
    const ids = await send(queue, ['{"n":1}', '{"n":2}', '{"n":3}']);

    const calls: SQSRecord[][] = [];
    const logger = recordingLogger();
    const poller = poll(
      queue,
      async (event) => {
        calls.push(event.Records);
        if (calls.length === 1) throw new Error('handler crashed');
        return { batchItemFailures: [] };
      },
      logger,
    );

    const firstBatch = () => calls[0]?.map((r) => r.messageId) ?? [];
    const handledAgain = () =>
      calls
        .slice(1)
        .flat()
        .filter((r) => firstBatch().includes(r.messageId));
    await waitUntil(() => calls.length > 0, 'a first batch');
    await waitUntil(
      () => handledAgain().length >= firstBatch().length,
      'the failed batch to come back',
    );
    // ...and the rest of the messages, if the first receive did not take them all.
    await waitUntil(
      () =>
        new Set(
          calls
            .slice(1)
            .flat()
            .map((r) => r.messageId),
        ).size === ids.length,
      'every message to succeed',
    );
    await stopPoller(poller);

    expect(firstBatch().length).toBeGreaterThan(0);
    for (const record of handledAgain()) {
      expect(record.attributes.ApproximateReceiveCount).toBe('2');
    }
    expect(await queueDepth(sqs, queue.url)).toBe(0);
    expect(await queueDepth(sqs, queue.dlqUrl)).toBe(0);
    expect(logger.entries.filter((e) => e.level === 'error')).toHaveLength(1);
  });

  it('gives up on a handler that never answers, as the Lambda timeout would, and goes on', async () => {
    const queue = await newQueuePair();
    const [id] = await send(queue, ['{"n":1}']);
    const calls: SQSRecord[][] = [];
    const logger = recordingLogger();
    const poller = startPoller({
      sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      region: REGION,
      logger,
      handlerTimeoutMs: 300,
      handler: (event) => {
        calls.push(event.Records);
        // The first invocation hangs for good, like a request to a server that never answers.
        if (calls.length === 1) return new Promise<SQSBatchResponse>(() => undefined);
        return Promise.resolve({ batchItemFailures: [] });
      },
    });
    pollers.push(poller);
    await waitUntil(() => calls.length >= 2, 'the batch to come back after the timeout');
    await stopPoller(poller);
    expect(calls[1]?.map((record) => record.messageId)).toEqual([id]);
    expect(calls[1]?.[0]?.attributes.ApproximateReceiveCount).toBe('2');
    expect(await queueDepth(sqs, queue.url)).toBe(0);
    expect(logger.entries.filter((entry) => entry.level === 'error')).toHaveLength(1);
  });

  it('stop() resolves promptly while idle, even during a long poll', async () => {
    const queue = await newQueuePair();
    const logger = recordingLogger();
    const poller = startPoller({
      sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      region: REGION,
      handler: async () => ({ batchItemFailures: [] }),
      logger,
      waitTimeSeconds: 20,
    });
    // Let the first long poll reach the server.
    await new Promise((resolve) => setTimeout(resolve, 300));

    const started = Date.now();
    await poller.stop();
    expect(Date.now() - started).toBeLessThan(2_500);
    // An abandoned receive is not a failure worth a warning.
    expect(logger.entries.filter((e) => e.level === 'warn' || e.level === 'error')).toStrictEqual(
      [],
    );
  });

  it('stop() resolves promptly with the default wait time', async () => {
    const queue = await newQueuePair();
    const poller = poll(queue, async () => ({ batchItemFailures: [] }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    await stopPoller(poller);
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('a message sent after stop() is not swallowed by the abandoned long poll', async () => {
    const queue = await newQueuePair();
    const poller = startPoller({
      sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      region: REGION,
      handler: async () => ({ batchItemFailures: [] }),
      logger: recordingLogger(),
      waitTimeSeconds: 20,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await poller.stop();

    await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'after stop' }));
    // Shorter than the visibility timeout: a message handed to the dead poll would be in flight.
    const received = await receiveUpTo(sqs, queue.url, 1, 900);
    expect(received.map((m) => m.Body)).toStrictEqual(['after stop']);
  });

  it('stop() waits for the batch in hand to finish (and be deleted) before resolving', async () => {
    const queue = await newQueuePair();
    await send(queue, ['{"slow":true}']);

    let entered = false;
    let finished = false;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const poller = poll(queue, async () => {
      entered = true;
      await gate;
      finished = true;
      return { batchItemFailures: [] };
    });
    await waitUntil(() => entered, 'the handler to start');

    let stopped = false;
    const stopping = stopPoller(poller).then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stopped).toBe(false);

    release();
    await stopping;
    expect(finished).toBe(true);
    // The finished batch was deleted before stop() resolved, not left to reappear.
    expect(await queueDepth(sqs, queue.url)).toBe(0);
  });
});

describe('ensureQueuePair against fauxqs', () => {
  async function attributes(url: string) {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
    );
    return Attributes;
  }

  it('creates the queue with its DLQ, visibility timeout and redrive policy', async () => {
    const pair = await ensureQueuePair(sqs, 'bootstrap-create', {
      visibilityTimeoutSeconds: 7,
      maxReceiveCount: 3,
    });
    expect(pair.arn).toMatch(/:bootstrap-create$/);
    expect(pair.dlqArn).toMatch(/:bootstrap-create-dlq$/);
    const main = await attributes(pair.url);
    expect(main.VisibilityTimeout).toBe('7');
    expect(main.MessageRetentionPeriod).toBe(String(14 * 24 * 3600));
    expect(JSON.parse(main.RedrivePolicy ?? '{}')).toMatchObject({
      deadLetterTargetArn: pair.dlqArn,
    });
    expect(Number(JSON.parse(main.RedrivePolicy ?? '{}').maxReceiveCount)).toBe(3);
    const dlq = await attributes(pair.dlqUrl);
    expect(dlq.MessageRetentionPeriod).toBe(String(14 * 24 * 3600));
  });

  it('is idempotent with the same options', async () => {
    const options = { visibilityTimeoutSeconds: 5, maxReceiveCount: 4 };
    const first = await ensureQueuePair(sqs, 'bootstrap-same', options);
    await sqs.send(new SendMessageCommand({ QueueUrl: first.url, MessageBody: 'kept' }));
    const second = await ensureQueuePair(sqs, 'bootstrap-same', options);
    expect(second).toStrictEqual(first);
    expect((await attributes(second.url)).VisibilityTimeout).toBe('5');
    // Re-running the bootstrap does not purge or recreate the queue.
    expect(await queueDepth(sqs, second.url)).toBe(1);
  });

  // fauxqs answers CreateQueue with `x-amzn-query-error: AWS.SimpleQueueService.QueueNameExists`,
  // so the SDK names the error that, not `QueueNameExists` (fails against the current lib/).
  it('updates the attributes, instead of failing, when called again with other settings', async () => {
    const first = await ensureQueuePair(sqs, 'bootstrap-changed', {
      visibilityTimeoutSeconds: 30,
      maxReceiveCount: 5,
    });
    const second = await ensureQueuePair(sqs, 'bootstrap-changed', {
      visibilityTimeoutSeconds: 2,
      maxReceiveCount: 3,
    });
    expect(second).toStrictEqual(first);
    const main = await attributes(second.url);
    expect(main.VisibilityTimeout).toBe('2');
    const redrive = JSON.parse(main.RedrivePolicy ?? '{}');
    expect(redrive.deadLetterTargetArn).toBe(second.dlqArn);
    expect(Number(redrive.maxReceiveCount)).toBe(3);
  });
});
