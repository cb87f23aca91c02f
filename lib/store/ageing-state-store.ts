import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from './keys.ts';

/**
 * What the ageing pass keeps between runs: the flag settings every contact's `flagsDueAt` was
 * last keyed with, and, while contacts are being re-keyed, where that walk has got to.
 */
export interface AgeingState {
  /** `staleAfterDays` and the cadence, as `flagsConfigOf` writes them. */
  flagsConfig: string;
  /** Present while the re-key walk is unfinished: the stage (index into STAGES) and page. */
  rekey?: { stage: number; cursor?: string };
}

export interface AgeingStateStore {
  get(): Promise<AgeingState | undefined>;
  put(state: AgeingState): Promise<void>;
}

/** One small item, `AGEING`/`STATE`: only the sweep function writes it, one run at a time. */
export class DynamoAgeingStateStore implements AgeingStateStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.#doc = doc;
    this.#tableName = tableName;
  }

  async get(): Promise<AgeingState | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#tableName, Key: keys.ageingState, ConsistentRead: true }),
    );
    if (Item === undefined) return undefined;
    return {
      flagsConfig: String(Item.flagsConfig),
      ...(Item.rekey !== undefined ? { rekey: Item.rekey as AgeingState['rekey'] } : {}),
    };
  }

  async put(state: AgeingState): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: { ...keys.ageingState, type: 'ageing_state', ...state },
      }),
    );
  }
}
