import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Logger } from '../observability/logger.ts';

export interface PollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  handler: (event: SQSEvent) => Promise<SQSBatchResponse>;
  logger: Logger;
  batchSize?: number;
  /** Long-poll wait; also bounds how long stop() waits for an idle receive. */
  waitTimeSeconds?: number;
  /**
   * What Lambda's function timeout does: a batch whose handler has not answered by then counts
   * as failed (it comes back after its visibility timeout) and the poller takes the next one.
   * Without it, one request that never answers would stop this worker for good. 30 s, the
   * classify and deliver functions' own timeout, unless a test says otherwise.
   */
  handlerTimeoutMs?: number;
}

/** Lambda's timeout of the classify and deliver functions (infra/leadstage.ts). */
export const DEFAULT_HANDLER_TIMEOUT_MS = 30_000;

class HandlerTimeoutError extends Error {
  constructor(ms: number) {
    super(`the handler did not answer within ${ms} ms`);
    this.name = 'HandlerTimeoutError';
  }
}

/** The handler's answer, or a HandlerTimeoutError once `ms` have passed. */
async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HandlerTimeoutError(ms)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Poller {
  /** Stops receiving, waits for the batch in hand to finish, and resolves. */
  stop(): Promise<void>;
}

/** Builds the record Lambda's SQS event source would hand to the function. */
export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? '',
      SenderId: attributes.SenderId ?? '',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '',
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * Does locally what Lambda's SQS event source mapping does on AWS: receive a batch, hand
 * it to the handler as an SQSEvent, delete what succeeded, and leave the records listed in
 * `batchItemFailures` to reappear after their visibility timeout (and, past the queue's
 * maxReceiveCount, to move to its DLQ). A handler that throws fails the whole batch.
 */
export function startPoller(options: PollerOptions): Poller {
  const { sqs, queueUrl, logger } = options;
  let stopping = false;
  const abort = new AbortController();

  const loop = async () => {
    while (!stopping) {
      let messages: Message[] = [];
      try {
        const response = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: options.batchSize ?? 10,
            WaitTimeSeconds: options.waitTimeSeconds ?? 1,
            MessageSystemAttributeNames: ['All'],
          }),
          { abortSignal: abort.signal },
        );
        messages = response.Messages ?? [];
      } catch (error) {
        if (stopping) break;
        logger.warn('receive failed', { queueArn: options.queueArn, error });
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      if (messages.length === 0) continue;
      const event: SQSEvent = {
        Records: messages.map((message) => toSqsRecord(message, options.queueArn, options.region)),
      };
      let failed: Set<string>;
      try {
        const result = await withDeadline(
          options.handler(event),
          options.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS,
        );
        failed = new Set(result.batchItemFailures.map((failure) => failure.itemIdentifier));
      } catch (error) {
        logger.error('handler threw; the whole batch returns after its visibility timeout', {
          queueArn: options.queueArn,
          error,
        });
        continue;
      }
      const done = messages.filter((message) => !failed.has(message.MessageId ?? ''));
      if (done.length === 0) continue;
      try {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: done.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle,
            })),
          }),
        );
      } catch (error) {
        // The messages come back and are applied again: every handler is idempotent.
        logger.warn('delete failed; messages will be redelivered', {
          queueArn: options.queueArn,
          error,
        });
      }
    }
  };

  const running = loop();
  return {
    async stop() {
      stopping = true;
      // An idle long poll is abandoned at once; a batch in hand is finished first.
      abort.abort();
      await running;
    },
  };
}
