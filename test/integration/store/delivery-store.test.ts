import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  type DeliveryAttempt,
  DynamoDeliveryStore,
  NEW_DELIVERY_GRACE_MS,
} from '../../../lib/store/delivery-store.ts';
import { keys } from '../../../lib/store/keys.ts';
import { dynamoBackends, useDynamoTable } from '../../support/dynamo-backends.ts';
import { deliveryRecord } from './fixtures.ts';

let nextId = 0;
function newDeliveryId(): string {
  nextId += 1;
  return `dl_test_${process.pid}_${nextId}`;
}

const failedAttempt: DeliveryAttempt = {
  at: '2025-03-01T10:00:01.000Z',
  statusCode: 503,
  latencyMs: 42,
  responseBody: 'try later',
};
const deliveredAttempt: DeliveryAttempt = {
  at: '2025-03-01T10:05:00.000Z',
  statusCode: 204,
  latencyMs: 17,
};

describe.each(dynamoBackends)('DynamoDeliveryStore on $name', (backend) => {
  const table = useDynamoTable(backend, 'deliveries');
  const store = () => new DynamoDeliveryStore(table().doc, table().tableName);

  it('get resolves to undefined for an unknown delivery', async () => {
    await expect(store().get('ct_1', newDeliveryId())).resolves.toBeUndefined();
  });

  it('putIfAbsent creates the delivery; get returns exactly it, without pk/sk/type', async () => {
    const record = deliveryRecord(newDeliveryId());
    await store().putIfAbsent(record);
    const got = await store().get(record.contactId, record.deliveryId);
    expect(got).toStrictEqual(record);
    expect(got).not.toHaveProperty('pk');
    expect(got).not.toHaveProperty('sk');
    expect(got).not.toHaveProperty('type');

    const { Item } = await table().doc.send(
      new GetCommand({
        TableName: table().tableName,
        Key: keys.delivery(record.contactId, record.deliveryId),
      }),
    );
    expect(Item).toMatchObject({
      ...keys.delivery(record.contactId, record.deliveryId),
      type: 'delivery',
    });
  });

  it('putIfAbsent keeps the first record when called again', async () => {
    const id = newDeliveryId();
    const first = deliveryRecord(id);
    await store().putIfAbsent(first);
    await expect(
      store().putIfAbsent(
        deliveryRecord(id, { contactId: 'ct_other', createdAt: '2025-04-01T00:00:00.000Z' }),
      ),
    ).resolves.toBeUndefined();
    await expect(store().get(first.contactId, id)).resolves.toStrictEqual(first);
  });

  it('putIfAbsent after attempts does not reset the delivery (a re-run projection)', async () => {
    const id = newDeliveryId();
    const first = deliveryRecord(id);
    await store().putIfAbsent(first);
    await store().recordAttempt(first.contactId, id, failedAttempt, 'failing');
    await store().putIfAbsent(first);
    await expect(store().get(first.contactId, id)).resolves.toStrictEqual({
      ...first,
      status: 'failing',
      attemptCount: 1,
      lastAttempt: failedAttempt,
      attempts: [failedAttempt],
    });
  });

  it('keeps deliveries with the same id for different contacts apart', async () => {
    const id = newDeliveryId();
    const a = deliveryRecord(id, { subscriptionId: 'sub_a', contactId: 'ct_1' });
    const b = deliveryRecord(id, { subscriptionId: 'sub_b', contactId: 'ct_2' });
    await store().putIfAbsent(a);
    await store().putIfAbsent(b);
    await expect(store().get('ct_1', id)).resolves.toStrictEqual(a);
    await expect(store().get('ct_2', id)).resolves.toStrictEqual(b);
  });

  it('keeps a delivery in the pending index until it is delivered, due at its next attempt', async () => {
    const id = newDeliveryId();
    const record = deliveryRecord(id);
    await store().putIfAbsent(record);
    const pendingKeys = async () => {
      const { Item } = await table().doc.send(
        new GetCommand({ TableName: table().tableName, Key: keys.delivery(record.contactId, id) }),
      );
      return { gsi3pk: Item?.gsi3pk, gsi3sk: Item?.gsi3sk, gsi2pk: Item?.gsi2pk };
    };
    expect(await pendingKeys()).toEqual({
      gsi3pk: 'PENDING',
      // Queued at once by the projection; the sweeper steps in only after the grace period.
      gsi3sk: `${new Date(Date.parse(record.createdAt) + NEW_DELIVERY_GRACE_MS).toISOString()}#${id}`,
      gsi2pk: `SUBSCRIPTION#${record.subscriptionId}`,
    });
    await store().recordAttempt(record.contactId, id, failedAttempt, 'failing', {
      sweepAt: '2025-03-01T10:05:01.000Z',
    });
    expect(await pendingKeys()).toMatchObject({
      gsi3pk: 'PENDING',
      gsi3sk: `2025-03-01T10:05:01.000Z#${id}`,
    });
    await store().recordAttempt(record.contactId, id, deliveredAttempt, 'delivered');
    expect(await pendingKeys()).toEqual({
      gsi3pk: undefined,
      gsi3sk: undefined,
      gsi2pk: `SUBSCRIPTION#${record.subscriptionId}`,
    });
  });

  it('recordAttempt increments attemptCount and keeps the last attempt and status', async () => {
    const id = newDeliveryId();
    const record = deliveryRecord(id);
    await store().putIfAbsent(record);

    await store().recordAttempt(record.contactId, id, failedAttempt, 'failing');
    const afterOne = await store().get(record.contactId, id);
    expect(afterOne).toStrictEqual({
      ...record,
      status: 'failing',
      attemptCount: 1,
      lastAttempt: failedAttempt,
      attempts: [failedAttempt],
    });
    expect(afterOne).not.toHaveProperty('deliveredAt');

    const timeout: DeliveryAttempt = {
      at: '2025-03-01T10:01:00.000Z',
      latencyMs: 15_000,
      error: 'timeout',
    };
    await store().recordAttempt(record.contactId, id, timeout, 'failing');
    await expect(store().get(record.contactId, id)).resolves.toStrictEqual({
      ...record,
      status: 'failing',
      attemptCount: 2,
      lastAttempt: timeout,
      attempts: [failedAttempt, timeout],
    });
  });

  it('recordAttempt with status delivered sets deliveredAt to the attempt time', async () => {
    const id = newDeliveryId();
    const record = deliveryRecord(id);
    await store().putIfAbsent(record);
    await store().recordAttempt(record.contactId, id, failedAttempt, 'failing');
    await store().recordAttempt(record.contactId, id, deliveredAttempt, 'delivered');
    await expect(store().get(record.contactId, id)).resolves.toStrictEqual({
      ...record,
      status: 'delivered',
      attemptCount: 2,
      lastAttempt: deliveredAttempt,
      attempts: [failedAttempt, deliveredAttempt],
      deliveredAt: deliveredAttempt.at,
    });
  });

  it('recordAttempt drops undefined attempt fields instead of failing', async () => {
    const id = newDeliveryId();
    const record = deliveryRecord(id);
    await store().putIfAbsent(record);
    const attempt: DeliveryAttempt = {
      at: '2025-03-01T10:00:01.000Z',
      statusCode: undefined,
      latencyMs: 3,
      error: 'ECONNREFUSED',
      responseBody: undefined,
    };
    await store().recordAttempt(record.contactId, id, attempt, 'failing');
    await expect(store().get(record.contactId, id)).resolves.toStrictEqual({
      ...record,
      status: 'failing',
      attemptCount: 1,
      lastAttempt: { at: attempt.at, latencyMs: 3, error: 'ECONNREFUSED' },
      attempts: [{ at: attempt.at, latencyMs: 3, error: 'ECONNREFUSED' }],
    });
  });

  it('concurrent recordAttempt calls are all counted', async () => {
    const id = newDeliveryId();
    const record = deliveryRecord(id);
    await store().putIfAbsent(record);
    await Promise.all(
      Array.from({ length: 10 }, () =>
        store().recordAttempt(record.contactId, id, failedAttempt, 'failing'),
      ),
    );
    const got = await store().get(record.contactId, id);
    expect(got?.attemptCount).toBe(10);
  });

  it('recordAttempt throws for a missing delivery and creates nothing', async () => {
    const id = newDeliveryId();
    await expect(
      store().recordAttempt('ct_1', id, deliveredAttempt, 'delivered'),
    ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    await expect(store().get('ct_1', id)).resolves.toBeUndefined();
  });
});
