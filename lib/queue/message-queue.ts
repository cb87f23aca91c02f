import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** A queue the pipeline hands work to; bodies are JSON strings. */
export interface SendOptions {
  /** Seconds before the message can be received (SQS allows 0 to 900). */
  delaySeconds?: number;
  /** String message attributes, e.g. why a message was dead-lettered. */
  attributes?: Record<string, string>;
}

export interface MessageQueue {
  send(body: string, options?: SendOptions): Promise<void>;
  /** Sends many bodies; resolves only when every one was accepted. */
  sendBatch(bodies: readonly string[]): Promise<void>;
}

/** SQS takes at most ten messages per SendMessageBatch. */
const SQS_BATCH_LIMIT = 10;
const BATCH_ATTEMPTS = 3;

/** Some entries of a batch were refused even after retries. */
export class BatchSendError extends Error {
  override readonly name = 'BatchSendError';
}

/** An SQS queue, on AWS or on a local SQS-compatible server: only the endpoint differs. */
export class SqsMessageQueue implements MessageQueue {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;

  constructor(sqs: SQSClient, queueUrl: string) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
  }

  async send(body: string, options: SendOptions = {}): Promise<void> {
    await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: body,
        ...(options.delaySeconds === undefined ? {} : { DelaySeconds: options.delaySeconds }),
        ...(options.attributes === undefined
          ? {}
          : {
              MessageAttributes: Object.fromEntries(
                Object.entries(options.attributes).map(([name, value]) => [
                  name,
                  { DataType: 'String', StringValue: value },
                ]),
              ),
            }),
      }),
    );
  }

  async sendBatch(bodies: readonly string[]): Promise<void> {
    const chunks: string[][] = [];
    for (let i = 0; i < bodies.length; i += SQS_BATCH_LIMIT)
      chunks.push(bodies.slice(i, i + SQS_BATCH_LIMIT));
    await Promise.all(chunks.map((chunk) => this.#sendChunk(chunk)));
  }

  /** SendMessageBatch can accept some entries and refuse others: the refused ones are retried. */
  async #sendChunk(chunk: string[]): Promise<void> {
    let pending = chunk.map((body, index) => ({ Id: String(index), MessageBody: body }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      const { Failed } = await this.#sqs.send(
        new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: pending }),
      );
      const failedIds = new Set((Failed ?? []).map((failure) => failure.Id));
      const senderFault = (Failed ?? []).find((failure) => failure.SenderFault);
      if (senderFault !== undefined) {
        throw new BatchSendError(
          `SQS refused a message: ${senderFault.Code} ${senderFault.Message ?? ''}`,
        );
      }
      pending = pending.filter((entry) => failedIds.has(entry.Id));
      if (pending.length > 0 && attempt >= BATCH_ATTEMPTS) {
        throw new BatchSendError(
          `${pending.length} messages were not accepted after ${attempt} attempts`,
        );
      }
    }
  }
}
