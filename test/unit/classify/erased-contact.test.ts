import { describe, expect, it } from 'vitest';
import { applyEvent, deliveryIdFor } from '../../../lib/classify/apply-event.ts';
import { createClassifyHandler } from '../../../lib/classify/classify-handler.ts';
import { eraseContact } from '../../../lib/classify/erase-contact.ts';
import {
  type LeadEvent,
  type LeadEventInput,
  leadEventSchema,
} from '../../../lib/domain/events.ts';
import type { ContactStore } from '../../../lib/store/contact-store.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { erasureFixture, formEvent, subscription } from '../support/classify.ts';
import { sqsEvent } from '../support/sqs-event.ts';

/** What happens to events about a contact after it was erased, and the re-purge of its partition. */

const EMAIL = 'anna@example.com';
const contactId = contactIdFor(EMAIL);
const ERASED_AT = '2025-03-01T12:10:00.000Z';
const BEFORE = '2025-03-01T12:05:00.000Z';
const AFTER = '2025-03-01T12:20:00.000Z';

const event = (input: Record<string, unknown>): LeadEvent =>
  leadEventSchema.parse({ email: EMAIL, source: 'test', ...input } as LeadEventInput);

/** Anna as a lead (form at 11:59, applied at 12:00), erased at ERASED_AT; the clock stays there. */
async function erasedAnna() {
  const f = await erasureFixture([subscription('sub_a'), subscription('sub_off', false)]);
  expect(await applyEvent(formEvent('evt_1'), f.deps)).toBe('stage_changed');
  const sequenceOneDelivery = deliveryIdFor(contactId, 1, 'sub_a');
  expect(f.deliveries.all().map((d) => d.deliveryId)).toEqual([sequenceOneDelivery]);
  f.clock.now = new Date(ERASED_AT);
  expect(await eraseContact(contactId, f.eraseDeps)).toBe('erased');
  const marker = await f.contacts.getForUpdate(contactId);
  return {
    ...f,
    marker,
    sequenceOneDelivery,
    snapshot: async () => ({
      item: await f.contacts.getForUpdate(contactId),
      timeline: (await f.history.timeline(contactId, { limit: 100 })).items,
      history: (await f.history.stageHistory(contactId, { limit: 100 })).items,
      deliveries: f.deliveries.all(),
      jobs: [...f.deliveryQueue.sent],
      messageIndex: await f.deps.messages.get('<m1@mail.example.com>'),
    }),
  };
}

const eventKinds: Record<string, Record<string, unknown>> = {
  form_submitted: { kind: 'form_submitted', formId: 'contact', profile: { name: 'Anna Neu' } },
  consent_given: { kind: 'consent_given', consent: { text: 'Ja', version: '1' } },
  contact_imported: { kind: 'contact_imported', profile: { company: 'Neu GmbH' } },
  email_delivered: { kind: 'email_delivered', messageId: '<m1@mail.example.com>' },
  email_opened: { kind: 'email_opened', messageId: '<m1@mail.example.com>' },
  email_clicked: { kind: 'email_clicked', url: 'https://example.com/offer' },
  email_replied: { kind: 'email_replied', matchMethod: 'sender', excerpt: 'Hallo' },
  email_bounced: { kind: 'email_bounced', bounceType: 'hard' },
  unsubscribed: { kind: 'unsubscribed' },
  resubscribed: { kind: 'resubscribed' },
  profile_updated: { kind: 'profile_updated', profile: { jobTitle: 'CEO' } },
  call_logged: { kind: 'call_logged', direction: 'inbound', reached: true },
  meeting_held: { kind: 'meeting_held' },
  site_visited: { kind: 'site_visited', url: 'https://example.com/' },
  quote_requested: { kind: 'quote_requested' },
  consent_withdrawn: { kind: 'consent_withdrawn' },
};
const FRESH_OPT_INS = ['form_submitted', 'consent_given', 'contact_imported'];

describe('applyEvent on an erased contact', () => {
  it.each(Object.keys(eventKinds))(
    'drops a %s that happened before the erasure and stores nothing',
    async (kind) => {
      const f = await erasedAnna();
      const before = await f.snapshot();
      f.clock.now = new Date(AFTER);
      expect(
        await applyEvent(
          event({ ...eventKinds[kind], id: `late_${kind}`, occurredAt: BEFORE }),
          f.deps,
        ),
      ).toBe('erased');
      expect(await f.snapshot()).toEqual(before);
      expect(before.item).toEqual(f.marker);
    },
  );

  it('drops a form submitted at the very instant of the erasure', async () => {
    const f = await erasedAnna();
    const before = await f.snapshot();
    expect(await applyEvent(formEvent('evt_same_instant', { occurredAt: ERASED_AT }), f.deps)).toBe(
      'erased',
    );
    expect(await f.snapshot()).toEqual(before);
  });

  it.each(Object.keys(eventKinds).filter((kind) => !FRESH_OPT_INS.includes(kind)))(
    'drops a %s that happened after the erasure: it is no fresh opt-in',
    async (kind) => {
      const f = await erasedAnna();
      const before = await f.snapshot();
      f.clock.now = new Date('2025-03-01T12:30:00.000Z');
      expect(
        await applyEvent(
          event({ ...eventKinds[kind], id: `new_${kind}`, occurredAt: AFTER }),
          f.deps,
        ),
      ).toBe('erased');
      expect(await f.snapshot()).toEqual(before);
    },
  );

  it('drops a retried email_opened whatever its time, while the contact stays erased', async () => {
    const f = await erasedAnna();
    f.clock.now = new Date('2025-03-02T12:00:00.000Z');
    for (const occurredAt of [BEFORE, AFTER, '2025-03-02T11:00:00.000Z']) {
      expect(
        await applyEvent(
          event({ kind: 'email_opened', id: 'evt_open', occurredAt, messageId: '<x@y>' }),
          f.deps,
        ),
      ).toBe('erased');
    }
    expect(await f.contacts.getForUpdate(contactId)).toEqual(f.marker);
  });

  it('brings the contact back as a fresh lead on a form submitted after the erasure', async () => {
    const f = await erasedAnna();
    const jobsBefore = f.deliveryQueue.sent.length;
    f.clock.now = new Date('2025-03-01T12:21:00.000Z');
    const fresh = formEvent('evt_fresh', { occurredAt: AFTER, profile: { company: 'Neu GmbH' } });
    expect(await applyEvent(fresh, f.deps)).toBe('stage_changed');

    const contact = await f.contacts.get(contactId);
    expect(contact).toMatchObject({
      contactId,
      email: EMAIL,
      stage: 'lead',
      // The sequence continues after the erased contact's, so the webhook ids are new.
      sequence: (f.marker?.sequence ?? 0) + 1,
      stageChangedAt: '2025-03-01T12:21:00.000Z',
      seen: { evt_fresh: '2025-03-01T12:21:00.000Z' },
      outbox: {},
    });
    // The version continues above the marker, so a writer holding the marker's version loses.
    expect(f.marker?.version).toBe(2);
    expect(contact?.version).toBe(3);
    // Nothing from before the erasure came back.
    expect(contact?.facts.counts).toEqual({ form_submitted: 1 });
    expect(contact?.facts.firstSeenAt).toBe(AFTER);
    expect(contact?.facts.profile).toEqual({
      company: { value: 'Neu GmbH', at: AFTER, by: 'evt_fresh' },
    });
    expect(
      (await f.history.timeline(contactId, { limit: 100 })).items.map((e) => e.eventId),
    ).toEqual(['evt_fresh']);
    expect((await f.history.stageHistory(contactId, { limit: 100 })).items).toEqual([
      expect.objectContaining({
        sequence: (f.marker?.sequence ?? 0) + 1,
        from: null,
        to: 'lead',
        direction: 'initial',
        causedBy: 'evt_fresh',
      }),
    ]);
    const stageChanges = f.deliveries
      .all()
      .filter((d) => d.message.type === 'contact.stage_changed');
    expect(stageChanges).toHaveLength(1);
    expect(stageChanges[0]?.message).toMatchObject({
      data: {
        contact: { id: contactId, email: EMAIL, company: 'Neu GmbH' },
        from: null,
        to: 'lead',
        sequence: (f.marker?.sequence ?? 0) + 1,
      },
    });
    // The name given before the erasure is not in it.
    const data = stageChanges[0]?.message.data as { contact: Record<string, unknown> } | undefined;
    expect(data?.contact).not.toHaveProperty('name');
    expect(f.deliveryQueue.sent.length).toBe(jobsBefore + 1);

    // Once back, the contact is live: events apply as usual.
    expect(
      await applyEvent(
        event({ kind: 'email_opened', id: 'evt_open', occurredAt: '2025-03-01T12:25:00.000Z' }),
        f.deps,
      ),
    ).toBe('applied');
  });

  it.each(['consent_given', 'contact_imported'])(
    'brings the contact back on a %s made after the erasure',
    async (kind) => {
      const f = await erasedAnna();
      f.clock.now = new Date('2025-03-01T12:21:00.000Z');
      expect(
        await applyEvent(
          event({ ...eventKinds[kind], id: `fresh_${kind}`, occurredAt: AFTER }),
          f.deps,
        ),
      ).toBe('stage_changed');
      const contact = await f.contacts.get(contactId);
      expect(contact).toMatchObject({
        stage: 'lead',
        sequence: (f.marker?.sequence ?? 0) + 1,
        version: 3,
      });
      expect(Object.keys(contact?.seen ?? {})).toEqual([`fresh_${kind}`]);
    },
  );

  it('gives the fresh lead webhook a new webhook id, not the one the erased contact had', async () => {
    const f = await erasedAnna();
    f.clock.now = new Date('2025-03-01T12:21:00.000Z');
    await applyEvent(formEvent('evt_fresh', { occurredAt: AFTER }), f.deps);
    const fresh = f.deliveries.all().filter((d) => d.message.type === 'contact.stage_changed');
    expect(fresh).toHaveLength(1);
    // A receiver that deduplicates on webhook-id already saw the erased contact's first change.
    expect(fresh[0]?.deliveryId).not.toBe(f.sequenceOneDelivery);
  });

  it('still drops events from before the erasure once a fresh opt-in brought the contact back', async () => {
    const f = await erasedAnna();
    f.clock.now = new Date('2025-03-01T12:21:00.000Z');
    await applyEvent(formEvent('evt_fresh', { occurredAt: AFTER, profile: {} }), f.deps);
    const back = await f.contacts.get(contactId);

    // A provider's late retry, and the original form redelivered by SQS: both predate the erasure.
    f.clock.now = new Date('2025-03-01T12:22:00.000Z');
    await applyEvent(
      event({ kind: 'email_opened', id: 'evt_old_open', occurredAt: BEFORE }),
      f.deps,
    );
    await applyEvent(formEvent('evt_1'), f.deps);

    const contact = await f.contacts.get(contactId);
    expect(contact?.facts.counts).toEqual(back?.facts.counts);
    expect(contact?.facts.profile).toEqual({});
    expect(
      (await f.history.timeline(contactId, { limit: 100 })).items.map((e) => e.eventId),
    ).toEqual(['evt_fresh']);
  });
});

describe('the purge envelope in createClassifyHandler', () => {
  const purge = JSON.stringify({ v: 1, purge: { contactId } });

  it("purges what a raced projection left in an erased contact's partition, keeping the marker", async () => {
    const f = await erasedAnna();
    // A projection that was in flight during the erasure writes after it.
    await f.history.putTimeline({
      contactId,
      eventId: 'evt_stray',
      kind: 'email_opened',
      source: 'postmark',
      occurredAt: '2025-03-01T12:09:00.000Z',
      appliedAt: '2025-03-01T12:10:01.000Z',
      details: {},
    });
    await f.history.putStageChange(
      {
        contactId,
        sequence: 2,
        from: 'lead',
        to: 'prospect',
        direction: 'forward',
        reasons: [],
        missing: [],
        flags: { contactable: true, stale: false, cadenceExceeded: false },
        at: '2025-03-01T12:10:01.000Z',
        causedBy: 'evt_stray',
      },
      { email: 'anna@example.com', summary: {} },
    );
    expect((await f.history.timeline(contactId, { limit: 100 })).items).toHaveLength(1);

    const response = await createClassifyHandler(f.deps)(sqsEvent([purge]));
    expect(response.batchItemFailures).toEqual([]);
    expect((await f.history.timeline(contactId, { limit: 100 })).items).toEqual([]);
    expect((await f.history.stageHistory(contactId, { limit: 100 })).items).toEqual([]);
    expect(await f.contacts.getForUpdate(contactId)).toEqual(f.marker);
  });

  it('purges the projections of an event committed just before the erasure', async () => {
    const f = await erasureFixture([subscription('sub_a')]);
    await applyEvent(formEvent('evt_1'), f.deps);
    f.clock.now = new Date(ERASED_AT);
    // The erasure lands between an event's commit and its projections.
    const racing: ContactStore = {
      get: (id) => f.contacts.get(id),
      getForUpdate: (id) => f.contacts.getForUpdate(id),
      clearOutbox: (id, deliveryIds, history) => f.contacts.clearOutbox(id, deliveryIds, history),
      erase: (marker, version) => f.contacts.erase(marker, version),
      purge: (id) => f.contacts.purge(id),
      commit: async (record, expectedVersion) => {
        await f.contacts.commit(record, expectedVersion);
        await eraseContact(record.contactId, f.eraseDeps);
      },
    };
    const reply = event({
      kind: 'email_replied',
      id: 'evt_reply',
      occurredAt: BEFORE,
      matchMethod: 'sender',
      excerpt: 'Ja, gerne',
    });
    expect(await applyEvent(reply, { ...f.deps, contacts: racing })).toBe('stage_changed');
    expect(
      (await f.history.timeline(contactId, { limit: 100 })).items.map((e) => e.eventId),
    ).toEqual(['evt_reply']);

    const response = await createClassifyHandler(f.deps)(sqsEvent(f.ingestQueue.sent));
    expect(response.batchItemFailures).toEqual([]);
    expect((await f.history.timeline(contactId, { limit: 100 })).items).toEqual([]);
    expect((await f.history.stageHistory(contactId, { limit: 100 })).items).toEqual([]);
    expect(f.deliveries.all().filter((d) => d.message.type === 'contact.stage_changed')).toEqual(
      [],
    );
    expect(JSON.stringify(f.deliveries.all())).not.toContain(EMAIL);
  });

  it('does nothing to a live contact', async () => {
    const f = await erasureFixture([subscription('sub_a')]);
    await applyEvent(formEvent('evt_1'), f.deps);
    await applyEvent(
      event({ kind: 'email_replied', id: 'evt_reply', occurredAt: BEFORE, matchMethod: 'sender' }),
      f.deps,
    );
    const before = {
      item: await f.contacts.getForUpdate(contactId),
      timeline: await f.history.timeline(contactId, { limit: 100 }),
      history: await f.history.stageHistory(contactId, { limit: 100 }),
      deliveries: f.deliveries.all(),
    };
    expect(before.timeline.items).toHaveLength(2);
    expect(before.history.items).toHaveLength(2);

    const response = await createClassifyHandler(f.deps)(sqsEvent([purge]));
    expect(response.batchItemFailures).toEqual([]);
    expect({
      item: await f.contacts.getForUpdate(contactId),
      timeline: await f.history.timeline(contactId, { limit: 100 }),
      history: await f.history.stageHistory(contactId, { limit: 100 }),
      deliveries: f.deliveries.all(),
    }).toEqual(before);
  });

  it('does nothing for a contact that never existed', async () => {
    const f = await erasureFixture();
    const response = await createClassifyHandler(f.deps)(sqsEvent([purge]));
    expect(response.batchItemFailures).toEqual([]);
    expect(await f.contacts.getForUpdate(contactId)).toBeUndefined();
  });

  it('does nothing to a contact that came back after its erasure', async () => {
    const f = await erasedAnna();
    f.clock.now = new Date('2025-03-01T12:21:00.000Z');
    await applyEvent(formEvent('evt_fresh', { occurredAt: AFTER }), f.deps);
    const back = await f.contacts.getForUpdate(contactId);
    const response = await createClassifyHandler(f.deps)(sqsEvent(f.ingestQueue.sent));
    expect(response.batchItemFailures).toEqual([]);
    expect(await f.contacts.getForUpdate(contactId)).toEqual(back);
    expect((await f.history.timeline(contactId, { limit: 100 })).items).toHaveLength(1);
  });

  it('reports a purge envelope with a malformed contact id as a failure', async () => {
    const f = await erasedAnna();
    const response = await createClassifyHandler(f.deps)(
      sqsEvent([JSON.stringify({ v: 1, purge: { contactId: 'ct_nope' } })]),
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
  });
});
