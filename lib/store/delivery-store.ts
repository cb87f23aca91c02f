import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { WebhookMessage } from '../delivery/message.ts';
import {
  decodeBeforeCursor,
  decodeCursor,
  encodeBeforeCursor,
  encodeCursor,
  type Page,
  type PageRequest,
} from './cursor.ts';
import type { DeliveryStatus } from './delivery-status.ts';
import { isConditionalCheckFailed } from './errors.ts';
import { INDEX, keys } from './keys.ts';
import { DELIVERY_SUMMARY_ATTRIBUTES } from './table.ts';

export type { DeliveryStatus } from './delivery-status.ts';

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
  /** Every attempt, oldest first (the schedule bounds them: 8, plus manual redeliveries). */
  attempts?: DeliveryAttempt[];
  createdAt: string;
  deliveredAt?: string;
  /** When the next attempt is due (for a `failing` delivery). */
  nextAttemptAt?: string;
}

/** A delivery the sweeper found due: where it is, and whom it is for. */
export interface DueDelivery {
  contactId: string;
  deliveryId: string;
  subscriptionId: string;
}

export interface DeliveryStore {
  /** Creates the delivery unless it exists already (projections are re-run on redelivery). */
  putIfAbsent(delivery: DeliveryRecord): Promise<void>;
  get(contactId: string, deliveryId: string): Promise<DeliveryRecord | undefined>;
  /**
   * Records an attempt and the new status. A delivery still to be sent stays in the pending
   * index, where the sweeper takes it at `sweepAt` (default: the attempt's time); delivered,
   * exhausted, paused and cancelled ones leave it.
   */
  recordAttempt(
    contactId: string,
    deliveryId: string,
    attempt: DeliveryAttempt,
    status: DeliveryStatus,
    schedule?: { nextAttemptAt?: string; sweepAt?: string; expectedAttemptCount?: number },
  ): Promise<boolean>;
  /** Changes the status without an attempt (a subscription disabled or deleted). */
  setStatus(contactId: string, deliveryId: string, status: DeliveryStatus): Promise<void>;
  /** Deliveries whose sweep time has come, oldest first. */
  listDue(now: string, limit: number): Promise<DueDelivery[]>;
  /** Moves a still-open delivery's sweep time (after the sweeper queued it); false if it is no longer open. */
  reschedule(contactId: string, deliveryId: string, sweepAt: string): Promise<boolean>;
  /**
   * Makes a delivery `pending` again (redelivery, replay, a re-enabled subscription), due at
   * `sweepAt`; its attempts stay on record. False when there is no such delivery.
   */
  resume(contactId: string, deliveryId: string, sweepAt: string): Promise<boolean>;
  /** A subscription's deliveries, newest first, optionally only those created in [from, to] or with a status. */
  listBySubscription(
    subscriptionId: string,
    query: { limit: number; cursor?: string; status?: DeliveryStatus; from?: string; to?: string },
  ): Promise<Page<DeliverySummary>>;
  /** A contact's deliveries, newest first. */
  listByContact(contactId: string, page: PageRequest): Promise<Page<DeliverySummary>>;
}

/** How a contact's deliveries sort, newest first: `<createdAt>#<deliveryId>`. */
export const deliverySortKey = (delivery: { createdAt: string; deliveryId: string }) =>
  `${delivery.createdAt}#${delivery.deliveryId}`;
/** Whether a cursor's key is one of a contact's delivery list. */
export const isDeliverySortKey = (key: string) => /^\d{4}-[0-9T:.Z-]+#[a-z]+_[\w-]+$/.test(key);

/** One page of `summaries` (any order), newest first, below the cursor's key. */
export function pageOfDeliveries(
  summaries: DeliverySummary[],
  page: PageRequest,
): Page<DeliverySummary> {
  const before = decodeBeforeCursor(page.cursor, isDeliverySortKey);
  const sorted = summaries
    .filter((summary) => before === undefined || deliverySortKey(summary) < before)
    .sort((a, b) => (deliverySortKey(a) < deliverySortKey(b) ? 1 : -1));
  const items = sorted.slice(0, page.limit);
  const last = items.at(-1);
  return {
    items,
    ...(sorted.length > page.limit && last !== undefined
      ? { nextCursor: encodeBeforeCursor(deliverySortKey(last)) }
      : {}),
  };
}

/** A delivery as a list shows it (what the bySubscription index projects). */
export interface DeliverySummary {
  deliveryId: string;
  contactId: string;
  subscriptionId: string;
  eventType: string;
  status: DeliveryStatus;
  attemptCount: number;
  lastAttempt?: DeliveryAttempt;
  createdAt: string;
  deliveredAt?: string;
}

/** How long after a delivery is created (and queued) the sweeper steps in, if it was never sent. */
export const NEW_DELIVERY_GRACE_MS = 5 * 60 * 1000;
const safetyNet = (createdAt: string) =>
  new Date(Date.parse(createdAt) + NEW_DELIVERY_GRACE_MS).toISOString();

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
              ? keys.pendingDelivery(safetyNet(delivery.createdAt), delivery.deliveryId)
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
    schedule: { nextAttemptAt?: string; sweepAt?: string; expectedAttemptCount?: number } = {},
  ): Promise<boolean> {
    const delivered = status === 'delivered';
    const open = OPEN_STATUSES.has(status);
    const pending = keys.pendingDelivery(schedule.sweepAt ?? attempt.at, deliveryId);
    const sets = [
      '#status = :status',
      'lastAttempt = :attempt',
      'attempts = list_append(if_not_exists(attempts, :none), :attempts)',
      'attemptCount = attemptCount + :one',
    ];
    const removes: string[] = [];
    if (delivered) sets.push('deliveredAt = :at');
    if (open) sets.push('gsi3pk = :gsi3pk', 'gsi3sk = :gsi3sk');
    else removes.push('gsi3pk', 'gsi3sk');
    if (schedule.nextAttemptAt !== undefined) sets.push('nextAttemptAt = :next');
    else removes.push('nextAttemptAt');
    // With an expected count, only the attempt that read that count may record: a second job
    // for the same delivery (a duplicate message) loses instead of overwriting `delivered`.
    const guarded = schedule.expectedAttemptCount !== undefined;
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.delivery(contactId, deliveryId),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: guarded
            ? 'attribute_exists(pk) AND attemptCount = :seen AND #status IN (:pending, :failing)'
            : 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':status': status,
            ':attempt': attempt,
            ':attempts': [attempt],
            ':none': [],
            ':one': 1,
            ...(delivered ? { ':at': attempt.at } : {}),
            ...(open ? { ':gsi3pk': pending.gsi3pk, ':gsi3sk': pending.gsi3sk } : {}),
            ...(schedule.nextAttemptAt !== undefined ? { ':next': schedule.nextAttemptAt } : {}),
            ...(guarded
              ? {
                  ':seen': schedule.expectedAttemptCount,
                  ':pending': 'pending',
                  ':failing': 'failing',
                }
              : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (guarded && isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async setStatus(contactId: string, deliveryId: string, status: DeliveryStatus): Promise<void> {
    const open = OPEN_STATUSES.has(status);
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.delivery(contactId, deliveryId),
          UpdateExpression: `SET #status = :status${open ? '' : ' REMOVE gsi3pk, gsi3sk, nextAttemptAt'}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':status': status },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async listDue(now: string, limit: number): Promise<DueDelivery[]> {
    const { Items } = await this.#doc.send(
      new QueryCommand({
        TableName: this.#tableName,
        IndexName: INDEX.pendingDeliveries,
        // '~' sorts after every delivery id, so everything due at `now` is included.
        KeyConditionExpression: 'gsi3pk = :pending AND gsi3sk <= :now',
        ExpressionAttributeValues: { ':pending': 'PENDING', ':now': `${now}#~` },
        Limit: limit,
      }),
    );
    return (Items ?? []).map((item) => ({
      contactId: item.contactId,
      deliveryId: item.deliveryId,
      subscriptionId: item.subscriptionId,
    }));
  }

  async resume(contactId: string, deliveryId: string, sweepAt: string): Promise<boolean> {
    const pending = keys.pendingDelivery(sweepAt, deliveryId);
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.delivery(contactId, deliveryId),
          UpdateExpression:
            'SET #status = :pending, gsi3pk = :gsi3pk, gsi3sk = :gsi3sk REMOVE nextAttemptAt',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':pending': 'pending',
            ':gsi3pk': pending.gsi3pk,
            ':gsi3sk': pending.gsi3sk,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async listBySubscription(
    subscriptionId: string,
    query: { limit: number; cursor?: string; status?: DeliveryStatus; from?: string; to?: string },
  ): Promise<Page<DeliverySummary>> {
    const partition = keys.deliveryBySubscription(subscriptionId, '', '').gsi2pk;
    const range =
      query.from !== undefined || query.to !== undefined ? ' AND gsi2sk BETWEEN :from AND :to' : '';
    const result = await this.#doc.send(
      new QueryCommand({
        TableName: this.#tableName,
        IndexName: INDEX.bySubscription,
        KeyConditionExpression: `gsi2pk = :sub${range}`,
        ...(query.status
          ? {
              FilterExpression: '#status = :status',
              ExpressionAttributeNames: { '#status': 'status' },
            }
          : {}),
        ExpressionAttributeValues: {
          ':sub': partition,
          ...(range ? { ':from': query.from ?? '', ':to': `${query.to ?? '9999'}#~` } : {}),
          ...(query.status ? { ':status': query.status } : {}),
        },
        ScanIndexForward: false,
        Limit: query.limit,
        ExclusiveStartKey: decodeCursor(
          query.cursor,
          ['gsi2pk', 'gsi2sk', 'pk', 'sk'],
          (key) => key.gsi2pk === partition,
        ),
      }),
    );
    const nextCursor = encodeCursor(result.LastEvaluatedKey);
    const items = (result.Items ?? []).map((item): DeliverySummary => {
      const { pk: _pk, sk: _sk, gsi2pk: _a, gsi2sk: _b, ...summary } = item;
      return summary as DeliverySummary;
    });
    return { items, ...(nextCursor ? { nextCursor } : {}) };
  }

  async listByContact(contactId: string, page: PageRequest): Promise<Page<DeliverySummary>> {
    // Delivery ids are hashes, so the partition is not in time order: its deliveries (one per
    // stage change and subscriber, a few dozen) are read whole and sorted here.
    const names = Object.fromEntries(
      DELIVERY_SUMMARY_ATTRIBUTES.map((name, i) => [`#a${i}`, name]),
    );
    const summaries: DeliverySummary[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.#doc.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: {
            ':pk': keys.contactPartition(contactId),
            ':prefix': keys.delivery(contactId, '').sk,
          },
          ProjectionExpression: Object.keys(names).join(', '),
          ExpressionAttributeNames: names,
          ExclusiveStartKey: startKey,
        }),
      );
      summaries.push(...((result.Items ?? []) as DeliverySummary[]));
      startKey = result.LastEvaluatedKey;
    } while (startKey !== undefined);
    return pageOfDeliveries(summaries, page);
  }

  async reschedule(contactId: string, deliveryId: string, sweepAt: string): Promise<boolean> {
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.delivery(contactId, deliveryId),
          UpdateExpression: 'SET gsi3sk = :sk',
          ConditionExpression: 'attribute_exists(gsi3pk)',
          ExpressionAttributeValues: { ':sk': keys.pendingDelivery(sweepAt, deliveryId).gsi3sk },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
