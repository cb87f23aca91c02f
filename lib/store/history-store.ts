import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { LeadEventKind } from '../domain/events.ts';
import { STAGES, type Stage } from '../domain/stage.ts';
import type { StageChange } from './contact-store.ts';
import {
  decodeBeforeCursor,
  decodeCursor,
  encodeBeforeCursor,
  encodeCursor,
  type Page,
  type PageRequest,
} from './cursor.ts';
import { INDEX, keys } from './keys.ts';

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

/** Who a stage change was of, as the list of recent changes shows it (as of the change). */
export interface ChangedContact {
  email: string;
  summary: { name?: string; firstName?: string; lastName?: string; company?: string };
}

/** A stage change in the list across contacts (what the stageChanges index projects: no flags). */
export type ListedStageChange = Omit<StageChange, 'flags'> & ChangedContact;

/** The sort key of a change in the list across contacts: `<at>#<contactId>#<sequence>`. */
export const stageChangeSortKey = (change: Omit<StageChange, 'flags'>) =>
  keys.stageChangeByStage(change.to, change.at, change.contactId, change.sequence).gsi4sk;
/** Whether a cursor's key is one of the list across contacts. */
export const isStageChangeSortKey = (key: string) =>
  /^\d{4}-\d{2}-\d{2}T[0-9:.]+Z#ct_[0-9a-f]{24}#\d{8}$/.test(key);

/** A contact's timeline and stage history: projections of the committed contact, put idempotently. */
export interface HistoryStore {
  putTimeline(entry: TimelineEntry): Promise<void>;
  /** Puts the change, with the contact's email and name (for the list across contacts). */
  putStageChange(change: StageChange, contact: ChangedContact): Promise<void>;
  /** Newest first. */
  timeline(contactId: string, page: PageRequest): Promise<Page<TimelineEntry>>;
  /** Oldest first (sequence order). */
  stageHistory(contactId: string, page: PageRequest): Promise<Page<StageChange>>;
  /** Stage changes of every contact, newest first; only those to `stage` when given. */
  recentStageChanges(
    query: PageRequest & { stage?: Stage | undefined },
  ): Promise<Page<ListedStageChange>>;
}

/** The entry without its keys (and, for a stage change, without what only the list across contacts shows). */
const strip = <T>(item: Record<string, unknown>): T => {
  const {
    pk: _pk,
    sk: _sk,
    type: _type,
    gsi4pk: _g1,
    gsi4sk: _g2,
    email: _email,
    summary: _summary,
    ...rest
  } = item;
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

  async putStageChange(change: StageChange, contact: ChangedContact): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          ...keys.stageHistory(change.contactId, change.sequence),
          type: 'stage_change',
          ...keys.stageChangeByStage(change.to, change.at, change.contactId, change.sequence),
          email: contact.email,
          summary: contact.summary,
          ...change,
        },
      }),
    );
  }

  async recentStageChanges(
    query: PageRequest & { stage?: Stage | undefined },
  ): Promise<Page<ListedStageChange>> {
    const before = decodeBeforeCursor(query.cursor, isStageChangeSortKey);
    const stages = query.stage === undefined ? STAGES : [query.stage];
    // One partition per stage changed to; the list of every stage merges their newest.
    const pages = await Promise.all(
      stages.map((stage) =>
        this.#doc.send(
          new QueryCommand({
            TableName: this.#tableName,
            IndexName: INDEX.stageChanges,
            KeyConditionExpression: `gsi4pk = :pk${before === undefined ? '' : ' AND gsi4sk < :before'}`,
            ExpressionAttributeValues: {
              ':pk': keys.stageChangeByStage(stage, '', '', 0).gsi4pk,
              ...(before === undefined ? {} : { ':before': before }),
            },
            ScanIndexForward: false,
            Limit: query.limit,
          }),
        ),
      ),
    );
    const merged = pages
      .flatMap((page) => page.Items ?? [])
      .sort((a, b) => (String(a.gsi4sk) < String(b.gsi4sk) ? 1 : -1));
    const more =
      merged.length > query.limit || pages.some((page) => page.LastEvaluatedKey !== undefined);
    const items = merged.slice(0, query.limit).map((item) => {
      const { pk: _pk, sk: _sk, gsi4pk: _a, gsi4sk: _b, ...change } = item;
      return { ...change, summary: change.summary ?? {} } as ListedStageChange;
    });
    const last = items.at(-1);
    return {
      items,
      ...(more && last !== undefined
        ? { nextCursor: encodeBeforeCursor(stageChangeSortKey(last)) }
        : {}),
    };
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
