import { randomBytes } from 'node:crypto';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoDeliveryStore } from '../../../lib/store/delivery-store.ts';
import { SubscriptionChangedError } from '../../../lib/store/errors.ts';
import { keys } from '../../../lib/store/keys.ts';
import { MemorySubscriptionStore } from '../../../lib/store/memory-stores.ts';
import {
  DynamoSubscriptionStore,
  type SubscriptionRecord,
  type SubscriptionStore,
} from '../../../lib/store/subscription-store.ts';
import { createTable, dynamoBackends, useDynamoTable } from '../../support/dynamo-backends.ts';
import { deliveryRecord } from './fixtures.ts';

let nextId = 0;
function newSubscriptionId(): string {
  nextId += 1;
  return `sub_test_${process.pid}_${nextId}`;
}

function subscription(id: string, overrides: Partial<SubscriptionRecord> = {}): SubscriptionRecord {
  return {
    id,
    url: `https://crm.example.com/hooks/${id}?tenant=a&x=%20y`,
    secret: `whsec_${randomBytes(24).toString('base64')}`,
    enabled: true,
    createdAt: '2025-03-01T10:00:00.000Z',
    ...overrides,
  };
}

/**
 * The optimistic concurrency every subscription store keeps: an edit written from a read
 * refuses to overwrite a write it did not see (docs/decisions.md, "Subscription edits").
 */
function describeRevisions(store: () => SubscriptionStore): void {
  describe('replace and revisions', () => {
    it('replace writes the edit as the next revision and returns what it stored', async () => {
      const read = subscription(newSubscriptionId());
      await store().put(read);
      const stored = await store().replace(read, { ...read, description: 'CRM (EU)' });
      expect(stored).toStrictEqual({ ...read, description: 'CRM (EU)', revision: 1 });
      await expect(store().get(read.id)).resolves.toStrictEqual(stored);
      const again = await store().replace(stored, { ...stored, enabled: false });
      expect(again.revision).toBe(2);
      await expect(store().get(read.id)).resolves.toStrictEqual(again);
    });

    it('replace from a read older than another edit throws SubscriptionChangedError and keeps the other edit', async () => {
      const read = subscription(newSubscriptionId());
      await store().put(read);
      const winner = await store().replace(read, { ...read, description: 'first' });
      const error = await store()
        .replace(read, { ...read, description: 'second' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SubscriptionChangedError);
      expect((error as SubscriptionChangedError).subscriptionId).toBe(read.id);
      await expect(store().get(read.id)).resolves.toStrictEqual(winner);
    });

    it('recordHealth is a new revision: an edit from the read before it is refused', async () => {
      const read = subscription(newSubscriptionId());
      await store().put(read);
      await store().recordHealth(read.id, { disable: 'gone' });
      await expect(store().replace(read, { ...read, description: 'stale' })).rejects.toBeInstanceOf(
        SubscriptionChangedError,
      );
      const now = await store().get(read.id);
      expect(now).toMatchObject({ enabled: false, disabledReason: 'gone', revision: 1 });
      expect(now?.description).toBeUndefined();
      // From the fresh read it goes through, and keeps the health write.
      const stored = await store().replace(now as SubscriptionRecord, {
        ...(now as SubscriptionRecord),
        description: 'fresh',
      });
      expect(stored).toMatchObject({ enabled: false, disabledReason: 'gone', revision: 2 });
    });

    it('replace of a subscription deleted since the read throws and does not bring it back', async () => {
      const read = subscription(newSubscriptionId());
      await store().put(read);
      await store().delete(read.id);
      await expect(store().replace(read, { ...read, enabled: false })).rejects.toBeInstanceOf(
        SubscriptionChangedError,
      );
      await expect(store().get(read.id)).resolves.toBeUndefined();
    });
  });
}

describe('MemorySubscriptionStore', () => {
  const memory = new MemorySubscriptionStore();
  describeRevisions(() => memory);
});

describe.each(dynamoBackends)('DynamoSubscriptionStore on $name', (backend) => {
  const table = useDynamoTable(backend, 'subscriptions');
  const store = (tableName = table().tableName) =>
    new DynamoSubscriptionStore(table().doc, tableName);

  describeRevisions(() => store());

  it('get resolves to undefined for an unknown id', async () => {
    await expect(store().get(newSubscriptionId())).resolves.toBeUndefined();
  });

  it('put then get returns exactly the record, without pk/sk/type', async () => {
    const record = subscription(newSubscriptionId());
    await store().put(record);
    const got = await store().get(record.id);
    expect(got).toStrictEqual(record);
    expect(got).not.toHaveProperty('pk');
    expect(got).not.toHaveProperty('sk');
    expect(got).not.toHaveProperty('type');

    const { Item } = await table().doc.send(
      new GetCommand({ TableName: table().tableName, Key: keys.subscription(record.id) }),
    );
    expect(Item).toMatchObject({ ...keys.subscription(record.id), type: 'subscription' });
  });

  it('put replaces an existing subscription', async () => {
    const id = newSubscriptionId();
    await store().put(subscription(id));
    const disabled = subscription(id, { enabled: false, url: 'https://crm.example.com/v2' });
    await store().put(disabled);
    await expect(store().get(id)).resolves.toStrictEqual(disabled);
  });

  it('delete resolves to true for a stored subscription, then false, and removes it', async () => {
    const record = subscription(newSubscriptionId());
    await store().put(record);
    await expect(store().delete(record.id)).resolves.toBe(true);
    await expect(store().get(record.id)).resolves.toBeUndefined();
    await expect(store().delete(record.id)).resolves.toBe(false);
  });

  it('delete resolves to false for an id that never existed', async () => {
    await expect(store().delete(newSubscriptionId())).resolves.toBe(false);
  });

  it('list resolves to an empty array when there are none', async () => {
    const tableName = 'subscriptions-empty';
    await createTable(table().dynamo, tableName);
    await expect(store(tableName).list()).resolves.toStrictEqual([]);
  });

  it('list returns every subscription and nothing else in the table', async () => {
    const tableName = 'subscriptions-list';
    await createTable(table().dynamo, tableName);
    const subs = Array.from({ length: 7 }, () => subscription(newSubscriptionId()));
    for (const record of subs) await store(tableName).put(record);
    // Deliveries live under `SUBSCRIPTION#<id>`: a neighbouring partition that must not leak in.
    const deliveries = new DynamoDeliveryStore(table().doc, tableName);
    await deliveries.putIfAbsent(deliveryRecord('dl_1', { subscriptionId: subs[0]?.id ?? '' }));
    const deleted = subs[3];
    if (deleted === undefined) throw new Error('no subscription to delete');
    await store(tableName).delete(deleted.id);

    const listed = await store(tableName).list();
    const byId = (a: SubscriptionRecord, b: SubscriptionRecord) => a.id.localeCompare(b.id);
    expect(listed.sort(byId)).toStrictEqual(subs.filter((s) => s !== deleted).sort(byId));
  });

  it('list follows LastEvaluatedKey across several pages', async () => {
    const tableName = 'subscriptions-paged';
    await createTable(table().dynamo, tableName);
    // Query pages at 1 MB: 25 items of ~90 KB make three pages.
    const padding = 'x'.repeat(90 * 1024);
    const subs = Array.from({ length: 25 }, () =>
      subscription(newSubscriptionId(), { secret: `whsec_${padding}` }),
    );
    await Promise.all(subs.map((record) => store(tableName).put(record)));

    // The table really does page: one Query does not return them all.
    const firstPage = await table().doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.subscriptionPartition },
      }),
    );
    expect(firstPage.LastEvaluatedKey).toBeDefined();
    expect(firstPage.Items?.length ?? 0).toBeLessThan(subs.length);

    const listed = await store(tableName).list();
    expect(listed).toHaveLength(subs.length);
    const byId = (a: SubscriptionRecord, b: SubscriptionRecord) => a.id.localeCompare(b.id);
    expect(listed.sort(byId)).toStrictEqual([...subs].sort(byId));
  });
});
