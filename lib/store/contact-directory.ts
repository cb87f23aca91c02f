import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { nameAndCompany } from '../domain/facts.ts';
import type { Stage, StageFlags, StageVerdict } from '../domain/stage.ts';
import type { ContactRecord } from './contact-store.ts';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from './cursor.ts';
import { INDEX, keys } from './keys.ts';

/** Contacts per page of the flagsDue index: one SendMessageBatch of refreshes is 10. */
const FLAGS_DUE_PAGE = 100;

/** A contact as a list shows it (what the byStage index projects). */
export interface ContactSummary {
  contactId: string;
  email: string;
  stage: Stage;
  stageChangedAt: string;
  flags: StageFlags;
  qualification: StageVerdict['qualification'];
  summary: { name?: string; firstName?: string; lastName?: string; company?: string };
}

/** A contact as a list shows it: what the byStage index projects of a contact item. */
export function summaryOf(contact: ContactRecord): ContactSummary {
  return {
    contactId: contact.contactId,
    email: contact.email,
    stage: contact.stage,
    stageChangedAt: contact.stageChangedAt,
    flags: contact.flags,
    qualification: contact.qualification,
    summary: nameAndCompany(contact.facts),
  };
}

/** Lists of contacts: the read side of the contact items. */
export interface ContactDirectory {
  /** Contacts in a stage, newest stage change first. */
  listByStage(stage: Stage, page: PageRequest): Promise<Page<ContactSummary>>;
  /**
   * The ids of the contacts whose flags time has moved by `now` (their `flagsDueAt` is past),
   * oldest due first, a page of at most 100.
   */
  listFlagsDue(now: string, cursor?: string): Promise<Page<string>>;
}

export class DynamoContactDirectory implements ContactDirectory {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.#doc = doc;
    this.#tableName = tableName;
  }

  async listByStage(stage: Stage, page: PageRequest): Promise<Page<ContactSummary>> {
    const result = await this.#doc.send(
      new QueryCommand({
        TableName: this.#tableName,
        IndexName: INDEX.byStage,
        KeyConditionExpression: 'gsi1pk = :stage',
        ExpressionAttributeValues: { ':stage': `STAGE#${stage}` },
        ScanIndexForward: false,
        Limit: page.limit,
        ExclusiveStartKey: decodeCursor(
          page.cursor,
          ['gsi1pk', 'gsi1sk', 'pk', 'sk'],
          (key) => key.gsi1pk === `STAGE#${stage}`,
        ),
      }),
    );
    const nextCursor = encodeCursor(result.LastEvaluatedKey);
    const items = (result.Items ?? []).map(
      (item): ContactSummary => ({
        contactId: item.contactId,
        email: item.email,
        stage: item.stage,
        stageChangedAt: item.stageChangedAt,
        flags: item.flags,
        qualification: item.qualification,
        summary: item.summary ?? {},
      }),
    );
    return { items, ...(nextCursor ? { nextCursor } : {}) };
  }

  async listFlagsDue(now: string, cursor?: string): Promise<Page<string>> {
    const result = await this.#doc.send(
      new QueryCommand({
        TableName: this.#tableName,
        IndexName: INDEX.flagsDue,
        KeyConditionExpression: 'gsi5pk = :due AND gsi5sk <= :now',
        ExpressionAttributeValues: { ':due': keys.flagsDuePartition, ':now': now },
        Limit: FLAGS_DUE_PAGE,
        ExclusiveStartKey: decodeCursor(
          cursor,
          ['gsi5pk', 'gsi5sk', 'pk', 'sk'],
          (key) => key.gsi5pk === keys.flagsDuePartition,
        ),
      }),
    );
    const nextCursor = encodeCursor(result.LastEvaluatedKey);
    const items = (result.Items ?? []).map((item) => String(item.contactId));
    return { items, ...(nextCursor ? { nextCursor } : {}) };
  }
}
