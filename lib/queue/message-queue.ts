import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** A queue the pipeline hands work to; bodies are JSON strings. */
export interface MessageQueue {
  send(body: string): Promise<void>;
}

/** An SQS queue, on AWS or on a local SQS-compatible server: only the endpoint differs. */
export class SqsMessageQueue implements MessageQueue {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;

  constructor(sqs: SQSClient, queueUrl: string) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
  }

  async send(body: string): Promise<void> {
    await this.#sqs.send(new SendMessageCommand({ QueueUrl: this.#queueUrl, MessageBody: body }));
  }
}
