import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { WebhookMessage } from '../delivery/message.ts';
import { type ContactFacts, nameAndCompany } from '../domain/facts.ts';
import type {
  Stage,
  StageDirection,
  StageFlags,
  StageReason,
  StageVerdict,
} from '../domain/stage.ts';
import { isConditionalCheckFailed, VersionConflictError } from './errors.ts';
import { keys } from './keys.ts';

/** A delivery committed with the contact, not yet projected into its own item and the queue. */
export interface OutboxEntry {
  deliveryId: string;
  subscriptionId: string;
  message: WebhookMessage;
  /** The subscription was disabled at the commit: the delivery is kept, paused, not sent. */
  paused?: boolean;
}

/** One stage change, as the stage-history projection keeps it. */
export interface StageChange {
  contactId: string;
  sequence: number;
  from: Stage | null;
  to: Stage;
  direction: StageDirection;
  reasons: StageReason[];
  missing: string[];
  flags: StageFlags;
  at: string;
  causedBy: string;
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
  /** When the current stage was reached (the byStage index sorts on it). */
  stageChangedAt: string;
  /**
   * Set when the contact came back after an erasure: events that happened before this time
   * belong to the erased person and are never applied.
   */
  erasedBefore?: string;
  /** Number of stage changes so far; carried in webhooks for ordering. */
  sequence: number;
  /** Optimistic-lock version, incremented by every commit. */
  version: number;
  /** Event id -> when it was applied; entries age out after the dedupe window. */
  seen: Record<string, string>;
  /** Deliveries committed but not yet projected, by delivery id. */
  outbox: Record<string, OutboxEntry>;
  /** Stage changes committed but not yet projected into stage-history items, by sequence. */
  pendingHistory?: Record<string, StageChange>;
  /**
   * Versions whose commit changed what the funnel counts (stage, contactable, stale) and are
   * not yet counted; each is removed once the funnel counters have it (lib/classify/count-contact.ts).
   */
  pendingCounts?: Record<string, true>;
  /**
   * When time alone next moves a flag (`stale` set, `cadenceExceeded` lifted); absent when it
   * cannot. Keys the sparse flagsDue index, which the ageing pass reads (decision 50).
   */
  flagsDueAt?: string;
  updatedAt: string;
}

/**
 * What is left of an erased contact: its id, when it was erased, and the version (so that
 * a writer still holding the old record loses its race). No personal data.
 */
export interface ErasedContact {
  contactId: string;
  erased: true;
  erasedAt: string;
  version: number;
  /** The last stage-change sequence: a returning contact continues after it (webhook ids stay unique). */
  sequence: number;
}

export function isErased(value: ContactRecord | ErasedContact | undefined): value is ErasedContact {
  return value !== undefined && 'erased' in value && value.erased === true;
}

/** Storage of contact items: get, conditional put, clearing the outbox, and erasure. */
export interface ContactStore {
  /** The contact, or undefined when there is none or it was erased. */
  get(contactId: string): Promise<ContactRecord | undefined>;
  /** The contact item as the commit sees it: a contact, an erasure marker, or nothing. */
  getForUpdate(contactId: string): Promise<ContactRecord | ErasedContact | undefined>;
  /**
   * Writes the record if the stored version is still `expectedVersion` (or absent, when
   * undefined). Throws VersionConflictError when another writer won.
   */
  commit(record: ContactRecord, expectedVersion: number | undefined): Promise<void>;
  /** Removes projected outbox, stage-history and count entries; a missing entry is a no-op. */
  clearOutbox(
    contactId: string,
    deliveryIds: string[],
    historySequences?: string[],
    countVersions?: string[],
  ): Promise<void>;
  /**
   * Replaces the contact item with an erasure marker (same version rules as `commit`) and
   * deletes every other item of the contact's partition. Safe to repeat.
   */
  erase(marker: ErasedContact, expectedVersion: number | undefined): Promise<void>;
  /**
   * Deletes every item of the partition but the erasure marker, the funnel's counted marker
   * and the `contact.erased` notices (they carry no personal data; the notices must survive
   * until delivered, the counted marker keeps a late projection from counting the contact
   * again); returns how many it deleted.
   */
  purge(contactId: string): Promise<number>;
}

function versionCondition(expectedVersion: number | undefined) {
  return expectedVersion === undefined
    ? { ConditionExpression: 'attribute_not_exists(pk)' }
    : {
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':expected': expectedVersion },
      };
}

export class DynamoContactStore implements ContactStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.#doc = doc;
    this.#tableName = tableName;
  }

  async get(contactId: string): Promise<ContactRecord | undefined> {
    const found = await this.getForUpdate(contactId);
    return isErased(found) ? undefined : found;
  }

  async getForUpdate(contactId: string): Promise<ContactRecord | ErasedContact | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.contact(contactId),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    const {
      pk: _pk,
      sk: _sk,
      type: _type,
      gsi1pk: _g1,
      gsi1sk: _g2,
      summary: _s,
      gsi5pk: _g5,
      gsi5sk: _g6,
      ...record
    } = Item;
    return record as ContactRecord | ErasedContact;
  }

  async commit(record: ContactRecord, expectedVersion: number | undefined): Promise<void> {
    const summary = nameAndCompany(record.facts);
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: {
            ...keys.contact(record.contactId),
            type: 'contact',
            ...keys.byStage(record.stage, record.stageChangedAt, record.contactId),
            summary,
            ...(record.flagsDueAt !== undefined
              ? keys.flagsDue(record.flagsDueAt, record.contactId)
              : {}),
            ...record,
          },
          ...versionCondition(expectedVersion),
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error))
        throw new VersionConflictError(record.contactId, { cause: error });
      throw error;
    }
  }

  async clearOutbox(
    contactId: string,
    deliveryIds: string[],
    historySequences: string[] = [],
    countVersions: string[] = [],
  ): Promise<void> {
    if (deliveryIds.length === 0 && historySequences.length === 0 && countVersions.length === 0)
      return;
    const names: Record<string, string> = {};
    // DynamoDB refuses overlapping paths, so each entry is named once.
    const paths = [
      ...[...new Set(deliveryIds)].map((id, index) => {
        names['#outbox'] = 'outbox';
        names[`#d${index}`] = id;
        return `#outbox.#d${index}`;
      }),
      ...[...new Set(historySequences)].map((sequence, index) => {
        names['#history'] = 'pendingHistory';
        names[`#h${index}`] = sequence;
        return `#history.#h${index}`;
      }),
      ...[...new Set(countVersions)].map((version, index) => {
        names['#counts'] = 'pendingCounts';
        names[`#c${index}`] = version;
        return `#counts.#c${index}`;
      }),
    ];
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.contact(contactId),
          UpdateExpression: `REMOVE ${paths.join(', ')}`,
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(erased)',
          ExpressionAttributeNames: names,
        }),
      );
    } catch (error) {
      // The contact is gone (erased): nothing left to clear.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async erase(marker: ErasedContact, expectedVersion: number | undefined): Promise<void> {
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { ...keys.contact(marker.contactId), type: 'erased', ...marker },
          ...versionCondition(expectedVersion),
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error))
        throw new VersionConflictError(marker.contactId, { cause: error });
      throw error;
    }
    await this.purge(marker.contactId);
  }

  async purge(contactId: string): Promise<number> {
    let deleted = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.contactPartition(contactId) },
          ProjectionExpression: 'pk, sk, eventType',
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      const inPartition = (page.Items ?? []).filter(
        (item) =>
          item.sk !== keys.contact(contactId).sk &&
          item.sk !== keys.countedSk &&
          item.eventType !== 'contact.erased',
      );
      // References point at the contact's items outside its partition (Message-ID index,
      // reply matches): those go too.
      const outside = inPartition.flatMap((item) => {
        const key = String(item.sk).startsWith('REF#')
          ? keys.referenced(String(item.sk))
          : undefined;
        return key === undefined ? [] : [key];
      });
      const doomed = [...outside, ...inPartition];
      for (let i = 0; i < doomed.length; i += 25) {
        let requests = doomed
          .slice(i, i + 25)
          .map((item) => ({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } }));
        // BatchWrite may leave some requests unprocessed under load: send those again.
        for (let attempt = 0; requests.length > 0; attempt++) {
          if (attempt > 8) throw new Error(`erasure of ${contactId}: deletes still unprocessed`);
          if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
          const result = await this.#doc.send(
            new BatchWriteCommand({ RequestItems: { [this.#tableName]: requests } }),
          );
          requests = (result.UnprocessedItems?.[this.#tableName] ?? []) as typeof requests;
        }
      }
      deleted += doomed.length;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return deleted;
  }
}
