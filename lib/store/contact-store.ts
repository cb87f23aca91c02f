import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { WebhookMessage } from '../delivery/message.ts';
import type { ContactFacts } from '../domain/facts.ts';
import type { Stage, StageFlags, StageReason, StageVerdict } from '../domain/stage.ts';
import { isConditionalCheckFailed, VersionConflictError } from './errors.ts';
import { keys } from './keys.ts';

/** A delivery committed with the contact, not yet projected into its own item and the queue. */
export interface OutboxEntry {
  deliveryId: string;
  subscriptionId: string;
  message: WebhookMessage;
}

/**
 * The contact item: the commit point of the pipeline. One conditional write of this item
 * applies an event; everything else is projected from it.
 */
export interface ContactRecord {
  contactId: string;
  email: string;
  facts: ContactFacts;
  stage: Stage;
  reasons: StageReason[];
  missing: string[];
  qualification: StageVerdict['qualification'];
  flags: StageFlags;
  /** Number of stage changes so far; carried in webhooks for ordering. */
  sequence: number;
  /** Optimistic-lock version, incremented by every commit. */
  version: number;
  /** Event id -> when it was applied; entries age out after the dedupe window. */
  seen: Record<string, string>;
  outbox: Record<string, OutboxEntry>;
  updatedAt: string;
}

/** Storage of contact items: get, conditional put, and clearing projected outbox entries. */
export interface ContactStore {
  get(contactId: string): Promise<ContactRecord | undefined>;
  /**
   * Writes the record if the stored version is still `expectedVersion` (or absent, when
   * undefined). Throws VersionConflictError when another writer won.
   */
  commit(record: ContactRecord, expectedVersion: number | undefined): Promise<void>;
  /** Removes outbox entries that have been projected; removing a missing entry is a no-op. */
  clearOutbox(contactId: string, deliveryIds: string[]): Promise<void>;
}

export class DynamoContactStore implements ContactStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.#doc = doc;
    this.#tableName = tableName;
  }

  async get(contactId: string): Promise<ContactRecord | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.contact(contactId),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    const { pk: _pk, sk: _sk, type: _type, ...record } = Item;
    return record as ContactRecord;
  }

  async commit(record: ContactRecord, expectedVersion: number | undefined): Promise<void> {
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { ...keys.contact(record.contactId), type: 'contact', ...record },
          ...(expectedVersion === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: '#version = :expected',
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':expected': expectedVersion },
              }),
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error))
        throw new VersionConflictError(record.contactId, { cause: error });
      throw error;
    }
  }

  async clearOutbox(contactId: string, deliveryIds: string[]): Promise<void> {
    if (deliveryIds.length === 0) return;
    const names: Record<string, string> = { '#outbox': 'outbox' };
    // DynamoDB refuses overlapping paths, so each id is named once.
    const paths = [...new Set(deliveryIds)].map((id, index) => {
      names[`#d${index}`] = id;
      return `#outbox.#d${index}`;
    });
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.contact(contactId),
          UpdateExpression: `REMOVE ${paths.join(', ')}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
        }),
      );
    } catch (error) {
      // The contact is gone (erased): nothing left to clear.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
