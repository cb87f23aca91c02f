import { createHash } from 'node:crypto';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { FUNNEL_PATH, type PathStage, STAGES, type Stage } from '../domain/stage.ts';
import { isConditionalCheckFailed } from './errors.ts';
import { keys } from './keys.ts';

/** The current-count counters: one per stage, and total, not contactable and stale. */
export const CURRENT_COUNTERS = [...STAGES, 'total', 'notContactable', 'stale'] as const;
export type CurrentCounter = (typeof CURRENT_COUNTERS)[number];

/** The day item's attribute counting the stage changes that reached `stage` (or went past it). */
export const reachedCounter = (stage: PathStage) => `reached_${stage}` as const;

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
  /**
   * UTC day -> path stage -> forward stage changes that reached it: from below the stage to
   * it or beyond. Written to the same day item as `entered` (attributes `reached_<stage>`).
   * Absent in intents claimed before these counters existed.
   */
  reached?: Record<string, Partial<Record<PathStage, number>>>;
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

/** Stage changes into each stage, and forward changes that reached each path stage, on one UTC day. */
export interface DayCounts {
  day: string;
  entered: Record<Stage, number>;
  reached: Record<PathStage, number>;
}

/** Options of the counter writes that must not land late. */
export interface ApplyOptions {
  /** Aborts the requests still in flight (the worker's apply window is over). */
  abortSignal?: AbortSignal;
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
  apply(intent: CountIntent, options?: ApplyOptions): Promise<void>;
  /** Clears the intent from the marker, then lets the counter items retire its token. */
  settle(contactId: string, intent: CountIntent, now: Date): Promise<void>;
  /** The current counts, summed over the shards (zero for a counter never written). */
  current(): Promise<CurrentCounts>;
  /** The per-day "entered" and "reached" counts of the UTC days in [from, to] that have any, oldest first. */
  enteredByDay(from: string, to: string): Promise<DayCounts[]>;
}

/**
 * How many items each counter is spread over. A change writes only the shard its token
 * hashes to, so each item remembers 1/64 of the recent tokens: about 60 of them (under 1 KB)
 * at 50 counted changes a second. Reads sum the shards (one Query per kind).
 */
export const FUNNEL_SHARDS = 64;

/**
 * How long after its read of a marker a worker may still send the writes that apply the
 * intent it found there (lib/classify/count-contact.ts re-reads the marker when the window
 * is over, and aborts requests still in flight at its end). Every write of the count is
 * awaited before a handler returns (no promise is left to run in a frozen Lambda), and the
 * classify function's 30 s timeout ends its environment: nothing applies an intent later.
 */
export const APPLY_WINDOW_MS = 15_000;

/**
 * How long a counter item remembers a settled token, at least. A worker that read an intent
 * before it was settled applies it within APPLY_WINDOW_MS of that read, hence within that
 * window of the settle; the memory is four times the window (and twice the classify
 * function's timeout), so a request sent at the very end of the window, slowed on the way,
 * or a clock a little apart from the settling worker's, still meets the token and is
 * refused. Settled tokens go to rotating sets RECENT_SET_MS wide; an item holds the tokens
 * of the last 60 to 75 seconds, so its size follows the rate, not the time the system runs.
 */
export const TOKEN_MEMORY_MS = 60_000;

/** The width of one recent-token set. */
export const RECENT_SET_MS = 15_000;

/**
 * The recent-token sets, rotating: a settle adds its token to the set of its time slot and
 * drops the set two slots ahead (not the next one: a settle whose clock or request lags its
 * peers' by less than a slot never drops the set they are filling). With this many sets a
 * token stays at least TOKEN_MEMORY_MS after its slot ends, and at most one slot longer.
 */
export const RECENT_SETS = TOKEN_MEMORY_MS / RECENT_SET_MS + 3;

const RECENT_SET_NAMES = Array.from({ length: RECENT_SETS }, (_, i) => `r${i}`);

/** The attributes of the rotating recent-token sets: the one to add to, the one to drop. */
export function recentSets(now: Date): { add: string; drop: string } {
  const slot = Math.floor(now.getTime() / RECENT_SET_MS);
  return { add: `r${slot % RECENT_SETS}`, drop: `r${(slot + 2) % RECENT_SETS}` };
}

/**
 * The idempotency token of a contact's counted version: 11 base64url characters (66 bits)
 * of a hash. Only tokens of the same counter item within a minute or so can collide (a
 * collision would drop one change), so 66 bits are plenty, and each costs 11 bytes.
 */
export function countToken(contactId: string, version: number): string {
  return createHash('sha256').update(`${contactId}#${version}`).digest('base64url').slice(0, 11);
}

/** The counter shard a token's change is written to: uniform over FUNNEL_SHARDS. */
export function shardOf(token: string): number {
  return (createHash('sha256').update(token).digest()[0] as number) % FUNNEL_SHARDS;
}

/** Each counter item an intent touches (in the shard of its token), with its nonzero deltas. */
export function counterUpdates(
  intent: CountIntent,
): { key: { pk: string; sk: string }; add: Record<string, number> }[] {
  const { deltas } = intent;
  const shard = shardOf(intent.token);
  const nonzero = (values: Record<string, number | undefined>) =>
    Object.fromEntries(
      Object.entries(values).filter((entry): entry is [string, number] => (entry[1] ?? 0) !== 0),
    );
  const updates: { key: { pk: string; sk: string }; add: Record<string, number> }[] = [
    { key: keys.funnelCurrent(shard), add: nonzero(deltas.current) },
  ];
  // A day's reached counters go to the same item as its entered counters: no extra write.
  const reached = deltas.reached ?? {};
  const days = new Set([...Object.keys(deltas.entered), ...Object.keys(reached)]);
  for (const day of days) {
    const add: Record<string, number | undefined> = { ...deltas.entered[day] };
    for (const [stage, delta] of Object.entries(reached[day] ?? {})) {
      add[reachedCounter(stage as PathStage)] = delta;
    }
    updates.push({ key: keys.funnelDay(day, shard), add: nonzero(add) });
  }
  return updates.filter((update) => Object.keys(update.add).length > 0);
}

/**
 * Waits for every promise to settle, then throws the first failure. Unlike Promise.all it
 * never returns while a write is still in flight: a Lambda handler that returned early would
 * leave it to run in a frozen environment, thawed minutes later, past the token memory.
 */
export async function allSettledOrThrow(promises: Iterable<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

export const zeroStages = () =>
  Object.fromEntries(STAGES.map((stage) => [stage, 0])) as Record<Stage, number>;
export const zeroPath = () =>
  Object.fromEntries(FUNNEL_PATH.map((stage) => [stage, 0])) as Record<PathStage, number>;
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

  async apply(intent: CountIntent, options: ApplyOptions = {}): Promise<void> {
    const unseen = ['applying', ...RECENT_SET_NAMES]
      .map((set) => `NOT contains(${set}, :token)`)
      .join(' AND ');
    await allSettledOrThrow(
      counterUpdates(intent).map(async ({ key, add }) => {
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
              ConditionExpression: unseen,
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            }),
            { abortSignal: options.abortSignal },
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
    await allSettledOrThrow(
      counterUpdates(intent).map(({ key }) =>
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

  /** Every item of the funnel partition whose sort key is in [low, high], counters only. */
  async #counterItems(
    low: string,
    high: string,
    counters: readonly string[],
  ): Promise<Record<string, unknown>[]> {
    const names: Record<string, string> = { '#sk': 'sk' };
    counters.forEach((name, i) => {
      names[`#c${i}`] = name;
    });
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
          ExpressionAttributeValues: { ':pk': keys.funnelPartition, ':low': low, ':high': high },
          ProjectionExpression: Object.keys(names).join(', '),
          ExpressionAttributeNames: names,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }

  async current(): Promise<CurrentCounts> {
    const prefix = keys.funnelCurrentPrefix;
    return sumCurrent(await this.#counterItems(prefix, `${prefix}~`, CURRENT_COUNTERS));
  }

  async enteredByDay(from: string, to: string): Promise<DayCounts[]> {
    const { low, high } = keys.funnelDays(from, to);
    return sumDays(await this.#counterItems(low, high, DAY_COUNTERS));
  }
}

/** The attributes of a day item: entered per stage, reached per path stage. */
const DAY_COUNTERS = [...STAGES, ...FUNNEL_PATH.map(reachedCounter)];

/** The current counts: each counter summed over the shard items. */
export function sumCurrent(items: Iterable<Record<string, unknown>>): CurrentCounts {
  const counts = zeroCurrent();
  for (const item of items) {
    for (const name of CURRENT_COUNTERS) {
      const value = item[name];
      if (typeof value === 'number') counts[name] += value;
    }
  }
  return counts;
}

/** The per-day counts of day shard items (sort key `DAY#<day>#<shard>`), oldest day first. */
export function sumDays(items: Iterable<Record<string, unknown>>): DayCounts[] {
  const days = new Map<string, DayCounts>();
  for (const item of items) {
    const day = String(item.sk).split('#')[1] as string;
    let counts = days.get(day);
    if (counts === undefined) {
      counts = { day, entered: zeroStages(), reached: zeroPath() };
      days.set(day, counts);
    }
    for (const stage of STAGES) {
      const value = item[stage];
      if (typeof value === 'number') counts.entered[stage] += value;
    }
    for (const stage of FUNNEL_PATH) {
      const value = item[reachedCounter(stage)];
      if (typeof value === 'number') counts.reached[stage] += value;
    }
  }
  return [...days.values()].sort((a, b) => (a.day < b.day ? -1 : 1));
}
