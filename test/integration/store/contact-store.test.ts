import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { type ContactRecord, DynamoContactStore } from '../../../lib/store/contact-store.ts';
import { VersionConflictError } from '../../../lib/store/errors.ts';
import { keys } from '../../../lib/store/keys.ts';
import { dynamoBackends, useDynamoTable } from '../../support/dynamo-backends.ts';
import { contactFacts, contactRecord, outboxEntry } from './fixtures.ts';

let nextId = 0;
/** A fresh contact id per test, so tests never see each other's items. */
function newContactId(): string {
  nextId += 1;
  return `ct_test_${process.pid}_${nextId}`;
}

describe.each(dynamoBackends)('DynamoContactStore on $name', (backend) => {
  const table = useDynamoTable(backend, 'contacts');
  const store = () => new DynamoContactStore(table().doc, table().tableName);

  /** The raw item as stored, keys and all. */
  async function rawItem(contactId: string) {
    const { Item } = await table().doc.send(
      new GetCommand({
        TableName: table().tableName,
        Key: keys.contact(contactId),
        ConsistentRead: true,
      }),
    );
    return Item;
  }

  it('get resolves to undefined for a contact never committed', async () => {
    await expect(store().get(newContactId())).resolves.toBeUndefined();
  });

  it('commit with expectedVersion undefined creates the contact', async () => {
    const id = newContactId();
    const record = contactRecord(id);
    await store().commit(record, undefined);
    await expect(store().get(id)).resolves.toStrictEqual(record);
  });

  it('get returns exactly what was committed, without pk/sk/type', async () => {
    const id = newContactId();
    const record = contactRecord(id, {
      // Empty maps and lists, which DynamoDB stores as such, must come back as such.
      facts: contactFacts({ profile: {}, counts: {}, first: {}, last: {}, outboundTouches: [] }),
      missing: [],
      stage: 'lead',
      reasons: [],
      sequence: 0,
      seen: {},
      outbox: { 'dl.with.dots': outboxEntry(id, 'dl.with.dots') },
    });
    await store().commit(record, undefined);

    const got = await store().get(id);
    expect(got).toStrictEqual(record);
    expect(Object.keys(got ?? {}).sort()).toStrictEqual(Object.keys(record).sort());
    expect(got).not.toHaveProperty('pk');
    expect(got).not.toHaveProperty('sk');
    expect(got).not.toHaveProperty('type');
    // ...while the stored item does carry them.
    expect(await rawItem(id)).toMatchObject({ ...keys.contact(id), type: 'contact' });
  });

  it('a second create of the same contact conflicts and leaves the first record', async () => {
    const id = newContactId();
    const first = contactRecord(id);
    await store().commit(first, undefined);

    const second = contactRecord(id, { stage: 'prospect', updatedAt: '2025-03-02T00:00:00.000Z' });
    const error = await store()
      .commit(second, undefined)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(VersionConflictError);
    expect((error as VersionConflictError).contactId).toBe(id);
    expect((error as Error).cause).toMatchObject({ name: 'ConditionalCheckFailedException' });
    await expect(store().get(id)).resolves.toStrictEqual(first);
  });

  it('commit with the stored version succeeds', async () => {
    const id = newContactId();
    await store().commit(contactRecord(id), undefined);
    const next = contactRecord(id, {
      version: 2,
      stage: 'prospect',
      sequence: 2,
      seen: { evt_1: '2025-03-01T10:00:00.000Z', evt_2: '2025-03-02T10:00:00.000Z' },
      updatedAt: '2025-03-02T10:00:00.000Z',
    });
    await store().commit(next, 1);
    await expect(store().get(id)).resolves.toStrictEqual(next);
  });

  it('commit with a stale version throws VersionConflictError and changes nothing', async () => {
    const id = newContactId();
    await store().commit(contactRecord(id), undefined);
    const v2 = contactRecord(id, { version: 2, stage: 'prospect' });
    await store().commit(v2, 1);

    const stale = contactRecord(id, { version: 2, stage: 'disqualified', reasons: [] });
    await expect(store().commit(stale, 1)).rejects.toBeInstanceOf(VersionConflictError);
    await expect(store().get(id)).resolves.toStrictEqual(v2);
  });

  it('commit with an expected version for a missing contact conflicts and creates nothing', async () => {
    const id = newContactId();
    await expect(store().commit(contactRecord(id, { version: 2 }), 1)).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    await expect(store().get(id)).resolves.toBeUndefined();
  });

  it('of 20 concurrent commits from the same read exactly one wins', async () => {
    const id = newContactId();
    await store().commit(contactRecord(id), undefined);
    const read = await store().get(id);
    if (read === undefined) throw new Error('contact missing after create');

    const candidates = Array.from({ length: 20 }, (_, index) =>
      contactRecord(id, {
        ...read,
        version: read.version + 1,
        seen: { ...read.seen, [`evt_writer_${index}`]: '2025-03-02T10:00:00.000Z' },
      }),
    );
    const results = await Promise.allSettled(
      candidates.map((candidate) => store().commit(candidate, read.version)),
    );

    const winners = results.flatMap((result, index) =>
      result.status === 'fulfilled' ? [index] : [],
    );
    expect(winners).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(VersionConflictError);
    }
    const stored = await store().get(id);
    expect(stored).toStrictEqual(candidates[winners[0] ?? -1]);
  });

  it('of 20 concurrent creates of one contact exactly one wins', async () => {
    const id = newContactId();
    const candidates = Array.from({ length: 20 }, (_, index) =>
      contactRecord(id, { seen: { [`evt_creator_${index}`]: '2025-03-01T10:00:00.000Z' } }),
    );
    const results = await Promise.allSettled(
      candidates.map((candidate) => store().commit(candidate, undefined)),
    );
    const winners = results.flatMap((result, index) =>
      result.status === 'fulfilled' ? [index] : [],
    );
    expect(winners).toHaveLength(1);
    expect(
      results.filter((r) => r.status === 'rejected' && r.reason instanceof VersionConflictError),
    ).toHaveLength(19);
    await expect(store().get(id)).resolves.toStrictEqual(candidates[winners[0] ?? -1]);
  });

  describe('clearOutbox', () => {
    async function contactWithOutbox(deliveryIds: string[]): Promise<ContactRecord> {
      const id = newContactId();
      const outbox = Object.fromEntries(
        deliveryIds.map((deliveryId, index) => [
          deliveryId,
          outboxEntry(id, deliveryId, index + 1),
        ]),
      );
      const record = contactRecord(id, { outbox });
      await store().commit(record, undefined);
      return record;
    }

    it('removes only the named entries and leaves the rest of the record alone', async () => {
      const record = await contactWithOutbox(['dl_a', 'dl_b', 'dl_c', 'dl.d']);
      await store().clearOutbox(record.contactId, ['dl_a', 'dl.d']);

      const { dl_b, dl_c } = record.outbox;
      await expect(store().get(record.contactId)).resolves.toStrictEqual({
        ...record,
        outbox: { dl_b, dl_c },
      });
    });

    it('treats ids that are not in the outbox as a no-op', async () => {
      const record = await contactWithOutbox(['dl_a', 'dl_b']);
      await store().clearOutbox(record.contactId, ['dl_missing', 'dl_b', 'dl_also_missing']);
      const { dl_a } = record.outbox;
      await expect(store().get(record.contactId)).resolves.toStrictEqual({
        ...record,
        outbox: { dl_a },
      });

      await store().clearOutbox(record.contactId, ['dl_b']);
      await expect(store().get(record.contactId)).resolves.toStrictEqual({
        ...record,
        outbox: { dl_a },
      });
    });

    it('clears an outbox to an empty map that later commits can fill again', async () => {
      const record = await contactWithOutbox(['dl_a']);
      await store().clearOutbox(record.contactId, ['dl_a']);
      const cleared = await store().get(record.contactId);
      expect(cleared).toStrictEqual({ ...record, outbox: {} });

      const next = {
        ...record,
        version: 2,
        outbox: { dl_b: outboxEntry(record.contactId, 'dl_b') },
      };
      await store().commit(next, 1);
      await expect(store().get(record.contactId)).resolves.toStrictEqual(next);
    });

    it('does not throw, and creates nothing, for a missing contact', async () => {
      const id = newContactId();
      await expect(store().clearOutbox(id, ['dl_a'])).resolves.toBeUndefined();
      expect(await rawItem(id)).toBeUndefined();
    });

    it('is a no-op for an empty list of ids', async () => {
      const record = await contactWithOutbox(['dl_a']);
      await store().clearOutbox(record.contactId, []);
      await expect(store().get(record.contactId)).resolves.toStrictEqual(record);
    });

    // Removal is idempotent per id, so naming one twice must not turn into DynamoDB's
    // "Two document paths overlap" ValidationException (fails against the current lib/).
    it('tolerates the same id named twice', async () => {
      const record = await contactWithOutbox(['dl_a', 'dl_b']);
      await store().clearOutbox(record.contactId, ['dl_a', 'dl_a']);
      const { dl_b } = record.outbox;
      await expect(store().get(record.contactId)).resolves.toStrictEqual({
        ...record,
        outbox: { dl_b },
      });
    });
  });
});
