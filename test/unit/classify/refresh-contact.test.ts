import { describe, expect, it } from 'vitest';
import { ageContacts, flagsConfigOf, isAgeingTask } from '../../../lib/classify/age-contacts.ts';
import { applyEvent } from '../../../lib/classify/apply-event.ts';
import { createClassifyHandler } from '../../../lib/classify/classify-handler.ts';
import { eraseContact } from '../../../lib/classify/erase-contact.ts';
import { refreshContact } from '../../../lib/classify/refresh-contact.ts';
import { defaultAppConfig } from '../../../lib/config/app-config.ts';
import type { LeadEvent } from '../../../lib/domain/events.ts';
import { qualificationConfigSchema } from '../../../lib/domain/qualification.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import { MemoryQueue } from '../../../lib/queue/memory-queue.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { MemoryAgeingStateStore } from '../../../lib/store/memory-stores.ts';
import { classifyFixture, erasureFixture, formEvent, subscription } from '../support/classify.ts';
import { sqsEvent } from '../support/sqs-event.ts';

const ANNA = contactIdFor('anna@example.com');

/** Outbound mails delivered to Anna, one a day from `firstDay` of March 2025. */
function deliveredMails(count: number, firstDay = 2): LeadEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    kind: 'email_delivered',
    id: `evt_sent_${i}`,
    occurredAt: `2025-03-${String(firstDay + i).padStart(2, '0')}T09:00:00.000Z`,
    email: 'anna@example.com',
    source: 'postmark',
  }));
}

describe('refreshContact: what time alone changes', () => {
  it('flags a contact stale after staleAfterDays without activity, counts it once, sends no webhook', async () => {
    const f = await classifyFixture([subscription('sub_a')]);
    await applyEvent(formEvent('evt_1'), f.deps);
    const stored = await f.contacts.get(ANNA);
    const webhooks = f.deliveryQueue.sent.length;
    expect((await f.funnel.current()).stale).toBe(0);

    f.clock.now = new Date('2025-08-27T12:00:00.000Z'); // 179 days after the form
    expect(await refreshContact(ANNA, f.deps)).toBe('unchanged');
    f.clock.now = new Date('2025-08-29T12:00:00.000Z'); // 181 days
    expect(await refreshContact(ANNA, f.deps)).toBe('refreshed');

    const refreshed = await f.contacts.get(ANNA);
    expect(refreshed).toMatchObject({
      stage: stored?.stage,
      stageChangedAt: stored?.stageChangedAt,
      sequence: stored?.sequence,
      version: (stored?.version ?? 0) + 1,
      flags: { stale: true, contactable: true },
    });
    expect(refreshed?.reasons).toContainEqual(expect.objectContaining({ code: 'stale' }));
    expect((await f.funnel.current()).stale).toBe(1);
    expect(f.deliveryQueue.sent.length).toBe(webhooks);

    // Again: nothing to do, nothing counted twice.
    expect(await refreshContact(ANNA, f.deps)).toBe('unchanged');
    expect((await f.funnel.current()).stale).toBe(1);
    expect((await f.contacts.get(ANNA))?.version).toBe(refreshed?.version);
  });

  it('clears cadenceExceeded once the touches leave the window, without touching the counters', async () => {
    const f = await classifyFixture();
    await applyEvent(formEvent('evt_1'), f.deps);
    for (const event of deliveredMails(7)) await applyEvent(event, f.deps);
    f.clock.now = new Date('2025-03-09T12:00:00.000Z');
    await applyEvent({ ...formEvent('evt_2'), occurredAt: '2025-03-09T11:00:00.000Z' }, f.deps);
    expect((await f.contacts.get(ANNA))?.flags.cadenceExceeded).toBe(true);
    const counts = await f.funnel.current();

    f.clock.now = new Date('2025-04-15T12:00:00.000Z');
    // Due once the touch of 2 March has left the 30-day window.
    expect((await f.contacts.get(ANNA))?.flagsDueAt).toBe('2025-04-01T09:00:00.001Z');
    expect((await f.contacts.listFlagsDue('2025-04-01T09:00:00.000Z')).items).toEqual([]);
    expect((await f.contacts.listFlagsDue('2025-04-15T12:00:00.000Z')).items).toEqual([ANNA]);
    expect(await refreshContact(ANNA, f.deps)).toBe('refreshed');
    // Next due: when it goes stale, 180 days after its last form.
    expect((await f.contacts.get(ANNA))?.flagsDueAt).toBe('2025-09-05T11:00:00.001Z');
    expect((await f.contacts.listFlagsDue('2025-04-15T12:00:00.000Z')).items).toEqual([]);
    const contact = await f.contacts.get(ANNA);
    expect(contact?.flags).toMatchObject({ cadenceExceeded: false, stale: false });
    expect(contact?.reasons).not.toContainEqual(
      expect.objectContaining({ code: 'cadence_exceeded' }),
    );
    expect(await f.funnel.current()).toEqual(counts);
  });

  it('keeps the stage, its reasons and the qualification of the last event when the criteria changed since; only the time flags move', async () => {
    const f = await classifyFixture();
    await applyEvent(
      formEvent('evt_1', {
        profile: { name: 'Anna Schmidt', country: 'DE' },
      } as Partial<LeadEvent>),
      f.deps,
    );
    const before = await f.contacts.get(ANNA);
    expect(before?.stage).toBe('lead');
    // Only Austria is served now: the facts would derive disqualified, which needs an event.
    const austriaOnly = {
      ...f.deps,
      config: {
        ...defaultAppConfig,
        qualification: qualificationConfigSchema.parse({ countries: ['AT'] }),
      },
    };
    f.clock.now = new Date('2026-03-01T12:00:00.000Z');
    expect(await refreshContact(ANNA, austriaOnly)).toBe('refreshed');
    const after = await f.contacts.get(ANNA);
    expect(after).toMatchObject({
      stage: 'lead',
      stageChangedAt: before?.stageChangedAt,
      sequence: before?.sequence,
      missing: before?.missing,
      qualification: before?.qualification,
      flags: { contactable: true, stale: true, cadenceExceeded: false },
    });
    expect(after?.reasons).toEqual([
      ...(before?.reasons ?? []),
      expect.objectContaining({ code: 'stale' }),
    ]);
    expect(after?.flagsDueAt).toBeUndefined();
    expect(await refreshContact(ANNA, austriaOnly)).toBe('unchanged');
  });

  it('a refresh delivered again after the count failed makes the count it owed', async () => {
    const f = await classifyFixture();
    await applyEvent(formEvent('evt_1'), f.deps);
    f.clock.now = new Date('2025-09-01T12:00:00.000Z');
    const failingOnce = {
      ...f.deps,
      // The counters as they are, but applying a count fails (a slow or conflicting write).
      funnel: new Proxy(f.funnel, {
        get(target, property) {
          if (property === 'apply') {
            return async () => {
              throw new Error('count too slow');
            };
          }
          const value = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }),
    };
    await expect(refreshContact(ANNA, failingOnce)).rejects.toThrow('count too slow');
    expect((await f.contacts.get(ANNA))?.flags.stale).toBe(true);
    expect((await f.funnel.current()).stale).toBe(0);
    // SQS delivers the message again: the contact is stale already, the count is still owed.
    expect(await refreshContact(ANNA, f.deps)).toBe('unchanged');
    expect((await f.funnel.current()).stale).toBe(1);
    expect((await f.contacts.get(ANNA))?.pendingCounts).toEqual({});
  });

  it('is not_found for an unknown or erased contact and writes nothing', async () => {
    const f = await erasureFixture();
    expect(await refreshContact(contactIdFor('nobody@example.com'), f.deps)).toBe('not_found');
    await applyEvent(formEvent('evt_1'), f.deps);
    await eraseContact(ANNA, f.eraseDeps);
    const marker = await f.contacts.getForUpdate(ANNA);
    f.clock.now = new Date('2026-03-01T12:00:00.000Z');
    expect(await refreshContact(ANNA, f.deps)).toBe('not_found');
    expect(await f.contacts.getForUpdate(ANNA)).toEqual(marker);
    expect(f.contacts.all()).toEqual([]);
  });
});

describe('ageContacts and the classify worker', () => {
  it('queues a refresh for each contact gone stale in any stage, not for active or already flagged ones', async () => {
    const f = await classifyFixture();
    await applyEvent(formEvent('evt_1'), f.deps);
    await applyEvent(
      { ...formEvent('evt_b'), email: 'bert@example.com', occurredAt: '2025-03-01T11:00:00.000Z' },
      f.deps,
    );
    await applyEvent(
      {
        kind: 'email_replied',
        id: 'evt_reply',
        occurredAt: '2025-03-01T11:30:00.000Z',
        email: 'bert@example.com',
        source: 'postmark',
        matchMethod: 'reply_token',
      },
      f.deps,
    );
    f.clock.now = new Date('2025-08-01T12:00:00.000Z');
    await applyEvent(
      { ...formEvent('evt_c'), email: 'cleo@example.com', occurredAt: '2025-08-01T11:00:00.000Z' },
      f.deps,
    );
    f.clock.now = new Date('2025-09-01T12:00:00.000Z');
    const ingestQueue = new MemoryQueue();
    const state = new MemoryAgeingStateStore();
    await state.put({ flagsConfig: flagsConfigOf(defaultAppConfig.qualification) });
    const age = () =>
      ageContacts({
        directory: f.contacts,
        ingestQueue,
        state,
        flagsConfig: flagsConfigOf(defaultAppConfig.qualification),
        now: () => f.clock.now,
        logger: silentLogger,
      });

    expect(await age()).toEqual({ queued: 2, rekey: false });
    expect(
      ingestQueue.sent
        .map((body) => JSON.parse(body))
        .sort((a, b) => (a.refresh.contactId < b.refresh.contactId ? -1 : 1)),
    ).toEqual(
      [ANNA, contactIdFor('bert@example.com')]
        .sort()
        .map((contactId) => ({ v: 1, refresh: { contactId } })),
    );
    const response = await createClassifyHandler(f.deps)(sqsEvent(ingestQueue.sent));
    expect(response.batchItemFailures).toEqual([]);
    expect((await f.funnel.current()).stale).toBe(2);
    // Flagged now: the next pass finds nobody.
    expect(await age()).toEqual({ queued: 0, rekey: false });
  });
});

describe('isAgeingTask: which schedule invoked the sweep function', () => {
  it("is the daily rule's input only, not the event EventBridge sends for the minute's sweep", () => {
    expect(isAgeingTask({ task: 'age-contacts' })).toBe(true);
    // What a scheduled rule without an input of its own delivers (AWS Lambda guide, EventBridge Scheduler examples).
    const scheduledEvent = {
      version: '0',
      id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '123456789012',
      time: '2025-03-01T12:00:00Z',
      region: 'us-east-1',
      resources: ['arn:aws:events:us-east-1:123456789012:rule/SweepSchedule'],
      detail: {},
    };
    for (const event of [scheduledEvent, undefined, null, 'age-contacts', { task: 'sweep' }, {}]) {
      expect(isAgeingTask(event)).toBe(false);
    }
  });
});
