import { describe, expect, it } from 'vitest';
import { applyEvent, deliveryIdFor } from '../../../lib/classify/apply-event.ts';
import { createClassifyHandler } from '../../../lib/classify/classify-handler.ts';
import { eraseContact, REPURGE_DELAY_SECONDS } from '../../../lib/classify/erase-contact.ts';
import type { ContactStore } from '../../../lib/store/contact-store.ts';
import { VersionConflictError } from '../../../lib/store/errors.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { erasureFixture, formEvent, subscription } from '../support/classify.ts';
import { sqsEvent } from '../support/sqs-event.ts';

const contactId = contactIdFor('anna@example.com');
const ERASED_AT = '2025-03-01T12:10:00.000Z';

/** Anna as a lead (one stage change, delivered to every enabled subscription), erased at ERASED_AT. */
async function annaFixture(
  subscriptions = [subscription('sub_a'), subscription('sub_off', false)],
) {
  const f = await erasureFixture(subscriptions);
  expect(await applyEvent(formEvent('evt_1'), f.deps)).toBe('stage_changed');
  f.clock.now = new Date(ERASED_AT);
  return f;
}

type Fixture = Awaited<ReturnType<typeof annaFixture>>;

/** The erasure notices to be sent now (a disabled subscription's is kept paused; tested apart). */
const erasedNotices = (f: Fixture) =>
  f.deliveries.all().filter((d) => d.message.type === 'contact.erased' && d.status !== 'paused');

const jobs = (sent: readonly string[]) => sent.map((body) => JSON.parse(body) as unknown);

/** The contact store with `erase` replaced, for tests that make the erasure race a writer. */
function withErase(store: ContactStore, erase: ContactStore['erase']): ContactStore {
  return {
    get: (id) => store.get(id),
    getForUpdate: (id) => store.getForUpdate(id),
    commit: (record, expectedVersion) => store.commit(record, expectedVersion),
    clearOutbox: (id, deliveryIds, history) => store.clearOutbox(id, deliveryIds, history),
    purge: (id) => store.purge(id),
    erase,
  };
}

describe('eraseContact', () => {
  it('answers not_found for an unknown contact and sends nothing', async () => {
    const f = await annaFixture();
    const jobsBefore = f.deliveryQueue.sent.length;
    expect(await eraseContact(contactIdFor('nobody@example.com'), f.eraseDeps)).toBe('not_found');
    expect(f.ingestQueue.sent).toEqual([]);
    expect(f.deliveryQueue.sent).toHaveLength(jobsBefore);
    expect(await f.contacts.get(contactId)).toBeDefined();
  });

  it('replaces the contact with a marker one version up and purges its partition', async () => {
    const f = await annaFixture();
    const before = await f.contacts.get(contactId);
    expect(await eraseContact(contactId, f.eraseDeps)).toBe('erased');
    expect(await f.contacts.getForUpdate(contactId)).toEqual({
      contactId,
      erased: true,
      erasedAt: ERASED_AT,
      version: (before?.version ?? 0) + 1,
      // Kept so that a returning contact's webhooks continue the sequence (and get new ids).
      sequence: before?.sequence,
    });
    expect(await f.contacts.get(contactId)).toBeUndefined();
    expect((await f.history.timeline(contactId, { limit: 100 })).items).toEqual([]);
    expect((await f.history.stageHistory(contactId, { limit: 100 })).items).toEqual([]);
    expect(f.deliveries.all().filter((d) => d.message.type === 'contact.stage_changed')).toEqual(
      [],
    );
  });

  it('queues contact.erased for every enabled subscription with an id derived from the erasure', async () => {
    const f = await annaFixture([
      subscription('sub_a'),
      subscription('sub_off', false),
      subscription('sub_b'),
    ]);
    const jobsBefore = f.deliveryQueue.sent.length;
    await eraseContact(contactId, f.eraseDeps);
    const expectedIds = Object.fromEntries(
      ['sub_a', 'sub_b'].map((sub) => [sub, deliveryIdFor(contactId, `erased:${ERASED_AT}`, sub)]),
    );
    const notices = erasedNotices(f);
    expect(Object.fromEntries(notices.map((d) => [d.subscriptionId, d.deliveryId]))).toEqual(
      expectedIds,
    );
    for (const notice of notices) {
      expect(notice).toEqual({
        deliveryId: expectedIds[notice.subscriptionId],
        subscriptionId: notice.subscriptionId,
        contactId,
        message: {
          type: 'contact.erased',
          timestamp: ERASED_AT,
          data: { contact: { id: contactId }, erasedAt: ERASED_AT },
        },
        status: 'pending',
        attemptCount: 0,
        createdAt: ERASED_AT,
      });
    }
    expect(jobs(f.deliveryQueue.sent.slice(jobsBefore))).toEqual(
      ['sub_a', 'sub_b'].map((subscriptionId) => ({
        v: 1,
        contactId,
        subscriptionId,
        deliveryId: expectedIds[subscriptionId],
      })),
    );
    expect(jobs(f.ingestQueue.sent)).toEqual([{ v: 1, purge: { contactId } }]);
    expect(f.ingestQueue.delays).toEqual([REPURGE_DELAY_SECONDS]);
  });

  it('answers already_erased on a repeat, keeping the marker and the notice ids', async () => {
    const f = await annaFixture();
    await eraseContact(contactId, f.eraseDeps);
    const marker = await f.contacts.getForUpdate(contactId);
    const ids = erasedNotices(f).map((d) => d.deliveryId);

    f.clock.now = new Date('2025-03-02T08:00:00.000Z');
    expect(await eraseContact(contactId, f.eraseDeps)).toBe('already_erased');
    expect(await f.contacts.getForUpdate(contactId)).toEqual(marker);
    expect(erasedNotices(f).map((d) => d.deliveryId)).toEqual(ids);
    for (const notice of erasedNotices(f)) {
      expect(notice.message.data).toMatchObject({ erasedAt: ERASED_AT });
    }
    expect(f.ingestQueue.delays).toEqual([REPURGE_DELAY_SECONDS, REPURGE_DELAY_SECONDS]);
  });

  it('retries when a concurrent commit wins the race, and erases what that commit wrote', async () => {
    const f = await annaFixture();
    let raced = false;
    const contacts = withErase(f.contacts, async (marker, expectedVersion) => {
      if (!raced) {
        raced = true;
        // An event is committed between the erasure's read and its write.
        await applyEvent(
          formEvent('evt_2', { occurredAt: '2025-03-01T12:05:00.000Z', formId: 'demo' }),
          f.deps,
        );
      }
      await f.contacts.erase(marker, expectedVersion);
    });
    expect(await eraseContact(contactId, { ...f.eraseDeps, contacts })).toBe('erased');
    expect(raced).toBe(true);
    // Version 1 from evt_1, 2 from the racing evt_2, 3 the marker.
    expect(await f.contacts.getForUpdate(contactId)).toEqual({
      contactId,
      erased: true,
      erasedAt: ERASED_AT,
      version: 3,
      sequence: 1,
    });
    expect((await f.history.timeline(contactId, { limit: 100 })).items).toEqual([]);
  });

  it('gives up after repeated version conflicts', async () => {
    const f = await annaFixture();
    let attempts = 0;
    const contacts = withErase(f.contacts, async () => {
      attempts += 1;
      throw new VersionConflictError(contactId);
    });
    await expect(eraseContact(contactId, { ...f.eraseDeps, contacts })).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    expect(attempts).toBe(8);
    expect(f.ingestQueue.sent).toEqual([]);
    expect(await f.contacts.get(contactId)).toBeDefined();
  });

  it('keeps the record of a delivered notice when the erasure is repeated', async () => {
    const f = await annaFixture();
    await eraseContact(contactId, f.eraseDeps);
    const [notice] = erasedNotices(f);
    if (notice === undefined) throw new Error('no contact.erased delivery');
    await f.deliveries.recordAttempt(
      contactId,
      notice.deliveryId,
      { at: '2025-03-01T12:10:01.000Z', statusCode: 204, latencyMs: 40 },
      'delivered',
    );
    const delivered = await f.deliveries.get(contactId, notice.deliveryId);

    expect(await eraseContact(contactId, f.eraseDeps)).toBe('already_erased');
    // The repeat must not reset a delivered notice to pending (and so send it again).
    expect(await f.deliveries.get(contactId, notice.deliveryId)).toEqual(delivered);
  });

  it('keeps the pending contact.erased notices when the delayed re-purge runs', async () => {
    const f = await annaFixture();
    await eraseContact(contactId, f.eraseDeps);
    const notices = erasedNotices(f);
    expect(notices).toHaveLength(1);

    // REPURGE_DELAY_SECONDS later the ingest queue hands the purge to classify; the notice may
    // still be failing and waiting for its next attempt (the delivery queue's visibility timeout).
    f.clock.now = new Date(Date.parse(ERASED_AT) + REPURGE_DELAY_SECONDS * 1000);
    const handler = createClassifyHandler(f.deps);
    const response = await handler(sqsEvent(f.ingestQueue.sent));
    expect(response.batchItemFailures).toEqual([]);
    expect(erasedNotices(f)).toEqual(notices);
  });
});
