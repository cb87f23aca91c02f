import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { WebhookMessage } from '../delivery/message.ts';
import { isConditionalCheckFailed } from './errors.ts';
import { keys } from './keys.ts';

export type DeliveryStatus = 'pending' | 'delivered' | 'failing' | 'cancelled';

/** One attempt to POST a delivery; the response body is truncated before it is kept. */
export interface DeliveryAttempt {
  at: string;
  statusCode?: number;
  latencyMs: number;
  error?: string;
  responseBody?: string;
}

/** One webhook for one subscriber; its id is the `webhook-id`, stable across retries. */
export interface DeliveryRecord {
  deliveryId: string;
  subscriptionId: string;
  contactId: string;
  message: WebhookMessage;
  status: DeliveryStatus;
  attemptCount: number;
  lastAttempt?: DeliveryAttempt;
  createdAt: string;
  deliveredAt?: string;
}

export interface DeliveryStore {
  /** Creates the delivery unless it exists already (projections are re-run on redelivery). */
  putIfAbsent(delivery: DeliveryRecord): Promise<void>;
  get(subscriptionId: string, deliveryId: string): Promise<DeliveryRecord | undefined>;
  recordAttempt(
    subscriptionId: string,
    deliveryId: string,
    attempt: DeliveryAttempt,
    status: DeliveryStatus,
  ): Promise<void>;
}

export class DynamoDeliveryStore implements DeliveryStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.#doc = doc;
    this.#tableName = tableName;
  }

  async putIfAbsent(delivery: DeliveryRecord): Promise<void> {
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: {
            ...keys.delivery(delivery.subscriptionId, delivery.deliveryId),
            type: 'delivery',
            ...delivery,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async get(subscriptionId: string, deliveryId: string): Promise<DeliveryRecord | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.delivery(subscriptionId, deliveryId),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    const { pk: _pk, sk: _sk, type: _type, ...record } = Item;
    return record as DeliveryRecord;
  }

  async recordAttempt(
    subscriptionId: string,
    deliveryId: string,
    attempt: DeliveryAttempt,
    status: DeliveryStatus,
  ): Promise<void> {
    const delivered = status === 'delivered';
    await this.#doc.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: keys.delivery(subscriptionId, deliveryId),
        UpdateExpression: `SET #status = :status, lastAttempt = :attempt, attemptCount = attemptCount + :one${
          delivered ? ', deliveredAt = :at' : ''
        }`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':status': status,
          ':attempt': attempt,
          ':one': 1,
          ...(delivered ? { ':at': attempt.at } : {}),
        },
      }),
    );
  }
}
