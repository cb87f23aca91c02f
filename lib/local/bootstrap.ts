import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { tableDefinition } from '../store/table.ts';

/** Creates the table unless it exists; safe to run at every start. */
export async function ensureTable(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await dynamo.send(new CreateTableCommand(tableDefinition(tableName)));
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
  }
}

export interface QueuePair {
  url: string;
  arn: string;
  dlqUrl: string;
  dlqArn: string;
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`queue ${url} has no QueueArn`);
  return arn;
}

/**
 * Creates a queue and its dead-letter queue, as on AWS: after `maxReceiveCount` failed
 * receives a message moves to the DLQ. CreateQueue with the same attributes is idempotent.
 */
export async function ensureQueuePair(
  sqs: SQSClient,
  name: string,
  options: { visibilityTimeoutSeconds: number; maxReceiveCount: number },
): Promise<QueuePair> {
  const fourteenDays = String(14 * 24 * 3600);
  const dlq = await sqs.send(
    new CreateQueueCommand({ QueueName: `${name}-dlq`, Attributes: { MessageRetentionPeriod: fourteenDays } }),
  );
  if (dlq.QueueUrl === undefined) throw new Error(`CreateQueue ${name}-dlq returned no URL`);
  const dlqArn = await queueArn(sqs, dlq.QueueUrl);
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        MessageRetentionPeriod: fourteenDays,
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: String(options.maxReceiveCount) }),
      },
    }),
  );
  if (queue.QueueUrl === undefined) throw new Error(`CreateQueue ${name} returned no URL`);
  return { url: queue.QueueUrl, arn: await queueArn(sqs, queue.QueueUrl), dlqUrl: dlq.QueueUrl, dlqArn };
}
