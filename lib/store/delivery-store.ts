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
  get(contactId: string, deliveryId: string): Promise<DeliveryRecord | undefined>;
  /**
   * Records an attempt and the new status. A delivery that is still to be sent stays in the
   * pending index (due at `dueAt`, default now); delivered and cancelled ones leave it.
   */
  recordAttempt(
    contactId: string,
    deliveryId: string,
    attempt: DeliveryAttempt,
    status: DeliveryStatus,
    dueAt?: string,
  ): Promise<void>;
}

/** Statuses still waiting to be sent; only these are in the sparse pending index. */
const OPEN_STATUSES: ReadonlySet<DeliveryStatus> = new Set(['pending', 'failing']);

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
            ...keys.delivery(delivery.contactId, delivery.deliveryId),
            type: 'delivery',
            eventType: delivery.message.type,
            ...keys.deliveryBySubscription(
              delivery.subscriptionId,
              delivery.createdAt,
              delivery.deliveryId,
            ),
            ...(OPEN_STATUSES.has(delivery.status)
              ? keys.pendingDelivery(delivery.createdAt, delivery.deliveryId)
              : {}),
            ...delivery,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async get(contactId: string, deliveryId: string): Promise<DeliveryRecord | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.delivery(contactId, deliveryId),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    const {
      pk: _pk,
      sk: _sk,
      type: _type,
      eventType: _e,
      gsi2pk: _a,
      gsi2sk: _b,
      gsi3pk: _c,
      gsi3sk: _d,
      ...record
    } = Item;
    return record as DeliveryRecord;
  }

  async recordAttempt(
    contactId: string,
    deliveryId: string,
    attempt: DeliveryAttempt,
    status: DeliveryStatus,
    dueAt?: string,
  ): Promise<void> {
    const delivered = status === 'delivered';
    const open = OPEN_STATUSES.has(status);
    const pending = keys.pendingDelivery(dueAt ?? attempt.at, deliveryId);
    const sets = [
      '#status = :status',
      'lastAttempt = :attempt',
      'attemptCount = attemptCount + :one',
    ];
    if (delivered) sets.push('deliveredAt = :at');
    if (open) sets.push('gsi3pk = :gsi3pk', 'gsi3sk = :gsi3sk');
    await this.#doc.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: keys.delivery(contactId, deliveryId),
        UpdateExpression: `SET ${sets.join(', ')}${open ? '' : ' REMOVE gsi3pk, gsi3sk'}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':status': status,
          ':attempt': attempt,
          ':one': 1,
          ...(delivered ? { ':at': attempt.at } : {}),
          ...(open ? { ':gsi3pk': pending.gsi3pk, ':gsi3sk': pending.gsi3sk } : {}),
        },
      }),
    );
  }
}
