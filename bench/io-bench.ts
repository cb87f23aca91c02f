/**
 * The figures that talk to the emulators (dynalite, fauxqs, in this process): the classify
 * handler and the whole local pipeline, each against a script that does the same
 * unavoidable emulator I/O with no logic, started fresh in the same run.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { defaultAppConfig } from '../lib/config/app-config.ts';
import { ensureQueuePair, ensureTable } from '../lib/local/bootstrap.ts';
import { toSqsRecord } from '../lib/local/poller.ts';
import { startLocalRuntime } from '../lib/local/runtime.ts';
import { dataPaths, startLocalDynamo, startLocalSqs } from '../lib/local/servers.ts';
import { silentLogger } from '../lib/observability/logger.ts';
import { createPipeline } from '../lib/pipeline.ts';
import { makeTempDir } from '../test/support/temp-dir.ts';

export interface Figure {
  label: string;
  perSecond: number;
  usPerOp: number;
}

const figure = (label: string, count: number, ms: number): Figure => ({
  label,
  perSecond: (count / ms) * 1000,
  usPerOp: (ms * 1000) / count,
});

const REGION = 'us-east-1';
const TABLE = 'leadstage';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const BATCH = 10;

/** Emulators in a temp folder, with the table and the queues the pipeline uses. */
async function startEmulators() {
  const dir = await makeTempDir('leadstage-bench-');
  const paths = dataPaths(dir.path);
  const dynamoServer = await startLocalDynamo(paths.dynamo);
  const sqsServer = await startLocalSqs(paths.sqs);
  const dynamo = new DynamoDBClient({
    region: REGION,
    endpoint: dynamoServer.endpoint,
    credentials,
  });
  const sqs = new SQSClient({ region: REGION, endpoint: sqsServer.endpoint, credentials });
  await ensureTable(dynamo, TABLE);
  const options = { visibilityTimeoutSeconds: 30, maxReceiveCount: 5 };
  const ingest = await ensureQueuePair(sqs, 'leadstage-ingest', options);
  const delivery = await ensureQueuePair(sqs, 'leadstage-delivery', options);
  return {
    dynamo,
    sqs,
    doc: DynamoDBDocumentClient.from(dynamo),
    ingest,
    delivery,
    async stop() {
      dynamo.destroy();
      sqs.destroy();
      await sqsServer.stop();
      await dynamoServer.stop();
      await dir.remove();
    },
  };
}

const formEnvelope = (email: string) =>
  JSON.stringify({
    v: 1,
    event: {
      kind: 'form_submitted',
      id: `form_${randomUUID()}`,
      formId: 'contact',
      email,
      occurredAt: new Date().toISOString(),
      source: 'form:contact',
      profile: { firstName: 'Anna', lastName: 'Schmidt', company: 'Schmidt Maschinenbau GmbH' },
    },
  });

/** A contact-sized item for the baselines' PutItem (about what classify writes). */
const contactLike = (key: string) => ({
  pk: `BENCH#${key}`,
  sk: 'CONTACT',
  email: `${key}@schmidt-bench.de`,
  stage: 'lead',
  facts: { formSubmissions: 1, firstName: 'Anna', company: 'Schmidt Maschinenbau GmbH' },
  version: 1,
  updatedAt: new Date().toISOString(),
});

/** The baselines' unavoidable I/O per event: read the contact (consistently), write it back. */
async function readThenWriteContact(doc: DynamoDBDocumentClient, key: string): Promise<void> {
  const item = contactLike(key);
  await doc.send(
    new GetCommand({ TableName: TABLE, Key: { pk: item.pk, sk: item.sk }, ConsistentRead: true }),
  );
  await doc.send(new PutCommand({ TableName: TABLE, Item: item }));
}

/**
 * The classify handler (createPipeline's, real Dynamo stores, no subscriber so no delivery
 * jobs) on batches of 10 new-contact form events, vs GetItem + PutItem per event, the batch's
 * events concurrent as the handler's are.
 */
export async function classifyHandlerBench(events: number) {
  const emulators = await startEmulators();
  try {
    const pipeline = createPipeline({
      settings: {
        tableName: TABLE,
        ingestQueueUrl: emulators.ingest.url,
        deliveryQueueUrl: emulators.delivery.url,
        ingestDlqUrl: emulators.ingest.dlqUrl,
        deliveryDlqUrl: emulators.delivery.dlqUrl,
        apiKeyHashes: [],
        config: defaultAppConfig,
        allowLocalWebhookTargets: true,
      },
      clients: { dynamo: emulators.dynamo, sqs: emulators.sqs },
      logger: silentLogger,
    });
    const batchOf = (prefix: string, start: number): SQSEvent => ({
      Records: Array.from({ length: BATCH }, (_, i) =>
        toSqsRecord(
          {
            MessageId: randomUUID(),
            ReceiptHandle: 'bench',
            Body: formEnvelope(`${prefix}-${start + i}@schmidt-bench.de`),
          },
          emulators.ingest.arn,
          REGION,
        ),
      ),
    });
    const runHandler = async (prefix: string, count: number) => {
      for (let start = 0; start < count; start += BATCH) {
        const result = await pipeline.classify(batchOf(prefix, start));
        if (result.batchItemFailures.length > 0) throw new Error('classify failed a record');
      }
    };
    const runBaseline = async (prefix: string, count: number) => {
      for (let start = 0; start < count; start += BATCH) {
        await Promise.all(
          Array.from({ length: BATCH }, (_, i) =>
            readThenWriteContact(emulators.doc, `${prefix}-${start + i}`),
          ),
        );
      }
    };
    const warm = Math.min(100, events);
    await runBaseline('warm-baseline', warm);
    await runHandler('warm-handler', warm);
    let started = performance.now();
    await runBaseline('baseline', events);
    const baseline = figure(
      'GetItem + PutItem per event (baseline)',
      events,
      performance.now() - started,
    );
    started = performance.now();
    await runHandler('handler', events);
    const handler = figure('classify handler, new contact', events, performance.now() - started);
    return { baseline, handler };
  } finally {
    await emulators.stop();
  }
}

/** Resolves once `done()` is true, checking every 10 ms. */
async function until(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error('the bench timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const CLIENTS = 10;

/** Runs `count` jobs over `CLIENTS` concurrent workers. */
async function fanOut(count: number, job: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

/**
 * End to end through startLocalRuntime: 10 clients POST form submissions (no subscriber);
 * the clock stops when classify has handled all of them. The baseline, on fresh emulators:
 * 10 senders SendMessage the same envelopes while one consumer receives batches of 10, does
 * GetItem + PutItem per message and deletes the batch.
 */
export async function pipelineBench(events: number) {
  const baselineFigure = await (async () => {
    const emulators = await startEmulators();
    try {
      const run = async (prefix: string, count: number) => {
        let handled = 0;
        let stop = false;
        const consumer = (async () => {
          while (!stop) {
            const { Messages = [] } = await emulators.sqs.send(
              new ReceiveMessageCommand({
                QueueUrl: emulators.ingest.url,
                MaxNumberOfMessages: BATCH,
                WaitTimeSeconds: 1,
              }),
            );
            if (Messages.length === 0) continue;
            await Promise.all(
              Messages.map((message) =>
                readThenWriteContact(emulators.doc, String(message.MessageId)),
              ),
            );
            await emulators.sqs.send(
              new DeleteMessageBatchCommand({
                QueueUrl: emulators.ingest.url,
                Entries: Messages.map((message, i) => ({
                  Id: String(i),
                  ReceiptHandle: message.ReceiptHandle,
                })),
              }),
            );
            handled += Messages.length;
          }
        })();
        const started = performance.now();
        await fanOut(count, async (i) => {
          await emulators.sqs.send(
            new SendMessageCommand({
              QueueUrl: emulators.ingest.url,
              MessageBody: formEnvelope(`${prefix}-${i}@schmidt-bench.de`),
            }),
          );
        });
        await until(() => handled >= count, 120_000);
        const ms = performance.now() - started;
        stop = true;
        await consumer;
        return ms;
      };
      await run('warm', Math.min(50, events));
      return figure(
        'send, receive, get, put, delete (baseline)',
        events,
        await run('baseline', events),
      );
    } finally {
      await emulators.stop();
    }
  })();

  const dir = await makeTempDir('leadstage-bench-runtime-');
  let classified = 0;
  const count =
    (handler: (event: SQSEvent) => Promise<SQSBatchResponse>) => async (event: SQSEvent) => {
      const result = await handler(event);
      classified += event.Records.length - result.batchItemFailures.length;
      return result;
    };
  const runtime = await startLocalRuntime({
    dataDir: dir.path,
    port: 0,
    host: '127.0.0.1',
    apiKey: 'bench-pipeline-key-0123456789',
    config: defaultAppConfig,
    logger: silentLogger,
    intercept: { classify: count },
  });
  try {
    const run = async (prefix: string, total: number) => {
      const target = classified + total;
      const started = performance.now();
      await fanOut(total, async (i) => {
        const response = await fetch(`${runtime.url}/v1/forms/contact/submissions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            email: `${prefix}-${i}@schmidt-bench.de`,
            name: 'Anna Schmidt',
            company: 'Schmidt Maschinenbau GmbH',
          }),
        });
        await response.arrayBuffer();
        if (response.status !== 202) throw new Error(`form answered ${response.status}`);
      });
      await until(() => classified >= target, 120_000);
      return performance.now() - started;
    };
    await run('warm', Math.min(50, events));
    const runtimeFigure = figure(
      'local runtime, form POST to classified',
      events,
      await run('runtime', events),
    );
    return { baseline: baselineFigure, runtime: runtimeFigure };
  } finally {
    await runtime.stop();
    await dir.remove();
  }
}
