import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { tableDefinition } from '../store/table.ts';

async function waitUntilActive(dynamo: DynamoDBClient, tableName: string) {
  for (let attempt = 0; attempt < 600; attempt++) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every(
      (index) => index.IndexStatus === 'ACTIVE',
    );
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return Table;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

/** The table exists but lacks an index this version needs (a data folder from an older version). */
export class TableOutdatedError extends Error {
  override readonly name = 'TableOutdatedError';
}

/**
 * Creates the table unless it exists, and resolves once table and indexes are ACTIVE (a
 * table still CREATING refuses item operations). Safe to run at every start. A table that
 * lacks an index is refused with TableOutdatedError: dynalite cannot add an index to an
 * existing table, so such a folder is moved aside rather than half-used.
 */
export async function ensureTable(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  const definition = tableDefinition(tableName);
  try {
    await dynamo.send(new CreateTableCommand(definition));
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
  }
  const table = await waitUntilActive(dynamo, tableName);
  const existing = new Set((table.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  const missing = (definition.GlobalSecondaryIndexes ?? []).filter(
    (index) => !existing.has(index.IndexName),
  );
  if (missing.length > 0) {
    throw new TableOutdatedError(
      `The table "${tableName}" was created by an older Leadstage and lacks the index ${missing
        .map((index) => `"${index.IndexName}"`)
        .join(
          ', ',
        )}. Move the data folder aside (or point LEADSTAGE_DATA_DIR at a new one) to start with a fresh table.`,
    );
  }
}

export interface QueuePair {
  url: string;
  arn: string;
  dlqUrl: string;
  dlqArn: string;
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`queue ${url} has no QueueArn`);
  return arn;
}

/**
 * Creates a queue with these attributes, or, when it exists with others (a changed
 * setting between starts), updates them: CreateQueue refuses differing attributes.
 */
async function upsertQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<string> {
  try {
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
    );
    if (QueueUrl === undefined) throw new Error(`CreateQueue ${name} returned no URL`);
    return QueueUrl;
  } catch (error) {
    // The SDK names it from the query-error header: `AWS.SimpleQueueService.QueueNameExists`
    // from some servers, `QueueNameExists` from others.
    const code = (error as { name?: string }).name ?? '';
    if (!/(^|\.)Queue(NameExists|AlreadyExists)$/.test(code)) throw error;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (QueueUrl === undefined) throw new Error(`GetQueueUrl ${name} returned no URL`);
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: attributes }));
    return QueueUrl;
  }
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
  const dlqUrl = await upsertQueue(sqs, `${name}-dlq`, { MessageRetentionPeriod: fourteenDays });
  const dlqArn = await queueArn(sqs, dlqUrl);
  const url = await upsertQueue(sqs, name, {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds),
    MessageRetentionPeriod: fourteenDays,
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: dlqArn,
      maxReceiveCount: String(options.maxReceiveCount),
    }),
  });
  return { url, arn: await queueArn(sqs, url), dlqUrl, dlqArn };
}
