import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from './keys.ts';

/** How long an outbound Message-ID can thread a reply back to its contact. */
export const MESSAGE_INDEX_TTL_DAYS = 400;

/**
 * Outbound Message-ID -> contact, so a reply's `In-Reply-To`/`References` finds its
 * contact. Written as a projection of email events that name the mail they are about.
 */
export interface MessageIndexStore {
  put(messageId: string, contactId: string, now: Date): Promise<void>;
  get(messageId: string): Promise<string | undefined>;
}

export class DynamoMessageIndexStore implements MessageIndexStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.#doc = doc;
    this.#tableName = tableName;
  }

  async put(messageId: string, contactId: string, now: Date): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          ...keys.message(messageId),
          type: 'message',
          contactId,
          expiresAt: Math.floor(now.getTime() / 1000) + MESSAGE_INDEX_TTL_DAYS * 86_400,
        },
      }),
    );
  }

  async get(messageId: string): Promise<string | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#tableName, Key: keys.message(messageId) }),
    );
    return typeof Item?.contactId === 'string' ? Item.contactId : undefined;
  }
}
