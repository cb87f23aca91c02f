import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ReplyMatchMethod } from '../domain/events.ts';
import { isConditionalCheckFailed } from './errors.ts';
import { keys } from './keys.ts';

/** How long an outbound Message-ID can thread a reply back to its contact. */
export const MESSAGE_INDEX_TTL_DAYS = 400;
/** How long the contact a reply was matched to is remembered (longer than any redelivery). */
export const REPLY_MATCH_TTL_DAYS = 30;

/** The contact a reply was matched to, and how. */
export interface ReplyMatch {
  contactId: string;
  method: ReplyMatchMethod;
}

/**
 * Outbound Message-ID -> contact, so a reply's `In-Reply-To`/`References` finds its
 * contact; and reply id -> the contact it was first matched to, so a redelivered reply
 * counts for that contact only, even if the index changed in between. Each global item has
 * a reference in the contact's partition, so erasing the contact erases them too.
 */
export interface MessageIndexStore {
  put(messageId: string, contactId: string, now: Date): Promise<void>;
  get(messageId: string): Promise<string | undefined>;
  /** Records the match unless the reply was matched before; returns the match that holds. */
  claimReply(replyId: string, match: ReplyMatch, now: Date): Promise<ReplyMatch>;
  replyMatch(replyId: string): Promise<ReplyMatch | undefined>;
}

const expiry = (now: Date, days: number) => Math.floor(now.getTime() / 1000) + days * 86_400;

export class DynamoMessageIndexStore implements MessageIndexStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.#doc = doc;
    this.#tableName = tableName;
  }

  async #putReference(contactId: string, kind: 'MESSAGE' | 'REPLY', id: string, expiresAt: number) {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: { ...keys.reference(contactId, kind, id), type: 'reference', expiresAt },
      }),
    );
  }

  async put(messageId: string, contactId: string, now: Date): Promise<void> {
    const expiresAt = expiry(now, MESSAGE_INDEX_TTL_DAYS);
    // The reference first: an index item never exists without the reference that erases it.
    await this.#putReference(contactId, 'MESSAGE', messageId, expiresAt);
    await this.#doc.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: { ...keys.message(messageId), type: 'message', contactId, expiresAt },
      }),
    );
  }

  async get(messageId: string): Promise<string | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.message(messageId),
        ConsistentRead: true,
      }),
    );
    return typeof Item?.contactId === 'string' ? Item.contactId : undefined;
  }

  async claimReply(replyId: string, match: ReplyMatch, now: Date): Promise<ReplyMatch> {
    const expiresAt = expiry(now, REPLY_MATCH_TTL_DAYS);
    await this.#putReference(match.contactId, 'REPLY', replyId, expiresAt);
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { ...keys.replyMatch(replyId), type: 'reply_match', ...match, expiresAt },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return match;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      return (await this.replyMatch(replyId)) ?? match;
    }
  }

  async replyMatch(replyId: string): Promise<ReplyMatch | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.replyMatch(replyId),
        ConsistentRead: true,
      }),
    );
    if (typeof Item?.contactId !== 'string') return undefined;
    return { contactId: Item.contactId, method: Item.method as ReplyMatchMethod };
  }
}
