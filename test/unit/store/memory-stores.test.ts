import { describe, expect, it } from 'vitest';
import { MemoryQueue } from '../../../lib/queue/memory-queue.ts';
import type { ContactRecord } from '../../../lib/store/contact-store.ts';
import type { DeliveryRecord } from '../../../lib/store/delivery-store.ts';
import { isConditionalCheckFailed, VersionConflictError } from '../../../lib/store/errors.ts';
import {
  MemoryContactStore,
  MemoryDeliveryStore,
  MemorySubscriptionStore,
} from '../../../lib/store/memory-stores.ts';
import type { SubscriptionRecord } from '../../../lib/store/subscription-store.ts';
import { sampleContact, sampleMessage } from '../../support/fixtures.ts';

const message = sampleMessage({ contact: { id: 'ct_1', email: 'a@example.com' } });

function contact(version: number, outboxIds: string[] = []): ContactRecord {
  return sampleContact({ email: 'a@example.com', version, outboxIds });
}

function delivery(status: DeliveryRecord['status'] = 'pending'): DeliveryRecord {
  return {
    deliveryId: 'msg_1',
    subscriptionId: 'sub_1',
    contactId: 'ct_1',
    message,
    status,
    attemptCount: 0,
    createdAt: '2025-01-01T00:00:00.000Z',
  };
}

describe('MemoryContactStore', () => {
  it('creates when the expected version is undefined, and refuses a second create', async () => {
    const store = new MemoryContactStore();
    expect(await store.get('ct_1')).toBeUndefined();
    await store.commit(contact(1), undefined);
    expect(await store.get('ct_1')).toEqual(contact(1));
    await expect(store.commit(contact(1), undefined)).rejects.toBeInstanceOf(VersionConflictError);
  });

  it('updates only when the stored version is the expected one', async () => {
    const store = new MemoryContactStore();
    await store.commit(contact(1), undefined);
    await store.commit(contact(2), 1);
    const stale = store.commit(contact(3), 1);
    await expect(stale).rejects.toBeInstanceOf(VersionConflictError);
    await expect(stale).rejects.toMatchObject({ contactId: 'ct_1' });
    expect((await store.get('ct_1'))?.version).toBe(2);
  });

  it('refuses an update of a contact that does not exist', async () => {
    const store = new MemoryContactStore();
    await expect(store.commit(contact(2), 1)).rejects.toBeInstanceOf(VersionConflictError);
    expect(await store.get('ct_1')).toBeUndefined();
  });

  it('removes the given outbox entries and ignores missing ones and missing contacts', async () => {
    const store = new MemoryContactStore();
    await store.commit(contact(1, ['msg_a', 'msg_b', 'msg_c']), undefined);
    await store.clearOutbox('ct_1', ['msg_a', 'msg_c', 'msg_missing']);
    expect(Object.keys((await store.get('ct_1'))?.outbox ?? {})).toEqual(['msg_b']);
    await expect(store.clearOutbox('ct_unknown', ['msg_b'])).resolves.toBeUndefined();
  });

  it('copies on commit and on get, so callers cannot change stored state', async () => {
    const store = new MemoryContactStore();
    const record = contact(1);
    await store.commit(record, undefined);
    record.stage = 'prospect';
    const read = await store.get('ct_1');
    if (read === undefined) throw new Error('missing');
    read.facts.counts.form_submitted = 99;
    expect(await store.get('ct_1')).toEqual(contact(1));
  });
});

describe('MemorySubscriptionStore', () => {
  const subscription: SubscriptionRecord = {
    id: 'sub_1',
    url: 'https://crm.example.com/h',
    secret: 'whsec_x',
    enabled: true,
    createdAt: '2025-01-01T00:00:00.000Z',
  };

  it('puts, gets, lists and deletes, and reports whether a delete found something', async () => {
    const store = new MemorySubscriptionStore();
    await store.put(subscription);
    await store.put({ ...subscription, id: 'sub_2' });
    expect(await store.get('sub_1')).toEqual(subscription);
    expect((await store.list()).map((s) => s.id)).toEqual(['sub_1', 'sub_2']);
    expect(await store.delete('sub_1')).toBe(true);
    expect(await store.delete('sub_1')).toBe(false);
    expect(await store.get('sub_1')).toBeUndefined();
    expect((await store.list()).map((s) => s.id)).toEqual(['sub_2']);
  });

  it('copies on put, get and list', async () => {
    const store = new MemorySubscriptionStore();
    const record = { ...subscription };
    await store.put(record);
    record.enabled = false;
    const read = await store.get('sub_1');
    if (read) read.url = 'https://evil.example.com';
    const [listed] = await store.list();
    if (listed) listed.secret = 'whsec_y';
    expect(await store.get('sub_1')).toEqual(subscription);
  });
});

describe('MemoryDeliveryStore', () => {
  it('keeps the first delivery when the same one is put again', async () => {
    const store = new MemoryDeliveryStore();
    await store.putIfAbsent(delivery());
    await store.putIfAbsent({ ...delivery(), status: 'failing', attemptCount: 5 });
    expect(await store.get('ct_1', 'msg_1')).toEqual(delivery());
    expect(await store.get('sub_2', 'msg_1')).toBeUndefined();
  });

  it('records attempts: counts and keeps them, sets status and lastAttempt, deliveredAt when delivered', async () => {
    const store = new MemoryDeliveryStore();
    await store.putIfAbsent(delivery());
    const failed = { at: '2025-01-01T00:01:00.000Z', statusCode: 500, latencyMs: 12 };
    await store.recordAttempt('ct_1', 'msg_1', failed, 'failing');
    expect(await store.get('ct_1', 'msg_1')).toEqual({
      ...delivery(),
      status: 'failing',
      attemptCount: 1,
      lastAttempt: failed,
      attempts: [failed],
    });
    const ok = { at: '2025-01-01T00:02:00.000Z', statusCode: 204, latencyMs: 8 };
    await store.recordAttempt('ct_1', 'msg_1', ok, 'delivered');
    expect(await store.get('ct_1', 'msg_1')).toEqual({
      ...delivery(),
      status: 'delivered',
      attemptCount: 2,
      lastAttempt: ok,
      attempts: [failed, ok],
      deliveredAt: ok.at,
    });
  });

  it('throws, as the conditional update would, when the delivery is missing', async () => {
    const store = new MemoryDeliveryStore();
    const attempt = store.recordAttempt('ct_1', 'msg_1', { at: 'x', latencyMs: 0 }, 'failing');
    await expect(attempt).rejects.toSatisfy(isConditionalCheckFailed);
    expect(await store.get('ct_1', 'msg_1')).toBeUndefined();
  });

  it('copies on put, get and attempt', async () => {
    const store = new MemoryDeliveryStore();
    const record = delivery();
    await store.putIfAbsent(record);
    record.message.timestamp = 'changed by the caller';
    const read = await store.get('ct_1', 'msg_1');
    if (read) read.status = 'cancelled';
    const attempt = { at: '2025-01-01T00:01:00.000Z', latencyMs: 1 };
    await store.recordAttempt('ct_1', 'msg_1', attempt, 'failing');
    attempt.latencyMs = 999;
    const stored = await store.get('ct_1', 'msg_1');
    expect(stored?.message.timestamp).toBe('2025-03-01T12:00:00.000Z');
    expect(stored?.status).toBe('failing');
    expect(stored?.lastAttempt?.latencyMs).toBe(1);
  });
});

describe('MemoryQueue', () => {
  it('keeps sent bodies in order', async () => {
    const queue = new MemoryQueue();
    await queue.send('{"a":1}');
    await queue.send('{"b":2}');
    expect(queue.sent).toEqual(['{"a":1}', '{"b":2}']);
  });
});
