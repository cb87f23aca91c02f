import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { beforeAll } from 'vitest';
import { type ClassifyDeps, deliveryIdFor } from '../../../lib/classify/apply-event.ts';
import type { EraseDeps } from '../../../lib/classify/erase-contact.ts';
import { type AppConfig, defaultAppConfig } from '../../../lib/config/app-config.ts';
import type { DeliveryJob } from '../../../lib/delivery/job.ts';
import {
  type LeadEvent,
  type LeadEventInput,
  leadEventSchema,
} from '../../../lib/domain/events.ts';
import { qualificationConfigSchema } from '../../../lib/domain/qualification.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import { MemoryQueue } from '../../../lib/queue/memory-queue.ts';
import { DynamoContactDirectory } from '../../../lib/store/contact-directory.ts';
import {
  type ContactRecord,
  DynamoContactStore,
  type StageChange,
} from '../../../lib/store/contact-store.ts';
import { DynamoDeliveryStore } from '../../../lib/store/delivery-store.ts';
import {
  CURRENT_COUNTERS,
  DynamoFunnelStore,
  type FunnelStore,
} from '../../../lib/store/funnel-store.ts';
import { DynamoHistoryStore } from '../../../lib/store/history-store.ts';
import { keys } from '../../../lib/store/keys.ts';
import { DynamoMessageIndexStore } from '../../../lib/store/message-index-store.ts';
import {
  DynamoSubscriptionStore,
  type SubscriptionRecord,
} from '../../../lib/store/subscription-store.ts';
import { createTable, type DynamoTable } from '../../support/dynamo-backends.ts';

/** The clock every harness starts at; events of the tests happen before it unless moved. */
export const T0 = '2025-03-01T12:00:00.000Z';

/** A clock the test moves by hand, so stage-change times and erasure times are known. */
export class TestClock {
  #time: number;
  constructor(start = T0) {
    this.#time = Date.parse(start);
  }
  readonly now = (): Date => new Date(this.#time);
  set(iso: string): void {
    this.#time = Date.parse(iso);
  }
  advance(ms: number): void {
    this.#time += ms;
  }
  iso(): string {
    return new Date(this.#time).toISOString();
  }
}

/** Two enabled subscribers and one disabled one: every stage change makes exactly two deliveries. */
export const SUBSCRIPTIONS: SubscriptionRecord[] = [
  {
    id: 'sub_a',
    url: 'https://crm-a.example.com/hooks',
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    enabled: true,
    createdAt: '2025-01-01T00:00:00.000Z',
  },
  {
    id: 'sub_b',
    url: 'https://crm-b.example.com/hooks',
    secret: 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD',
    enabled: true,
    createdAt: '2025-01-01T00:00:00.000Z',
  },
  {
    id: 'sub_off',
    url: 'https://crm-off.example.com/hooks',
    secret: 'whsec_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH',
    enabled: false,
    createdAt: '2025-01-01T00:00:00.000Z',
  },
];
export const ENABLED_SUBSCRIPTION_IDS = ['sub_a', 'sub_b'];

/**
 * Another table on the server `primary` runs on, created before the suite's tests (and
 * removed with the server): for a suite that needs lists holding only its own items,
 * without starting one more server.
 */
export function useExtraTable(primary: () => DynamoTable, tableName: string): () => DynamoTable {
  let extra: DynamoTable | undefined;
  beforeAll(async () => {
    const { endpoint, dynamo, doc } = primary();
    await createTable(dynamo, tableName);
    extra = { endpoint, dynamo, doc, tableName };
  });
  return () => {
    if (extra === undefined) throw new Error(`table ${tableName} is not created`);
    return extra;
  };
}

/** Puts SUBSCRIPTIONS into the table (once per suite: every contact of the table sees them). */
export async function seedSubscriptions(table: DynamoTable): Promise<void> {
  const store = new DynamoSubscriptionStore(table.doc, table.tableName);
  for (const subscription of SUBSCRIPTIONS) await store.put(subscription);
}

/**
 * A deployment with qualification criteria: at least 10 employees, 1,000,000 EUR revenue,
 * a DACH country. A company address at example.com passes the email-domain check.
 */
export const qualifyingConfig: Pick<AppConfig, 'qualification' | 'crm'> = {
  crm: defaultAppConfig.crm,
  qualification: qualificationConfigSchema.parse({
    minEmployees: 10,
    minAnnualRevenue: { amount: 1_000_000, currency: 'EUR' },
    countries: ['DE', 'AT', 'CH'],
  }),
};

/** The real Dynamo stores on one table, queues in memory, and the concrete parts for inspection. */
export interface ClassifyHarness {
  table: DynamoTable;
  deps: ClassifyDeps;
  eraseDeps: EraseDeps;
  clock: TestClock;
  contacts: DynamoContactStore;
  history: DynamoHistoryStore;
  deliveries: DynamoDeliveryStore;
  funnel: DynamoFunnelStore;
  subscriptions: DynamoSubscriptionStore;
  messages: DynamoMessageIndexStore;
  directory: DynamoContactDirectory;
  deliveryQueue: MemoryQueue;
  ingestQueue: MemoryQueue;
}

export function classifyHarness(
  table: DynamoTable,
  options: { config?: Pick<AppConfig, 'qualification' | 'crm'>; clock?: TestClock } = {},
): ClassifyHarness {
  const { doc, tableName } = table;
  const clock = options.clock ?? new TestClock();
  const contacts = new DynamoContactStore(doc, tableName);
  const history = new DynamoHistoryStore(doc, tableName);
  const deliveries = new DynamoDeliveryStore(doc, tableName);
  const subscriptions = new DynamoSubscriptionStore(doc, tableName);
  const messages = new DynamoMessageIndexStore(doc, tableName);
  const funnel = new DynamoFunnelStore(doc, tableName);
  const deliveryQueue = new MemoryQueue();
  const ingestQueue = new MemoryQueue();
  const deps: ClassifyDeps = {
    config: options.config ?? defaultAppConfig,
    contacts,
    subscriptions,
    deliveries,
    deliveryQueue,
    messages,
    history,
    funnel,
    now: clock.now,
    logger: silentLogger,
  };
  const eraseDeps: EraseDeps = {
    contacts,
    subscriptions,
    deliveries,
    deliveryQueue,
    ingestQueue,
    funnel,
    now: clock.now,
    logger: silentLogger,
  };
  return {
    table,
    deps,
    eraseDeps,
    clock,
    contacts,
    history,
    deliveries,
    funnel,
    subscriptions,
    messages,
    directory: new DynamoContactDirectory(doc, tableName),
    deliveryQueue,
    ingestQueue,
  };
}

let emailCounter = 0;
/** A fresh address per call (and so a fresh contact): tests never see each other's contacts. */
export function uniqueEmail(tag: string): string {
  emailCounter += 1;
  return `${tag}.${process.pid}.${emailCounter}@example.com`;
}

/** An event as a source writes it; `source` defaults to `test`. */
export type EventInput = LeadEventInput extends infer E
  ? E extends LeadEventInput
    ? Omit<E, 'source'> & { source?: string }
    : never
  : never;

/** A validated event, exactly as classify receives it from the ingest queue. */
export function leadEvent(input: EventInput): LeadEvent {
  return leadEventSchema.parse({ source: 'test', ...input });
}

/** Every item with partition key `pk`, raw (keys, type and all), read consistently. */
export async function itemsOfPartition(
  table: DynamoTable,
  pk: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await table.doc.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/** Every item of the contact's partition, raw (keys, type and all), read consistently. */
export function partitionItems(
  table: DynamoTable,
  contactId: string,
): Promise<Record<string, unknown>[]> {
  return itemsOfPartition(table, keys.contactPartition(contactId));
}

/** Every item of the table (for "no personal data anywhere" checks). */
export async function allItems(table: DynamoTable): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await table.doc.send(
      new ScanCommand({
        TableName: table.tableName,
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/**
 * How many items of each `type` (contact, erased, timeline, stage_change, delivery). The
 * contact's references to its items outside the partition (Message-ID index, reply matches)
 * are bookkeeping for erasure, and the funnel's counted marker bookkeeping for the counters
 * (its own tests look at it): neither is counted.
 */
export function countByType(items: Record<string, unknown>[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const type = String(item.type);
    if (type === 'reference' || type === 'counted') continue;
    counts[type] = (counts[type] ?? 0) + 1;
  }
  return counts;
}

/** The item types of a partition, counted. */
export async function partitionCounts(
  table: DynamoTable,
  contactId: string,
): Promise<Record<string, number>> {
  return countByType(await partitionItems(table, contactId));
}

/** The delivery items of a partition, by event type. */
export function deliveryItems(
  items: Record<string, unknown>[],
  eventType?: 'contact.stage_changed' | 'contact.erased',
): Record<string, unknown>[] {
  return items.filter(
    (item) => item.type === 'delivery' && (eventType === undefined || item.eventType === eventType),
  );
}

/** The delivery-queue jobs sent for one contact. */
export function jobsFor(queue: MemoryQueue, contactId: string): DeliveryJob[] {
  return queue.sent
    .map((body) => JSON.parse(body) as DeliveryJob)
    .filter((job) => job.contactId === contactId);
}

/** The delivery ids the stage changes 1..sequence of a contact must have, one per enabled subscriber. */
export function expectedDeliveryIds(contactId: string, sequence: number): string[] {
  const ids: string[] = [];
  for (let s = 1; s <= sequence; s++)
    for (const sub of ENABLED_SUBSCRIPTION_IDS) ids.push(deliveryIdFor(contactId, s, sub));
  return ids.sort();
}

/** The contact item as committed, or a failure when it is missing or erased. */
export async function committed(h: ClassifyHarness, contactId: string): Promise<ContactRecord> {
  const record = await h.contacts.get(contactId);
  if (record === undefined) throw new Error(`contact ${contactId} is missing`);
  return record;
}

/**
 * `target` with some methods replaced; the rest stay bound to `target` (the Dynamo stores
 * keep their client in private fields, so a plain spread would lose them).
 */
export function override<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof T];
      const value = Reflect.get(object, property, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

/** The crash a test injects: thrown once (or `times` times), then the real call runs. */
export class InjectedCrash extends Error {
  override readonly name = 'InjectedCrash';
}

export function failingTimes<A extends unknown[], R>(
  real: (...args: A) => Promise<R>,
  times = 1,
  label = 'injected crash',
): (...args: A) => Promise<R> {
  let left = times;
  return async (...args: A) => {
    if (left > 0) {
      left -= 1;
      throw new InjectedCrash(label);
    }
    return real(...args);
  };
}

/** A deterministic PRNG (mulberry32), so shuffled orders are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Fisher-Yates with a seeded PRNG. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** An SQS event as Lambda's event source mapping hands it over, one record per body. */
export function sqsEvent(bodies: string[], idPrefix = 'm'): SQSEvent {
  return {
    Records: bodies.map((body, index) => ({
      messageId: `${idPrefix}${index + 1}`,
      receiptHandle: `rh-${idPrefix}${index + 1}`,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '1740830400000',
        SenderId: 'test',
        ApproximateFirstReceiveTimestamp: '1740830400000',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-central-1:000000000000:leadstage-ingest',
      awsRegion: 'eu-central-1',
    })),
  };
}

/** The ingest-queue body of an event, as ingest enqueues it. */
export function envelope(event: LeadEvent): string {
  return JSON.stringify({ v: 1, event });
}

/** Counters as flat numbers: `current:<counter>` and `entered:<day>:<stage>`. */
export type Tally = Record<string, number>;

export async function readTally(funnel: FunnelStore): Promise<Tally> {
  const tally: Tally = {};
  const current = await funnel.current();
  for (const name of CURRENT_COUNTERS) tally[`current:${name}`] = current[name];
  for (const day of await funnel.enteredByDay('2000-01-01', '2099-12-31')) {
    for (const [stage, count] of Object.entries(day.entered)) {
      if (count !== 0) tally[`entered:${day.day}:${stage}`] = count;
    }
  }
  return tally;
}

/** after - before, zero entries left out. */
export function difference(after: Tally, before: Tally): Tally {
  const out: Tally = {};
  for (const key of new Set([...Object.keys(after), ...Object.keys(before)])) {
    const delta = (after[key] ?? 0) - (before[key] ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}

/** What the counters must have gained from these contacts: read off their items, not the counters. */
export async function truth(
  h: ClassifyHarness,
  contactIds: string[],
  keptChanges: StageChange[] = [],
) {
  const tally: Tally = {};
  const add = (key: string, n = 1) => {
    tally[key] = (tally[key] ?? 0) + n;
  };
  const changes = [...keptChanges];
  for (const contactId of contactIds) {
    const contact = await h.contacts.get(contactId);
    if (contact !== undefined) {
      add(`current:${contact.stage}`);
      add('current:total');
      if (!contact.flags.contactable) add('current:notContactable');
      if (contact.flags.stale) add('current:stale');
    }
    for (const item of await partitionItems(h.table, contactId)) {
      if (item.type === 'stage_change') changes.push(item as unknown as StageChange);
    }
  }
  for (const change of changes) add(`entered:${change.at.slice(0, 10)}:${change.to}`);
  return tally;
}
