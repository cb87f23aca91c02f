import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Stage } from '../domain/stage.ts';
import { isConditionalCheckFailed, SubscriptionChangedError } from './errors.ts';
import { keys } from './keys.ts';

/** The webhook event types a subscription can receive. */
export const WEBHOOK_EVENT_TYPES = [
  'contact.stage_changed',
  'contact.not_contactable',
  'contact.erased',
] as const;
export type SubscribedEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A CRM endpoint that receives signed webhooks. */
export interface SubscriptionRecord {
  id: string;
  url: string;
  description?: string;
  /** The event types it receives; all when absent. */
  eventTypes?: SubscribedEventType[];
  /** For `contact.stage_changed`: only changes to these stages; all when absent. */
  stages?: Stage[];
  /** The `whsec_` signing secret; shown to the user once, kept to sign every delivery. */
  secret: string;
  /** Secrets replaced by a rotation, still signing (beside the new one) until they expire. */
  previousSecrets?: { secret: string; expiresAt: string }[];
  enabled: boolean;
  createdAt: string;
  /** Why it was disabled: `gone` (the endpoint answered 410) or `failing` (5 days of failures). */
  disabledReason?: 'gone' | 'failing' | 'manual';
  /** When the current run of failed attempts began; cleared by a success. */
  failingSince?: string;
  /** The last successful delivery. */
  lastSuccessAt?: string;
  /**
   * Counts the writes to the item (edits, rotations, health changes), so that an edit made
   * from a read can refuse to overwrite a write it did not see. Absent on an item never
   * written since it was created (counts as 0).
   */
  revision?: number;
}

/** A change of a subscription's health, written after a delivery attempt. */
export interface SubscriptionHealthChange {
  /** `null` clears it (a success). */
  failingSince?: string | null;
  lastSuccessAt?: string;
  /** Disables the subscription, with the reason. */
  disable?: 'gone' | 'failing';
}

export interface SubscriptionStore {
  /** Stores a new subscription (or replaces one unconditionally: imports and tests). */
  put(subscription: SubscriptionRecord): Promise<void>;
  /**
   * Replaces a subscription read at revision `read.revision` with `next` (one more revision).
   * Throws {@link SubscriptionChangedError} when it was written or deleted since that read.
   */
  replace(read: SubscriptionRecord, next: SubscriptionRecord): Promise<SubscriptionRecord>;
  get(id: string): Promise<SubscriptionRecord | undefined>;
  /** Deletes the subscription; resolves to false when there was none. */
  delete(id: string): Promise<boolean>;
  list(): Promise<SubscriptionRecord[]>;
  /** Applies a health change (a new revision) to an existing subscription; a deleted one is left alone. */
  recordHealth(id: string, change: SubscriptionHealthChange): Promise<void>;
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

  async replace(read: SubscriptionRecord, next: SubscriptionRecord): Promise<SubscriptionRecord> {
    const revision = read.revision ?? 0;
    const stored: SubscriptionRecord = { ...next, id: read.id, revision: revision + 1 };
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { ...keys.subscription(read.id), type: 'subscription', ...stored },
          ConditionExpression:
            revision === 0
              ? 'attribute_exists(pk) AND attribute_not_exists(revision)'
              : 'revision = :revision',
          ...(revision === 0 ? {} : { ExpressionAttributeValues: { ':revision': revision } }),
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error))
        throw new SubscriptionChangedError(read.id, { cause: error });
      throw error;
    }
    return stored;
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

  async recordHealth(id: string, change: SubscriptionHealthChange): Promise<void> {
    const sets: string[] = [];
    const removes: string[] = [];
    const values: Record<string, unknown> = {};
    if (change.failingSince === null) removes.push('failingSince');
    else if (change.failingSince !== undefined) {
      // Only the first failure of a run sets it.
      sets.push('failingSince = if_not_exists(failingSince, :failingSince)');
      values[':failingSince'] = change.failingSince;
    }
    if (change.lastSuccessAt !== undefined) {
      sets.push('lastSuccessAt = :lastSuccessAt');
      values[':lastSuccessAt'] = change.lastSuccessAt;
    }
    if (change.disable !== undefined) {
      sets.push('enabled = :false', 'disabledReason = :reason');
      values[':false'] = false;
      values[':reason'] = change.disable;
    }
    if (sets.length === 0 && removes.length === 0) return;
    sets.push('revision = if_not_exists(revision, :zero) + :one');
    values[':zero'] = 0;
    values[':one'] = 1;
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.subscription(id),
          UpdateExpression: [
            sets.length ? `SET ${sets.join(', ')}` : '',
            removes.length ? `REMOVE ${removes.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join(' '),
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}

/**
 * Whether a subscription wants this event: of a subscribed type and (for a stage change) to
 * a wanted stage. `enabled` is the caller's concern: stage changes skip a disabled
 * subscription (as Svix does; a replay recovers them), erasure notices are kept for it.
 */
export function wants(
  subscription: SubscriptionRecord,
  type: SubscribedEventType,
  toStage?: Stage,
): boolean {
  if (subscription.eventTypes !== undefined && !subscription.eventTypes.includes(type))
    return false;
  if (
    type === 'contact.stage_changed' &&
    toStage !== undefined &&
    subscription.stages !== undefined
  ) {
    return subscription.stages.includes(toStage);
  }
  return true;
}

/** The secrets a delivery is signed with now: the current one and those rotated out but not expired. */
export function signingSecrets(subscription: SubscriptionRecord, now: Date): string[] {
  const current = now.toISOString();
  return [
    subscription.secret,
    ...(subscription.previousSecrets ?? [])
      .filter((previous) => previous.expiresAt > current)
      .map((previous) => previous.secret),
  ];
}
