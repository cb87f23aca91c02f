import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAppConfig } from '../../../lib/config/app-config.ts';
import type { EventEnvelope } from '../../../lib/domain/events.ts';
import { ensureQueuePair, type QueuePair } from '../../../lib/local/bootstrap.ts';
import { type LocalRuntime, startLocalRuntime } from '../../../lib/local/runtime.ts';
import { type LocalServer, startLocalSqs } from '../../../lib/local/servers.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import { SqsDeadLetterQueue } from '../../../lib/queue/dead-letter-queue.ts';
import { SqsMessageQueue } from '../../../lib/queue/message-queue.ts';
import { queueDepth, receiveUpTo, sqsClient, waitUntil } from '../../support/sqs-helpers.ts';
import { makeTempDir } from '../../support/temp-dir.ts';

const MAX_RECEIVE_COUNT = 2;
/** As the local runtime builds it: fauxqs 2.4.1 loses a message given back with visibility 0. */
const AS_LOCAL_RUNTIME = { releaseVisibilitySeconds: 1 };

async function sendAll(sqs: SQSClient, queueUrl: string, bodies: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < bodies.length; i += 10) {
    const { Successful = [] } = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies
          .slice(i, i + 10)
          .map((body, index) => ({ Id: String(index), MessageBody: body })),
      }),
    );
    ids.push(...Successful.map((entry) => entry.MessageId as string));
  }
  return ids;
}

/** Receives the source queue's messages until `count` arrived, deleting them; their bodies. */
async function drain(sqs: SQSClient, queueUrl: string, count: number): Promise<string[]> {
  const messages = await receiveUpTo(sqs, queueUrl, count);
  for (const message of messages) {
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
    );
  }
  return messages.map((message) => message.Body as string);
}

describe('SqsDeadLetterQueue on fauxqs', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let server: LocalServer;
  let sqs: SQSClient;
  let next = 0;
  const newPair = (): Promise<QueuePair> =>
    ensureQueuePair(sqs, `dead-letters-test-${++next}`, {
      visibilityTimeoutSeconds: 30,
      maxReceiveCount: MAX_RECEIVE_COUNT,
    });

  beforeAll(async () => {
    dir = await makeTempDir('leadstage-dead-letters-');
    server = await startLocalSqs(dir.path);
    sqs = sqsClient(server.endpoint);
  });

  afterAll(async () => {
    sqs?.destroy();
    await server?.stop();
    await dir?.remove();
  });

  it('peeks without consuming: the messages are listed again and visible again after the release', async () => {
    const pair = await newPair();
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: pair.dlqUrl,
        MessageBody: 'parked-1',
        MessageAttributes: { reason: { DataType: 'String', StringValue: 'unreadable' } },
      }),
    );
    await sendAll(sqs, pair.dlqUrl, ['parked-2', 'parked-3']);
    const dlq = new SqsDeadLetterQueue(sqs, pair.dlqUrl, AS_LOCAL_RUNTIME);

    const first = await dlq.peek(50);
    const second = await dlq.peek(50);
    expect(first.map((m) => m.body).sort()).toEqual(['parked-1', 'parked-2', 'parked-3']);
    expect(second.map((m) => m.messageId).sort()).toEqual(first.map((m) => m.messageId).sort());
    expect(first.find((m) => m.body === 'parked-1')?.attributes).toEqual({ reason: 'unreadable' });
    for (const message of first) {
      expect(message.receiveCount).toBe(1);
      expect(Date.parse(message.sentAt ?? '')).toBeGreaterThan(0);
    }
    expect(second.map((m) => m.receiveCount)).toEqual([2, 2, 2]);
    expect(await dlq.approximateCount()).toBe(3);
    // Visible after the release visibility (1 s here, 0 on AWS), not the listing's 15 s.
    const Messages = await receiveUpTo(sqs, pair.dlqUrl, 3, 4_000);
    expect(Messages).toHaveLength(3);
  });

  it('peeks at most `limit` messages of a longer queue', async () => {
    const pair = await newPair();
    await sendAll(
      sqs,
      pair.dlqUrl,
      Array.from({ length: 25 }, (_, n) => `parked-${n}`),
    );
    const dlq = new SqsDeadLetterQueue(sqs, pair.dlqUrl, AS_LOCAL_RUNTIME);
    expect(await dlq.peek(12)).toHaveLength(12);
    expect(await dlq.peek(100)).toHaveLength(25);
  });

  it('sees a message SQS moved after maxReceiveCount receives, without a reason', async () => {
    const pair = await newPair();
    await sqs.send(new SendMessageCommand({ QueueUrl: pair.url, MessageBody: 'poison' }));
    // Receive and give up at once, past maxReceiveCount: the queue's redrive policy moves it.
    for (let n = 0; n <= MAX_RECEIVE_COUNT; n++) {
      await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: pair.url, VisibilityTimeout: 0, WaitTimeSeconds: 0 }),
      );
    }
    const dlq = new SqsDeadLetterQueue(sqs, pair.dlqUrl, AS_LOCAL_RUNTIME);
    await waitUntil(async () => (await dlq.approximateCount()) === 1, 'the move to the DLQ');
    const [moved] = await dlq.peek(10);
    expect(moved?.body).toBe('poison');
    expect(moved?.attributes).toEqual({});
    expect(moved?.receiveCount).toBeGreaterThan(MAX_RECEIVE_COUNT);
  });

  it('redrives only the chosen messages; the others stay parked and visible', async () => {
    const pair = await newPair();
    const ids = await sendAll(
      sqs,
      pair.dlqUrl,
      Array.from({ length: 12 }, (_, n) => `parked-${n}`),
    );
    const dlq = new SqsDeadLetterQueue(sqs, pair.dlqUrl, AS_LOCAL_RUNTIME);
    const chosen = [ids[3] as string, ids[11] as string];

    const result = await dlq.redrive(new SqsMessageQueue(sqs, pair.url), {
      messageIds: [...chosen, 'not-there'],
    });
    expect(result).toEqual({ redriven: 2, notFound: ['not-there'], capped: false });
    expect((await drain(sqs, pair.url, 2)).sort()).toEqual(['parked-11', 'parked-3']);
    const left = await dlq.peek(100);
    expect(left).toHaveLength(10);
    expect(left.map((m) => m.messageId)).not.toContain(ids[3]);
  });

  it('redrives everything: same body and carried attributes in the source queue, DLQ empty', async () => {
    const pair = await newPair();
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: pair.dlqUrl,
        MessageBody: 'with-attributes',
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: 'unreadable' },
          traceId: { DataType: 'String', StringValue: 't-1' },
        },
      }),
    );
    await sendAll(
      sqs,
      pair.dlqUrl,
      Array.from({ length: 24 }, (_, n) => `parked-${n}`),
    );
    const dlq = new SqsDeadLetterQueue(sqs, pair.dlqUrl, AS_LOCAL_RUNTIME);

    const result = await dlq.redrive(new SqsMessageQueue(sqs, pair.url));
    expect(result).toEqual({ redriven: 25, notFound: [], capped: false });
    expect(await queueDepth(sqs, pair.dlqUrl)).toBe(0);
    const received: Message[] = [];
    for (let round = 0; round < 20 && received.length < 25; round++) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: pair.url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
        }),
      );
      received.push(...Messages);
    }
    expect(received).toHaveLength(25);
    const carried = received.find((m) => m.Body === 'with-attributes');
    // The parking reason stays behind; other attributes travel with the body.
    expect(carried?.MessageAttributes).toEqual({
      traceId: expect.objectContaining({ DataType: 'String', StringValue: 't-1' }),
    });
  });

  it('stops at `max` and says so', async () => {
    const pair = await newPair();
    await sendAll(
      sqs,
      pair.dlqUrl,
      Array.from({ length: 15 }, (_, n) => `parked-${n}`),
    );
    const dlq = new SqsDeadLetterQueue(sqs, pair.dlqUrl, AS_LOCAL_RUNTIME);
    const result = await dlq.redrive(new SqsMessageQueue(sqs, pair.url), { max: 10 });
    expect(result).toEqual({ redriven: 10, notFound: [], capped: true });
    expect(await dlq.peek(100)).toHaveLength(5);
  });
});

describe('the dead-letter API on the local runtime', () => {
  const API_KEY = 'test-key-0123456789abcdef';
  const auth = { authorization: `Bearer ${API_KEY}` };
  let runtime: LocalRuntime;
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let sqs: SQSClient;

  beforeAll(async () => {
    dir = await makeTempDir('leadstage-dead-letters-api-');
    runtime = await startLocalRuntime({
      dataDir: dir.path,
      port: 0,
      host: '127.0.0.1',
      apiKey: API_KEY,
      config: defaultAppConfig,
      logger: silentLogger,
      maxReceiveCount: MAX_RECEIVE_COUNT,
    });
    sqs = sqsClient(runtime.endpoints.sqs);
  });

  afterAll(async () => {
    sqs?.destroy();
    await runtime?.stop();
    await dir?.remove();
  });

  const get = async (path: string) => {
    const response = await fetch(`${runtime.url}${path}`, { headers: auth });
    expect(response.status).toBe(200);
    return response.json() as Promise<Record<string, unknown>>;
  };

  it('lists a parked event twice, redrives it, and classify processes it', async () => {
    const email = 'parked.person@example.com';
    const event: EventEnvelope = {
      v: 1,
      event: {
        kind: 'form_submitted',
        id: 'evt_parked_1',
        occurredAt: '2025-03-01T11:59:00.000Z',
        email,
        source: 'form:contact',
        formId: 'contact',
        profile: { name: 'Parked Person' },
      },
    };
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: runtime.queues.ingest.dlqUrl,
        MessageBody: JSON.stringify(event),
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: 'parked by the test' },
        },
      }),
    );

    expect(await get('/v1/dead-letters')).toEqual({
      queues: [
        { name: 'ingest', approximateCount: 1 },
        { name: 'delivery', approximateCount: 0 },
      ],
    });
    const listings = [await get('/v1/dead-letters/ingest'), await get('/v1/dead-letters/ingest')];
    for (const listing of listings) {
      expect(listing.items).toEqual([
        {
          messageId: expect.any(String),
          sentAt: expect.any(String),
          receiveCount: expect.any(Number),
          reason: 'parked by the test',
          summary: { kind: 'form_submitted', eventId: 'evt_parked_1', source: 'form:contact' },
        },
      ]);
      expect(JSON.stringify(listing)).not.toContain(email);
    }

    const redrive = await fetch(`${runtime.url}/v1/dead-letters/ingest/redrive`, {
      method: 'POST',
      headers: auth,
    });
    expect(redrive.status).toBe(200);
    expect(await redrive.json()).toEqual({ redriven: 1, capped: false });

    // Back on the ingest queue, the poller hands it to classify: the contact appears.
    await waitUntil(async () => {
      const page = await get(`/v1/contacts?email=${encodeURIComponent(email)}`);
      return (page.items as unknown[]).length === 1;
    }, 'the redriven event to be classified');
    expect(await queueDepth(sqs, runtime.queues.ingest.dlqUrl)).toBe(0);
    expect(await get('/v1/dead-letters/ingest')).toEqual({ items: [] });
  });
  it('sends an unreadable message back once per redrive, though the worker parks it again at once', async () => {
    for (const body of ['not json', '{"v":1,"event":{"kind":"nope"}}']) {
      await sqs.send(
        new SendMessageCommand({ QueueUrl: runtime.queues.ingest.dlqUrl, MessageBody: body }),
      );
    }
    const redrive = await fetch(`${runtime.url}/v1/dead-letters/ingest/redrive`, {
      method: 'POST',
      headers: auth,
    });
    expect(redrive.status).toBe(200);
    expect(await redrive.json()).toEqual({ redriven: 2, capped: false });
    // Classify parks both again with the reason; a second redrive sends each back once more.
    await waitUntil(
      async () => (await queueDepth(sqs, runtime.queues.ingest.dlqUrl)) === 2,
      'the unreadable messages to be parked again',
    );
    const again = await fetch(`${runtime.url}/v1/dead-letters/ingest/redrive`, {
      method: 'POST',
      headers: auth,
    });
    expect(await again.json()).toEqual({ redriven: 2, capped: false });
  });
});
