import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { keys } from './keys.ts';

/** A CRM endpoint that receives signed webhooks. */
export interface SubscriptionRecord {
  id: string;
  url: string;
  /** The `whsec_` signing secret; shown to the user once, kept to sign every delivery. */
  secret: string;
  enabled: boolean;
  createdAt: string;
}

export interface SubscriptionStore {
  put(subscription: SubscriptionRecord): Promise<void>;
  get(id: string): Promise<SubscriptionRecord | undefined>;
  /** Deletes the subscription; resolves to false when there was none. */
  delete(id: string): Promise<boolean>;
  list(): Promise<SubscriptionRecord[]>;
}

function toRecord(item: Record<string, unknown>): SubscriptionRecord {
  const { pk: _pk, sk: _sk, type: _type, ...record } = item;
  return record as unknown as SubscriptionRecord;
}

export class DynamoSubscriptionStore implements SubscriptionStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.#doc = doc;
    this.#tableName = tableName;
  }

  async put(subscription: SubscriptionRecord): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: { ...keys.subscription(subscription.id), type: 'subscription', ...subscription },
      }),
    );
  }

  async get(id: string): Promise<SubscriptionRecord | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.subscription(id),
        ConsistentRead: true,
      }),
    );
    return Item === undefined ? undefined : toRecord(Item);
  }

  async delete(id: string): Promise<boolean> {
    const { Attributes } = await this.#doc.send(
      new DeleteCommand({
        TableName: this.#tableName,
        Key: keys.subscription(id),
        ReturnValues: 'ALL_OLD',
      }),
    );
    return Attributes !== undefined;
  }

  async list(): Promise<SubscriptionRecord[]> {
    const records: SubscriptionRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: {
            ':pk': keys.subscriptionPartition,
            ':prefix': 'SUBSCRIPTION#',
          },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) records.push(toRecord(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return records;
  }
}
