import { describe, expect, it } from 'vitest';
import { applyEvent, deliveryIdFor } from '../../../lib/classify/apply-event.ts';
import { contactIdOfDelivery } from '../../../lib/delivery/ids.ts';
import type { ContactRecord } from '../../../lib/store/contact-store.ts';
import { VersionConflictError } from '../../../lib/store/errors.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { classifyFixture, formEvent, subscription, withCommit } from '../support/classify.ts';

const contactId = contactIdFor('anna@example.com');

function jobs(sent: readonly string[]) {
  return sent.map((body) => JSON.parse(body) as Record<string, unknown>);
}

describe('applyEvent', () => {
  it('makes a new contact a lead, sequence 1, with one delivery per enabled subscription', async () => {
    const f = await classifyFixture([
      subscription('sub_a'),
      subscription('sub_off', false),
      subscription('sub_b'),
    ]);
    expect(await applyEvent(formEvent('evt_1'), f.deps)).toBe('stage_changed');

    const contact = await f.contacts.get(contactId);
    expect(contact).toMatchObject({
      contactId,
      email: 'anna@example.com',
      stage: 'lead',
      sequence: 1,
      version: 1,
      seen: { evt_1: '2025-03-01T12:00:00.000Z' },
      outbox: {},
    });
    expect(contact?.facts.counts).toEqual({ form_submitted: 1 });

    const expectedIds = ['sub_a', 'sub_b'].map((sub) => deliveryIdFor(contactId, 1, sub));
    const stored = f.deliveries.all();
    expect(stored.map((d) => d.deliveryId).sort()).toEqual([...expectedIds].sort());
    expect(stored.map((d) => d.subscriptionId).sort()).toEqual(['sub_a', 'sub_b']);
    for (const d of stored) {
      expect(d).toMatchObject({ contactId, status: 'pending', attemptCount: 0 });
      expect(d.message).toMatchObject({
        type: 'contact.stage_changed',
        timestamp: '2025-03-01T12:00:00.000Z',
        data: {
          contact: { id: contactId, email: 'anna@example.com', name: 'Anna Schmidt' },
          from: null,
          to: 'lead',
          sequence: 1,
          causedBy: 'evt_1',
        },
      });
    }
    expect(
      jobs(f.deliveryQueue.sent).sort((a, b) =>
        String(a.subscriptionId).localeCompare(String(b.subscriptionId)),
      ),
    ).toEqual([
      { v: 1, contactId, subscriptionId: 'sub_a', deliveryId: expectedIds[0] },
      { v: 1, contactId, subscriptionId: 'sub_b', deliveryId: expectedIds[1] },
    ]);
  });

  it('creates no delivery when no subscription is enabled', async () => {
    const f = await classifyFixture([subscription('sub_off', false)]);
    expect(await applyEvent(formEvent('evt_1'), f.deps)).toBe('stage_changed');
    expect(f.deliveries.all()).toEqual([]);
    expect(f.deliveryQueue.sent).toEqual([]);
    expect((await f.contacts.get(contactId))?.sequence).toBe(1);
  });

  it('answers duplicate for the same event again, without a new delivery or stage change', async () => {
    const f = await classifyFixture([subscription('sub_a')]);
    await applyEvent(formEvent('evt_1'), f.deps);
    const before = await f.contacts.get(contactId);
    expect(await applyEvent(formEvent('evt_1'), f.deps)).toBe('duplicate');
    expect(await f.contacts.get(contactId)).toEqual(before);
    expect(f.deliveries.all()).toHaveLength(1);
    expect(f.deliveryQueue.sent).toHaveLength(1);
  });

  it('adds no second timeline row when a client sends the event again with a later default time', async () => {
    const f = await classifyFixture([subscription('sub_a')]);
    await applyEvent(formEvent('evt_1'), f.deps);
    // POST /v1/events fills in a missing occurredAt with the time of the request.
    const resent = formEvent('evt_1', { occurredAt: '2025-03-01T12:05:00.000Z' });
    expect(await applyEvent(resent, f.deps)).toBe('duplicate');
    const page = await f.history.timeline(contactId, { limit: 10 });
    expect(page.items.map((entry) => [entry.eventId, entry.occurredAt])).toEqual([
      ['evt_1', '2025-03-01T11:59:00.000Z'],
    ]);
  });

  it('still writes the timeline row when the committed message itself comes back', async () => {
    const f = await classifyFixture([subscription('sub_a')]);
    let failTimeline = true;
    const putTimeline = f.history.putTimeline.bind(f.history);
    f.history.putTimeline = (entry) => {
      if (failTimeline) return Promise.reject(new Error('died before the timeline projection'));
      return putTimeline(entry);
    };
    await expect(applyEvent(formEvent('evt_1'), f.deps)).rejects.toThrow('died before');
    failTimeline = false;
    expect(await applyEvent(formEvent('evt_1'), f.deps)).toBe('duplicate');
    const page = await f.history.timeline(contactId, { limit: 10 });
    expect(page.items.map((entry) => entry.eventId)).toEqual(['evt_1']);
  });

  it('applies a second event of the same contact without a stage change, counting it', async () => {
    const f = await classifyFixture([subscription('sub_a')]);
    await applyEvent(formEvent('evt_1'), f.deps);
    const outcome = await applyEvent(
      formEvent('evt_2', { occurredAt: '2025-03-01T11:59:30.000Z' }),
      f.deps,
    );
    expect(outcome).toBe('applied');
    const contact = await f.contacts.get(contactId);
    expect(contact).toMatchObject({ stage: 'lead', sequence: 1, version: 2, outbox: {} });
    expect(contact?.facts.counts).toEqual({ form_submitted: 2 });
    expect(contact?.facts.lastSeenAt).toBe('2025-03-01T11:59:30.000Z');
    expect(Object.keys(contact?.seen ?? {}).sort()).toEqual(['evt_1', 'evt_2']);
    expect(f.deliveries.all()).toHaveLength(1);
    expect(f.deliveryQueue.sent).toHaveLength(1);
  });

  it('retries after a version conflict and applies the event once', async () => {
    const f = await classifyFixture([subscription('sub_a')]);
    let commits = 0;
    const realCommit = f.contacts.commit.bind(f.contacts);
    f.deps.contacts = withCommit(f.contacts, async (record, expectedVersion) => {
      commits += 1;
      if (commits === 1) throw new VersionConflictError(record.contactId);
      return realCommit(record, expectedVersion);
    });
    expect(await applyEvent(formEvent('evt_1'), f.deps)).toBe('stage_changed');
    expect(commits).toBe(2);
    const contact = await f.contacts.get(contactId);
    expect(contact).toMatchObject({ version: 1, sequence: 1 });
    expect(contact?.facts.counts).toEqual({ form_submitted: 1 });
    expect(f.deliveries.all()).toHaveLength(1);
    expect(f.deliveryQueue.sent).toHaveLength(1);
  });

  it('merges two events racing on one contact: one wins, the other retries on the new version', async () => {
    const f = await classifyFixture([subscription('sub_a')]);
    let conflicts = 0;
    f.deps.contacts = withCommit(f.contacts, (record, expectedVersion) =>
      f.contacts.commit(record, expectedVersion).catch((error: unknown) => {
        if (error instanceof VersionConflictError) conflicts += 1;
        throw error;
      }),
    );
    const outcomes = await Promise.all([
      applyEvent(formEvent('evt_1'), f.deps),
      applyEvent(formEvent('evt_2'), f.deps),
    ]);
    expect(conflicts).toBe(1);
    expect(outcomes.sort()).toEqual(['applied', 'stage_changed']);
    const contact = await f.contacts.get(contactId);
    expect(contact).toMatchObject({ version: 2, sequence: 1 });
    expect(contact?.facts.counts).toEqual({ form_submitted: 2 });
    expect(f.deliveries.all()).toHaveLength(1);
  });

  it('does not retry an error that is not a version conflict', async () => {
    const f = await classifyFixture();
    let commits = 0;
    f.deps.contacts = withCommit(f.contacts, async () => {
      commits += 1;
      throw new Error('throttled');
    });
    await expect(applyEvent(formEvent('evt_1'), f.deps)).rejects.toThrow('throttled');
    expect(commits).toBe(1);
  });

  it('repairs a crash between commit and projections on the re-run, once per subscriber', async () => {
    const f = await classifyFixture([subscription('sub_a'), subscription('sub_b')]);
    let sends = 0;
    f.deps.deliveryQueue = {
      send: async (body) => {
        sends += 1;
        if (sends === 1) throw new Error('SQS unavailable');
        await f.deliveryQueue.send(body);
      },
      sendBatch: (bodies) => f.deliveryQueue.sendBatch(bodies),
    };
    await expect(applyEvent(formEvent('evt_1'), f.deps)).rejects.toThrow('SQS unavailable');

    // Committed, but the outbox still holds both entries: nothing is lost.
    const committed = (await f.contacts.get(contactId)) as ContactRecord;
    expect(committed.seen.evt_1).toBeDefined();
    expect(Object.keys(committed.outbox)).toHaveLength(2);

    expect(await applyEvent(formEvent('evt_1'), f.deps)).toBe('duplicate');

    const expectedIds = ['sub_a', 'sub_b'].map((sub) => deliveryIdFor(contactId, 1, sub)).sort();
    const stored = f.deliveries.all();
    expect(stored.map((d) => d.deliveryId).sort()).toEqual(expectedIds);
    // Each subscriber's job reached the queue at least once; any repeat names the same delivery.
    const queued = jobs(f.deliveryQueue.sent).map((job) => job.deliveryId as string);
    expect([...new Set(queued)].sort()).toEqual(expectedIds);
    expect((await f.contacts.get(contactId))?.outbox).toEqual({});
    expect((await f.contacts.get(contactId))?.version).toBe(1);
  });
});

describe('deliveryIdFor', () => {
  it('is stable for the same inputs and differs per subscription and sequence', () => {
    const id = deliveryIdFor(contactId, 1, 'sub_a');
    // It carries the contact's id, so a delivery can be found from its id alone.
    expect(id).toMatch(new RegExp(`^msg_${contactId.slice(3)}_[0-9a-f]{12}$`));
    expect(contactIdOfDelivery(id)).toBe(contactId);
    expect(contactIdOfDelivery('msg_not_ours')).toBeUndefined();
    expect(deliveryIdFor(contactId, 1, 'sub_a')).toBe(id);
    expect(deliveryIdFor(contactId, 2, 'sub_a')).not.toBe(id);
    expect(deliveryIdFor(contactId, 1, 'sub_b')).not.toBe(id);
  });
});
