import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { STAGES, type Stage } from '../domain/stage.ts';
import { isConditionalCheckFailed } from './errors.ts';
import { keys } from './keys.ts';

/** The current-count counters: one per stage, and total, not contactable and stale. */
export const CURRENT_COUNTERS = [...STAGES, 'total', 'notContactable', 'stale'] as const;
export type CurrentCounter = (typeof CURRENT_COUNTERS)[number];

/** What the counters hold of one contact. */
export interface CountedState {
  /** The counted stage; null when the contact is not counted (erased). */
  stage: Stage | null;
  contactable: boolean;
  stale: boolean;
  /** The contact version these values are from: an older version never overwrites them. */
  version: number;
  /** The last stage-change sequence counted into the per-day "entered" counters. */
  sequence: number;
}

/** What one counted change adds to the counters (negative numbers subtract). */
export interface CounterDeltas {
  current: Partial<Record<CurrentCounter, number>>;
  /** UTC day (yyyy-mm-dd) -> stage -> stage changes into it. */
  entered: Record<string, Partial<Record<Stage, number>>>;
}

/** A change to the counters, claimed in the marker before it is applied; the token makes it apply once. */
export interface CountIntent {
  token: string;
  deltas: CounterDeltas;
}

/** The per-contact "counted" marker: the counted state, and an intent while it is being applied. */
export interface CountedMarker extends CountedState {
  pending?: CountIntent;
}

export type CurrentCounts = Record<CurrentCounter, number>;

/** Stage changes into each stage on one UTC day. */
export interface DayCounts {
  day: string;
  entered: Record<Stage, number>;
}

/**
 * The funnel counters and the per-contact markers that keep them exact without a
 * transaction (docs/data-model.md, "Funnel counters"). The protocol (lib/classify/count-contact.ts):
 * read the marker; `claim` the change (conditional on the marker's version); `apply` the
 * intent to each counter item once (the token is remembered on the item); `settle` it (the
 * marker forgets the intent, the counter items move the token to their recent sets).
 */
export interface FunnelStore {
  /** The contact's marker, read consistently; undefined when it was never counted. */
  counted(contactId: string): Promise<CountedMarker | undefined>;
  /** Writes the marker if its stored version is still `expectedVersion` (absent when undefined); false when another writer won. */
  claim(
    contactId: string,
    marker: CountedMarker,
    expectedVersion: number | undefined,
  ): Promise<boolean>;
  /** Adds the intent's deltas to each counter item unless that item has seen the token. */
  apply(intent: CountIntent): Promise<void>;
  /** Clears the intent from the marker, then lets the counter items retire its token. */
  settle(contactId: string, intent: CountIntent, now: Date): Promise<void>;
  /** The current counts (zero for a counter never written). */
  current(): Promise<CurrentCounts>;
  /** The per-day "entered" counts of the UTC days in [from, to] that have any, oldest first. */
  enteredByDay(from: string, to: string): Promise<DayCounts[]>;
}

/**
 * How long a counter item remembers a settled token: longer than any worker lives (the
 * classify function's timeout is 30 s, Lambda's ceiling 15 min), so a worker that read an
 * intent before it was settled cannot apply it a second time. Tokens rotate through three
 * sets of this width, so an item holds only the last 30 to 45 minutes of tokens.
 */
export const TOKEN_MEMORY_MS = 15 * 60 * 1000;

/** The attributes of the rotating recent-token sets: the one to add to, the one to drop. */
export function recentSets(now: Date): { add: string; drop: string } {
  const bucket = Math.floor(now.getTime() / TOKEN_MEMORY_MS);
  return { add: `recent${bucket % 3}`, drop: `recent${(bucket + 1) % 3}` };
}

/** Each counter item an intent touches, with its nonzero deltas. */
export function counterUpdates(
  deltas: CounterDeltas,
): { key: { pk: string; sk: string }; add: Record<string, number> }[] {
  const nonzero = (values: Record<string, number | undefined>) =>
    Object.fromEntries(
      Object.entries(values).filter((entry): entry is [string, number] => (entry[1] ?? 0) !== 0),
    );
  const updates: { key: { pk: string; sk: string }; add: Record<string, number> }[] = [
    { key: keys.funnelCurrent, add: nonzero(deltas.current) },
  ];
  for (const [day, entered] of Object.entries(deltas.entered)) {
    updates.push({ key: keys.funnelDay(day), add: nonzero(entered) });
  }
  return updates.filter((update) => Object.keys(update.add).length > 0);
}

export const zeroStages = () =>
  Object.fromEntries(STAGES.map((stage) => [stage, 0])) as Record<Stage, number>;
export const zeroCurrent = () =>
  Object.fromEntries(CURRENT_COUNTERS.map((name) => [name, 0])) as CurrentCounts;

export class DynamoFunnelStore implements FunnelStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.#doc = doc;
    this.#tableName = tableName;
  }

  async counted(contactId: string): Promise<CountedMarker | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.counted(contactId),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    const { pk: _pk, sk: _sk, type: _type, ...marker } = Item;
    return marker as CountedMarker;
  }

  async claim(
    contactId: string,
    marker: CountedMarker,
    expectedVersion: number | undefined,
  ): Promise<boolean> {
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { ...keys.counted(contactId), type: 'counted', ...marker },
          ...(expectedVersion === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: '#version = :expected',
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':expected': expectedVersion },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async apply(intent: CountIntent): Promise<void> {
    await Promise.all(
      counterUpdates(intent.deltas).map(async ({ key, add }) => {
        const names: Record<string, string> = {};
        const values: Record<string, unknown> = {
          ':token': intent.token,
          ':tokens': new Set([intent.token]),
        };
        const adds = Object.entries(add).map(([counter, delta], index) => {
          names[`#c${index}`] = counter;
          values[`:c${index}`] = delta;
          return `#c${index} :c${index}`;
        });
        try {
          await this.#doc.send(
            new UpdateCommand({
              TableName: this.#tableName,
              Key: key,
              UpdateExpression: `ADD ${adds.join(', ')}, applying :tokens`,
              // The token is on the item from the apply until it leaves the recent sets: a
              // repeat in that time is refused here, so the deltas land once.
              ConditionExpression:
                'NOT contains(applying, :token) AND NOT contains(recent0, :token) AND ' +
                'NOT contains(recent1, :token) AND NOT contains(recent2, :token)',
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            }),
          );
        } catch (error) {
          if (!isConditionalCheckFailed(error)) throw error;
        }
      }),
    );
  }

  async settle(contactId: string, intent: CountIntent, now: Date): Promise<void> {
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.counted(contactId),
          UpdateExpression: 'REMOVE pending',
          ConditionExpression: 'pending.#token = :token',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':token': intent.token },
        }),
      );
    } catch (error) {
      // Settled already (by another worker helping out).
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const { add, drop } = recentSets(now);
    await Promise.all(
      counterUpdates(intent.deltas).map(({ key }) =>
        this.#doc.send(
          new UpdateCommand({
            TableName: this.#tableName,
            Key: key,
            UpdateExpression: 'DELETE applying :tokens ADD #add :tokens REMOVE #drop',
            ExpressionAttributeNames: { '#add': add, '#drop': drop },
            ExpressionAttributeValues: { ':tokens': new Set([intent.token]) },
          }),
        ),
      ),
    );
  }

  async current(): Promise<CurrentCounts> {
    const names = Object.fromEntries(CURRENT_COUNTERS.map((name, i) => [`#c${i}`, name]));
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.funnelCurrent,
        ProjectionExpression: Object.keys(names).join(', '),
        ExpressionAttributeNames: names,
      }),
    );
    const counts = zeroCurrent();
    for (const name of CURRENT_COUNTERS) {
      const value = Item?.[name];
      if (typeof value === 'number') counts[name] = value;
    }
    return counts;
  }

  async enteredByDay(from: string, to: string): Promise<DayCounts[]> {
    const names: Record<string, string> = { '#sk': 'sk' };
    STAGES.forEach((stage, i) => {
      names[`#s${i}`] = stage;
    });
    const days: DayCounts[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: {
            ':pk': keys.funnelPartition,
            ':from': keys.funnelDay(from).sk,
            ':to': keys.funnelDay(to).sk,
          },
          ProjectionExpression: Object.keys(names).join(', '),
          ExpressionAttributeNames: names,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const entered = zeroStages();
        for (const stage of STAGES) {
          const value = item[stage];
          if (typeof value === 'number') entered[stage] = value;
        }
        days.push({ day: String(item.sk).slice('DAY#'.length), entered });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return days;
  }
}
