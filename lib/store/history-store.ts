import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { LeadEventKind } from '../domain/events.ts';
import type { StageChange } from './contact-store.ts';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from './cursor.ts';
import { keys } from './keys.ts';

/** One applied event as a contact's timeline shows it; details hold no more than the event said. */
export interface TimelineEntry {
  contactId: string;
  eventId: string;
  kind: LeadEventKind;
  source: string;
  occurredAt: string;
  appliedAt: string;
  details: Record<string, unknown>;
}

/** A contact's timeline and stage history: projections of the committed contact, put idempotently. */
export interface HistoryStore {
  putTimeline(entry: TimelineEntry): Promise<void>;
  putStageChange(change: StageChange): Promise<void>;
  /** Newest first. */
  timeline(contactId: string, page: PageRequest): Promise<Page<TimelineEntry>>;
  /** Oldest first (sequence order). */
  stageHistory(contactId: string, page: PageRequest): Promise<Page<StageChange>>;
}

const strip = <T>(item: Record<string, unknown>): T => {
  const { pk: _pk, sk: _sk, type: _type, ...rest } = item;
  return rest as T;
};

export class DynamoHistoryStore implements HistoryStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.#doc = doc;
    this.#tableName = tableName;
  }

  async putTimeline(entry: TimelineEntry): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          ...keys.timeline(entry.contactId, entry.occurredAt, entry.eventId),
          type: 'timeline',
          ...entry,
        },
      }),
    );
  }

  async putStageChange(change: StageChange): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          ...keys.stageHistory(change.contactId, change.sequence),
          type: 'stage_change',
          ...change,
        },
      }),
    );
  }

  async #query<T>(
    contactId: string,
    prefix: string,
    newestFirst: boolean,
    page: PageRequest,
  ): Promise<Page<T>> {
    const result = await this.#doc.send(
      new QueryCommand({
        TableName: this.#tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': keys.contactPartition(contactId), ':prefix': prefix },
        ScanIndexForward: !newestFirst,
        Limit: page.limit,
        ExclusiveStartKey: decodeCursor(
          page.cursor,
          ['pk', 'sk'],
          (key) =>
            key.pk === keys.contactPartition(contactId) && key.sk?.startsWith(prefix) === true,
        ),
      }),
    );
    const nextCursor = encodeCursor(result.LastEvaluatedKey);
    return {
      items: (result.Items ?? []).map((item) => strip<T>(item)),
      ...(nextCursor ? { nextCursor } : {}),
    };
  }

  timeline(contactId: string, page: PageRequest): Promise<Page<TimelineEntry>> {
    return this.#query(contactId, keys.timelinePrefix, true, page);
  }

  stageHistory(contactId: string, page: PageRequest): Promise<Page<StageChange>> {
    return this.#query(contactId, keys.stageHistoryPrefix, false, page);
  }
}
